#!/usr/bin/env bash
# tag: rules file, built-ins, taxonomy from the tenant, --add/--remove, stats, refused rules.
source "$(dirname "$0")/lib.sh"
# quiet_status CMD… — the exit status of CMD, its output discarded
quiet_status() { set +e; "$@" >/dev/null 2>&1; local s=$?; set -e; echo "$s"; }

account init --tenant sos-expat >/dev/null 2>&1
cat > "$MAILPIPE_STATE/sos-expat/tenant.json" <<'J'
{"slug":"sos-expat","name":"SOS Expat","taxonomy":{"prestataire":["avocat","notaire"],"expatrie":["retraite-expatrie"]}}
J
cat > "$WORK/rules.yaml" <<'Y'
rules:
  - name: lawyers
    when:
      all:
        - { field: category, in: [avocat, lawyer, abogado] }
        - { verdict: [valid, risky] }
    add: avocat
  - name: retirees
    when: { field: custom.age, gte: 65 }
    add: Retraité Expatrié
Y
cat > "$WORK/in.ndjson" <<'IN'
{"tenant":"sos-expat","email":"a@x.fr","category":"lawyer","language":"fr","country":"FR","validation":{"verdict":"valid","score":90,"reasons":[]}}
{"tenant":"sos-expat","email":"b@x.es","custom":{"age":70},"language":"es","tags":["Expatrié"]}
{"tenant":"sos-expat","email":"c@x.de","category":"lawyer","validation":{"verdict":"invalid","score":0,"reasons":["syntax"]}}
IN
out=$(tag --tenant sos-expat --rules "$WORK/rules.yaml" --add "Import Nov" --stats "$WORK/stats" < "$WORK/in.ndjson")
assert_eq "$(echo "$out" | jq -c .tags | tr '\n' ' ')" '["avocat","lang-fr","country-fr","import-nov","prestataire"] ["expatrie","retraite-expatrie","lang-es","import-nov"] ["import-nov"] ' "tags"
assert_eq "$(jq -c '[.in,.out,.tagged,.rejected]' "$WORK/stats")" "[3,3,3,0]" "summary"
assert_eq "$(jq -c .tags "$WORK/stats")" '{"import-nov":3,"avocat":1,"country-fr":1,"expatrie":1,"lang-es":1,"lang-fr":1,"prestataire":1,"retraite-expatrie":1}' "per-tag counts"

# The tenant's own rules file is used when --rules is not given.
cp "$WORK/rules.yaml" "$MAILPIPE_STATE/sos-expat/tag-rules.yaml"
out=$(tag --tenant sos-expat --no-lang-tags --no-country-tags < "$WORK/in.ndjson" 2>/dev/null)
assert_eq "$(echo "$out" | sed -n 1p | jq -c .tags)" '["avocat","prestataire"]' "tenant rules file, built-ins off"

# A broken rules file: exit 2 with the file's line, before any record is read.
printf 'rules:\n  - when: { field: a, equals: 1 }\n    add: x\n  - when: { field: b, matches: 2 }\n    add: y\n' > "$WORK/bad.yaml"
status=$(run_status bash -c "tag --rules '$WORK/bad.yaml' < /dev/null >/dev/null 2>'$WORK/err'")
assert_eq "$status" 2 "bad rules exit code"
assert_contains "$(cat "$WORK/err")" "bad.yaml:4:" "bad rules line"
# Records are not even read: a pipe that never ends does not hold it up.
assert_eq "$(run_status timeout 5 bash -c "yes '{}' | tag --rules '$WORK/bad.yaml' >/dev/null 2>&1")" 2 "refused before reading"
# --add that slugs to nothing is refused.
assert_eq "$(quiet_status tag --add '!!!' < /dev/null)" 2 "empty slug"
# --threads: through a pipe, 12,000 lines (many batches) with bad lines between the records give
# the same records, rejects (with their line numbers) and counts on 1 and 3 threads; records
# come out in input order.
awk 'BEGIN { for (i = 0; i < 12000; i++) {
  if (i % 97 == 13) { print (i % 2 ? "{\"email\":" : "not json"); continue }
  d = (i % 4 == 0) ? "gnail.com" : (i % 4 == 1) ? "firm.fr" : (i % 4 == 2) ? "mailinator.com" : "x..y.fr"
  printf "{\"email\":\"c%d@%s\",\"n\":%d,\"tags\":[\"T%d\"],\"language\":\"fr\"}\n", i, d, i, i % 5 } }' > "$WORK/many.ndjson"
for t in 1 3; do
  cat "$WORK/many.ndjson" | tag --threads $t --rejects "$WORK/many-$t.rej" --stats "$WORK/many-$t.json" > "$WORK/many-$t.out" 2>/dev/null
done
assert_eq "$(md5sum < "$WORK/many-3.out")" "$(md5sum < "$WORK/many-1.out")" "threads: same records"
assert_eq "$(md5sum < "$WORK/many-3.rej")" "$(md5sum < "$WORK/many-1.rej")" "threads: same rejects"
assert_eq "$(jq -S . "$WORK/many-3.json" | md5sum)" "$(jq -S . "$WORK/many-1.json" | md5sum)" "threads: same counts"
assert_eq "$(jq .n "$WORK/many-3.out" | sort -n -c && echo sorted)" "sorted" "threads: input order"
assert_eq "$(jq -r .line "$WORK/many-3.rej" | head -3 | xargs)" "14 111 208" "threads: rejects keep their line numbers"
assert_eq "$(( $(wc -l < "$WORK/many-3.out") + $(wc -l < "$WORK/many-3.rej") ))" 12000 "threads: every line is a record or a reject"
trickle "tag --threads 3" "tag --threads 3" - '{"email":"%s"}' a1@firm.fr b2@firm.fr c3@firm.fr
done_ok

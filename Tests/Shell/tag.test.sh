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
# --threads: the same records, rejects and counts as one thread, in input order.
threads_agree tag
trickle "tag --threads 3" "tag --threads 3" - '{"email":"%s"}' a1@firm.fr b2@firm.fr c3@firm.fr
done_ok

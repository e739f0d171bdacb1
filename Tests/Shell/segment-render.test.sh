#!/usr/bin/env bash
# segment and render as built binaries in real pipes, on the samples.
source "$(dirname "$0")/lib.sh"
export MAILPIPE_UNSUB_SECRET=shell-test-secret
samples="$REPO/samples"

out=$(bash "$REPO/pipelines/campaign.sh" "$WORK/camp" 2>&1)
assert_contains "$out" "messages: 11 in" "pipeline renders the lawyers"
assert_eq "$(jq -r .template "$WORK/camp/messages.ndjson" | sort -u | tr '\n' ' ')" "ar en.avocat fr.avocat " "templates used"
assert_eq "$(jq -r 'select(.email=="tom.bounce@example.com" or .email=="nadia.unsub@example.fr") | .email' "$WORK/camp/messages.ndjson")" "" "held statuses never rendered"
assert_eq "$(zcat "$WORK/camp/segments/avocats-fr.ndjson.gz" | jq -r .language | sort -u)" "fr" "segment file content"
export MAILPIPE_STATE="$WORK/camp/state"

# Default source: the store when stdin carries nothing; stdin when it is a pipe.
n_store=$(segment --tenant sos-expat --count </dev/null 2>/dev/null)
n_pipe=$(head -n 10 "$samples/campaign/contacts.ndjson" | segment --tenant sos-expat --count --include-suppressed 2>/dev/null)
assert_eq "$n_pipe" '{"count":10}' "stdin when piped"
assert_contains "$n_store" '"count":' "store when not piped"
assert_eq "$(segment --tenant sos-expat --contacts store --count --include-suppressed 2>/dev/null)" '{"count":407}' "whole store"

# --where mistakes: exit 2, column and caret.
set +e
err=$(segment --tenant sos-expat --contacts store --where 'tags has avocat and language in (fr, es' 2>&1 >/dev/null); status=$?
set -e
assert_eq "$status" "2" "bad --where exits 2"
assert_contains "$err" "column 40" "column of the mistake"

# A closed pipe ends quietly with 0.
assert_eq "$(run_status bash -c 'segment --tenant sos-expat --contacts store 2>/dev/null | head -n 1 >/dev/null; echo ${PIPESTATUS[0]}' | head -n1)" "0" "EPIPE"

# Shards: the union is the whole.
total=$(segment --tenant sos-expat --contacts store 2>/dev/null | jq -r .email | sort | md5sum)
union=$(for i in 0 1 2; do segment --tenant sos-expat --contacts store --shard $i/3 2>/dev/null; done | jq -r .email | sort | md5sum)
assert_eq "$union" "$total" "shard union"

# --contacts stdin through a pipe on 1 and 3 threads: the same records, rejects and counts
# (a damaged line and a blank one among the sample contacts, twice over).
{ cat "$samples/campaign/contacts.ndjson"; printf '{"email":\n\n'; cat "$samples/campaign/contacts.ndjson"; } > "$WORK/twice.ndjson"
for t in 1 3; do
  cat "$WORK/twice.ndjson" | segment --tenant sos-expat --contacts stdin --any avocat,visa --threads $t \
    --rejects "$WORK/thr-$t.rej" --stats "$WORK/thr-$t.json" > "$WORK/thr-$t.out"
done
assert_eq "$(md5sum < "$WORK/thr-3.out")" "$(md5sum < "$WORK/thr-1.out")" "threads: same records"
assert_eq "$(cat "$WORK/thr-3.rej")" "$(cat "$WORK/thr-1.rej")" "threads: same rejects"
assert_eq "$(cat "$WORK/thr-3.json")" "$(cat "$WORK/thr-1.json")" "threads: same counts"
assert_eq "$(jq -r '.reject_reasons | keys | join(",")' "$WORK/thr-3.json")" "invalid_json" "threads: the damaged line is a reject"
assert_eq "$(jq -r .line "$WORK/thr-3.rej")" "$(( $(wc -l < "$samples/campaign/contacts.ndjson") + 1 ))" "threads: reject line number"
[[ $(wc -l < "$WORK/thr-3.out") -gt 10 ]] || fail "threads: too few contacts selected to compare"
for threads in 1 3; do
  trickle "segment --threads $threads" "segment --contacts stdin --include-suppressed --threads $threads" - '{"email":"%s"}' \
    trickle1@example.org trickle2@example.org trickle3@example.org
done

# render --strict: a missing variable without default rejects and exits 3.
mkdir -p "$WORK/tpl/c"
printf 'Hi {firstName}\n' > "$WORK/tpl/c/en.subject"
printf '<p>{company}</p>' > "$WORK/tpl/c/en.html"
status=$(run_status bash -c "echo '{\"tenant\":\"sos-expat\",\"email\":\"a@b.c\",\"first_name\":\"A\"}' | render --campaign c --templates '$WORK/tpl' --tenant sos-expat --strict --rejects '$WORK/rej' >/dev/null 2>&1")
assert_eq "$status" "3" "strict exit"
assert_contains "$(cat "$WORK/rej")" "missing_variable" "strict reject"
# No secret: configuration error.
status=$(run_status bash -c "echo '{\"tenant\":\"sos-expat\",\"email\":\"a@b.c\"}' | MAILPIPE_UNSUB_SECRET= render --campaign c --templates '$WORK/tpl' --tenant sos-expat >/dev/null 2>&1")
assert_eq "$status" "2" "missing secret"
done_ok

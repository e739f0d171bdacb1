#!/usr/bin/env bash
# inject mailwizz against the MailWizz double: bad auth (400), bulk with per-record errors and
# the max_input_vars trap, 201/409/422, unsubscribe, 503/5xx/mutex/lost-reply faults with slow
# replies, the journal, and the API key never appearing in any output.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
KEY="k3y-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
export MAILWIZZ_DOUBLE_KEY=$KEY
MW="$WORK/mw"
start() { bash "$SERVERS/stop-mailwizz-double.sh" "$MW" >/dev/null 2>&1 || true; URL=$(bash "$SERVERS/start-mailwizz-double.sh" "$MW" --single-opt-in "$@"); }
trap 'bash "$SERVERS/stop-mailwizz-double.sh" "$MW" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
start --seed 1
state() { curl -s "${URL%/api}/__state"; }
tenant() {
  mkdir -p "$MAILPIPE_STATE/acme"
  printf '{"slug":"acme","name":"Acme","mailwizz":{"url":"%s","list_uid":"testlist00001","api_key_env":"MW_KEY"}}\n' "$URL" \
    > "$MAILPIPE_STATE/acme/tenant.json"
}
tenant
LOGS="$WORK/logs"; mkdir -p "$LOGS"
run() { local name=$1; shift; MW_KEY=${MW_KEY_VALUE:-$KEY} inject mailwizz --tenant acme --now 2026-11-23T09:00:00Z \
  --rejects "$LOGS/$name.rej" --stats "$LOGS/$name.stats" "$@" > "$LOGS/$name.out" 2> "$LOGS/$name.err"; }
tally() { jq -r '[.outcome,(.code|tostring)]|join(" ")' "$LOGS/$1.out" | sort | uniq -c | xargs; }

# 1. Bad key: 400, every record failed with the server's text; the key is not in argv anyway.
MW_KEY_VALUE=wrong-key run badauth --campaign a0 < <(python3 "$FIX" contacts 5)
assert_eq "$(tally badauth)" "5 failed 400" "bad auth → 400 failed"
assert_contains "$(jq -r .error "$LOGS/badauth.out" | head -1)" "Invalid API key" "server text kept"

# 2. Missing env var → configuration error, exit 2.
set +e; env -u MW_KEY inject mailwizz --tenant acme --campaign a1 < /dev/null > /dev/null 2> "$LOGS/noenv.err"; s=$?; set -e
# (no input: nothing to configure; feed one record)
set +e; python3 "$FIX" contacts 1 | env -u MW_KEY inject mailwizz --tenant acme --campaign a1 > /dev/null 2> "$LOGS/noenv.err"; s=$?; set -e
assert_eq "$s" "2" "unset key variable → exit 2"
assert_contains "$(cat "$LOGS/noenv.err")" "MW_KEY" "names the variable"

# 3. Bulk: 300 contacts, 2 suppressed (one known, one not), one invalid address (422 per record),
#    batches of 100 — and a server whose max_input_vars (150) truncates each bulk body.
python3 "$FIX" contacts 300 > "$WORK/c300.ndjson"
b0=$(state | jq '.requests["list_subscribers/create_bulk"] // 0')
run first --batch 100 < "$WORK/c300.ndjson"
assert_eq "$(tally first)" "300 sent 201" "bulk: all created"
assert_eq "$(( $(state | jq '.requests["list_subscribers/create_bulk"]') - b0 ))" "3" "3 bulk calls"
uid=$(jq -r 'select(.email=="contact0000007@example.test").remote_id' "$LOGS/first.out")
assert_eq "$(state | jq -r --arg u "$uid" '.lists[]|select(.list_uid=="testlist00001")|.subscribers[]|select(.subscriber_uid==$u)|.fields.FNAME')" "Zoé7" "remote_id is the subscriber uid; UTF-8 field intact"
run again --batch 100 < "$WORK/c300.ndjson"
assert_eq "$(tally again)" "300 skipped 201" "journal: re-run skips"

start --seed 2 --max-input-vars 150; tenant
{ python3 "$FIX" contacts 120
  echo '{"tenant":"acme","email":"not-an-email@","first_name":"X"}'
  echo '{"tenant":"acme","email":"contact0000003@example.test","status":"unsubscribed"}'
  echo '{"tenant":"acme","email":"gone@example.test","status":"bounced"}'; } > "$WORK/mix.ndjson"
# Slow bulk replies: the unsubscribe of contact 3 must wait for the bulk call that creates it
# (records for one address keep their input order), else its search answers 404.
curl -s -X POST -d '{"faults":{"delay":0.4,"endpoints":["list_subscribers/create_bulk"]}}' "${URL%/api}/__control" > /dev/null
run trap --campaign t1 --batch 100 --concurrency 4 < "$WORK/mix.ndjson"
assert_eq "$(tally trap)" "1 failed 422 1 sent 200 120 sent 201 1 skipped 404" "truncated bulk replies fall back to single calls"
assert_eq "$(jq -r 'select(.email=="not-an-email@").error' "$LOGS/trap.out")" "EMAIL: Please provide a valid email address." "per-record error mapped to its contact"
assert_eq "$(state | jq -r '.lists[]|select(.list_uid=="testlist00001")|.subscribers[]|select(.email=="contact0000003@example.test").status')" "unsubscribed" "suppressed contact unsubscribed"
assert_eq "$(state | jq '[.lists[]|select(.list_uid=="testlist00001")|.subscribers[]]|length')" "120" "no duplicates created"

# 4. Single-record path (--batch 1): update of known subscribers (search → PUT 200), create (201).
run single --campaign s1 --batch 1 --concurrency 4 < <(python3 "$FIX" contacts 130 | tail -20)
assert_eq "$(tally single)" "10 sent 200 10 sent 201" "search-then-update / create"

# 5. Faults: 503, 5xx, mutex 409, lost replies and slow answers; retried until all land, once each.
start --seed 3 --p503 0.15 --p5xx 0.1 --p-mutex 0.1 --p-lost-reply 0.1 --delay 0.05; tenant
run faults --campaign f1 --batch 50 --concurrency 4 --backoff 0.02 --max-attempts 12 < "$WORK/c300.ndjson"
assert_eq "$(jq -r .outcome "$LOGS/faults.out" | sort | uniq -c | xargs)" "300 sent" "faults retried to success"
assert_eq "$(state | jq '[.lists[]|select(.list_uid=="testlist00001")|.subscribers[]]|length')" "300" "each subscriber once"
[ "$(state | jq .faults_injected)" -gt 0 ] || fail "no fault was injected"
[ "$(jq -s 'map(.attempts)|max' "$LOGS/faults.out")" -gt 1 ] || fail "no record needed a retry"

# 6. A permanently failing server: every attempt 503 → deferred after --max-attempts.
start --seed 4 --p503 1.0; tenant
run down --campaign d1 --batch 10 --backoff 0.01 --max-attempts 3 < <(python3 "$FIX" contacts 12)
assert_eq "$(tally down)" "12 deferred 503" "503 throughout → deferred"
assert_eq "$(jq -r .attempts "$LOGS/down.out" | sort -u)" "3" "3 attempts"

# 7. The key never appears in outputs, rejects, stats, logs or the journal.
if grep -r -F -- "$KEY" "$LOGS" "$MAILPIPE_STATE" >/dev/null; then fail "the API key leaked"; fi
checks=$((checks + 1))
done_ok

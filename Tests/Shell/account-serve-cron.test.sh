#!/usr/bin/env bash
# account serve and cron jobs writing one tenant's books at once. While 16 clients send 2,000
# one-click POSTs (the server appending group after group while its settler thread applies the
# groups before), `account events` imports five files of 100 unsubscribes: each waits for the
# server to give the tenant lock back, writes, and the server's next group notices it and reads
# the books again. Afterwards the books agree with themselves: `account fsck` finds nothing,
# the ledger reflects the whole log, every answered request and every imported event is in the
# log once, on the suppression list, and counted once. (TenantBooksTests checks the settler's
# event-log length deterministically; this checks the processes together.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
serve_tenant
T=sos-expat
start_serve "$WORK/serve.log" --tenant $T --client-rate 0 --no-access-log
python3 "$REPO/Tests/Shell/oneclick_client.py" --base "$BASE/unsubscribe" --tenant $T --campaign burst --count 2000 \
  --secret-env SOS_EXPAT_UNSUB_SECRET --threads 16 --out "$WORK/answers.txt" &
client_pid=$!
for k in 1 2 3 4 5; do
  for i in $(seq -w 1 100); do
    echo "{\"email\":\"cron-$k-$i@cron.mailpipe.test\",\"type\":\"unsubscribed\",\"campaign\":\"cron\",\"at\":\"2026-11-24T12:00:00Z\"}"
  done > "$WORK/cron-$k.ndjson"
  account events --tenant $T --now 2026-11-24T12:00:00Z --stats "$WORK/cron-$k.json" < "$WORK/cron-$k.ndjson" 2>>"$WORK/cron.log" \
    || fail "cron import $k failed: $(cat "$WORK/cron.log")"
  assert_eq "$(jq .new "$WORK/cron-$k.json")" "100" "cron import $k: 100 new events"
done
wait "$client_pid"
stop_serve TERM
grep -q 'warning' "$WORK/serve.log" && fail "the server warned: $(grep warning "$WORK/serve.log")"
assert_eq "$(awk '$2 == 200' "$WORK/answers.txt" | wc -l)" "2000" "every POST answered 200"

fsck_out=$(account fsck --tenant $T 2>&1) || fail "account fsck: $fsck_out"
assert_eq "$(printf '%s' "$fsck_out" | grep -c '"outcome"' || true)" "0" "fsck finds nothing"
L="$MAILPIPE_STATE/$T/ledger.json"
assert_eq "$(jq .events_length "$L")" "$(stat -c %s "$MAILPIPE_STATE/$T/events.ndjson.gz")" "the ledger reflects the whole log"
events_of unsubscribed | jq -r .email | sort > "$WORK/emails"
assert_eq "$(grep -c '@load.mailpipe.test' "$WORK/emails")" "2000" "2,000 one-click events"
assert_eq "$(grep -c '@cron.mailpipe.test' "$WORK/emails")" "500" "500 imported events"
assert_eq "$(uniq -d "$WORK/emails" | wc -l)" "0" "none twice"
assert_eq "$(jq -c '[.campaigns.burst.unsubscribed, .campaigns.cron.unsubscribed]' "$L")" "[2000,500]" "each counted once"
account suppress --tenant $T --list 2>/dev/null | jq -r .email > "$WORK/suppressed"
assert_eq "$(grep -c '@load.mailpipe.test' "$WORK/suppressed")" "2000" "every one-click address suppressed"
assert_eq "$(grep -c '@cron.mailpipe.test' "$WORK/suppressed")" "500" "every imported address suppressed"
done_ok

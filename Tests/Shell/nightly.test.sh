#!/usr/bin/env bash
# pipelines/nightly.sh under cron-like conditions (empty environment, no terminal, another
# working folder): succeeds, is safe to run twice, and fails loudly.
source "$(dirname "$0")/lib.sh"
S="$REPO/samples"
account init --tenant books-demo --config "$S/account/tenant.json" 2>/dev/null
account commit --tenant books-demo "$S/account/contacts.ndjson" 2>/dev/null
cron() { (cd / && env -i PATH=/usr/bin:/bin MAILPIPE_STATE="$MAILPIPE_STATE" MAILPIPE_BIN="$MAILPIPE_BIN" NIGHTLY_NOW=2026-11-25T02:30:00Z \
  "$REPO/pipelines/nightly.sh" "$@" < /dev/null > "$WORK/cron.log" 2>&1); }
assert_eq "$(run_status cron books-demo "$S/pmta" "$WORK/reports")" "0" "first run"
[ -s "$WORK/reports/books-demo-2026-11-25.html" ] || fail "no HTML report"
ledger1=$(cat "$MAILPIPE_STATE/books-demo/ledger.json")
events1=$(zcat "$MAILPIPE_STATE/books-demo/events.ndjson.gz" | wc -l)
assert_eq "$events1" "13" "events imported"
assert_eq "$(run_status cron books-demo "$S/pmta" "$WORK/reports")" "0" "second run"
assert_eq "$(cat "$MAILPIPE_STATE/books-demo/ledger.json")" "$ledger1" "second run changes nothing"
assert_eq "$(zcat "$MAILPIPE_STATE/books-demo/events.ndjson.gz" | wc -l)" "$events1" "no event twice"
assert_eq "$(jq -r 'select(.section=="totals") | .delivered' "$WORK/reports/books-demo-2026-11-25.ndjson")" "4" "report written"
assert_eq "$(run_status cron no-such-tenant "$S/pmta" "$WORK/reports")" "1" "failure exits non-zero"
assert_contains "$(cat "$WORK/cron.log")" "account events failed" "failure is said"
done_ok

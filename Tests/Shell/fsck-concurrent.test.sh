#!/usr/bin/env bash
# `account fsck` beside a running `account events` (issue 14): fsck reads the event log, the
# suppression list and the ledger under the tenant lock (shared), so a writer's append and its
# ledger save never fall between its reads. Without the lock, an import caught between them shows
# as "events the ledger does not reflect (an interrupted run)" or "shorter than the ledger says"
# — a false damage report. Imports of hard bounces (the list grows too) run back to back while
# fsck loops; every fsck must exit 0 with no finding. Bounded by the number of imports, not by
# time. (Without the lock, every fsck here reported damage: 9 of 9.)
source "$(dirname "$0")/lib.sh"
T=busy
NOW=2026-11-25T12:00:00Z
# A long event log: fsck's reads of the log (every append's checksum, every event) take a while
# between its look at the log's length and its read of the ledger — the window a writer's append
# and ledger save fall into when fsck takes no lock.
busy_books $T $NOW
imports=20
for n in $(seq 1 $imports); do
  awk -v n="$n" 'BEGIN { for (i = 0; i < 50; i++) { e = (n * 50 + i) % 2000
    printf "{\"email\":\"c%04d@busy.example\",\"type\":\"sent\",\"vmta\":\"v1\",\"campaign\":\"c%d\",\"at\":\"2026-11-24T10:00:00Z\"}\n", e, n
    if (i % 5 == 0) printf "{\"email\":\"c%04d@busy.example\",\"type\":\"bounced\",\"bounce_class\":\"hard\",\"vmta\":\"v1\",\"campaign\":\"c%d\",\"at\":\"2026-11-24T11:00:00Z\"}\n", e, n } }' \
    > "$WORK/events-$n.ndjson"
done
assert_eq "$(run_capture timeout 60 account fsck --tenant $T)" "0" "fsck before the imports: sound"

fsck_is_quiet() {
  local s
  s=$(run_capture timeout 60 account fsck --tenant $T)
  [ "$s" = 0 ] && [ ! -s "$WORK/stdout" ] && return 0
  echo "fsck run $1 during the imports: exit $s: $(head -c 400 "$WORK/stdout") $(head -c 300 "$WORK/stderr")" >&2
  return 1
}
while_importing $T $NOW $imports fsck_is_quiet
echo "fsck ran $runs times during $imports imports"
assert_eq "$false_reports" "0" "no fsck during the imports reports damage"
assert_eq "$(run_capture timeout 60 account fsck --tenant $T)" "0" "fsck after the imports: sound"
assert_eq "$(jq '[.campaigns[].bounced_hard] | add' "$MAILPIPE_STATE/$T/ledger.json")" "$((imports * 10))" "every import counted once"
done_ok

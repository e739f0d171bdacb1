#!/usr/bin/env bash
# `account health` (and so /metrics) beside a running `account events`: health reads the books
# without a lock and calls a torn events tail damage (exit 1, nothing on standard output). An
# append landing between its look at the log's size and its scan of the sealed part must not
# pass for one: the size is read first. Imports run back to back while health loops; no run may
# call the books damaged. Bounded by the number of imports, not by time. (With the other order,
# one of three runs of this test on a loaded 2-core machine had a health run call the books torn:
# a race, so a regression may pass unseen, but the test never fails on sound code.)
source "$(dirname "$0")/lib.sh"
T=busy
NOW=2026-11-25T12:00:00Z
# A long event log: the scan of its sealed part takes a while, the window an append falls into.
busy_books $T $NOW
imports=20
for n in $(seq 1 $imports); do
  awk -v n="$n" 'BEGIN { for (i = 0; i < 50; i++) printf "{\"email\":\"c%04d@busy.example\",\"type\":\"sent\",\"campaign\":\"c%d\",\"at\":\"2026-11-24T10:00:00Z\"}\n", (n * 50 + i) % 2000, n }' \
    > "$WORK/events-$n.ndjson"
done
health_sees_books() {
  local s
  s=$(run_capture timeout 60 account health --tenant $T --now $NOW --json)
  # Exit 1 is also the warn level (this tenant has no validation verdicts): damage is the one
  # that prints nothing on standard output.
  [ -s "$WORK/stdout" ] && ! grep -q "torn\|damaged\|fsck" "$WORK/stderr" && return 0
  echo "health run $1 during the imports: exit $s: $(head -c 300 "$WORK/stderr")" >&2
  return 1
}
while_importing $T $NOW $imports health_sees_books
echo "health ran $runs times during $imports imports"
assert_eq "$false_reports" "0" "no health run during the imports calls the books damaged"
run_capture account health --tenant $T --now $NOW --json > /dev/null
assert_eq "$(jq .window.sends "$WORK/stdout")" "$((imports * 50))" "health after the imports: every send counted"
done_ok

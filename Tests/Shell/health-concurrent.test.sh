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
account init --tenant $T 2>/dev/null
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "{\"email\":\"c%04d@busy.example\",\"status\":\"validated\"}\n", i }' \
  | account commit --tenant $T --now $NOW 2>/dev/null
# A long event log: the scan of its sealed part takes a while, the window an append falls into.
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "{\"email\":\"c%04d@busy.example\",\"type\":\"opened\",\"campaign\":\"old\",\"at\":\"2026-11-%02dT%02d:%02d:%02dZ\"}\n", i % 2000, 1 + int(i / 86400), int(i / 3600) % 24, int(i / 60) % 60, i % 60 }' \
  | account events --tenant $T --now $NOW 2>/dev/null
imports=20
for n in $(seq 1 $imports); do
  awk -v n="$n" 'BEGIN { for (i = 0; i < 50; i++) printf "{\"email\":\"c%04d@busy.example\",\"type\":\"sent\",\"campaign\":\"c%d\",\"at\":\"2026-11-24T10:00:00Z\"}\n", (n * 50 + i) % 2000, n }' \
    > "$WORK/events-$n.ndjson"
done
( for n in $(seq 1 $imports); do
    timeout 60 account events --tenant $T --now $NOW "$WORK/events-$n.ndjson" 2>/dev/null || { echo "import $n failed" > "$WORK/writer-failed"; exit 1; }
  done; touch "$WORK/writer-done" ) &
writer=$!
runs=0
false_reports=0
while :; do
  finished=0; [ ! -e "$WORK/writer-done" ] && [ ! -e "$WORK/writer-failed" ] || finished=1
  s=$(run_capture timeout 60 account health --tenant $T --now $NOW --json)
  runs=$((runs + 1))
  # Exit 1 is also the warn level (this tenant has no validation verdicts): damage is the one
  # that prints nothing on standard output.
  if [ ! -s "$WORK/stdout" ] || grep -q "torn\|damaged\|fsck" "$WORK/stderr"; then
    false_reports=$((false_reports + 1))
    echo "health run $runs during the imports: exit $s: $(head -c 300 "$WORK/stderr")" >&2
  fi
  [ "$finished" = 0 ] || break
done
wait "$writer" || true
[ ! -e "$WORK/writer-failed" ] || fail "$(cat "$WORK/writer-failed")"
echo "health ran $runs times during $imports imports"
assert_eq "$false_reports" "0" "no health run during the imports calls the books damaged"
run_capture account health --tenant $T --now $NOW --json > /dev/null
assert_eq "$(jq .window.sends "$WORK/stdout")" "$((imports * 50))" "health after the imports: every send counted"
done_ok

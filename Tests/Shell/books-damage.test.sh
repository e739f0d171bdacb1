#!/usr/bin/env bash
# The books after damage (issue 14, items 3-5): the event log is the suppression list's source
# of truth. A torn, short or lost suppression list is rebuilt from it; after a torn event log the
# list is still loaded and the ledger recounted (a re-import counts its events once); a reader
# that finds events the ledger does not reflect (an interrupted `account events`) applies them,
# so no bounced address is selected; `account fsck` reports and repairs the books. Every command
# runs under `timeout`: none may hang.
source "$(dirname "$0")/lib.sh"
T=books
NOW=2026-11-25T12:00:00Z
D="$MAILPIPE_STATE/$T"
t() { timeout 120 "$@"; }
t account init --tenant $T 2>/dev/null
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "{\"email\":\"c%04d@books.example\",\"status\":\"validated\"}\n", i }' \
  | t account commit --tenant $T 2>/dev/null
# Hard bounces for every tenth contact (c0000, c0010, …), the rest delivered; two imports (two
# appends), so a torn events tail loses only the second.
pmta() { awk -v from="$1" -v to="$2" 'BEGIN { print "type,timeLogged,rcpt,bounceCat,dsnStatus,vmta,jobId"
  for (i = from; i < to; i++) { t = sprintf("2026-11-24 %02d:%02d:%02d+0000", int(i / 3600) % 24, int(i / 60) % 60, i % 60)
    if (i % 10 == 0) printf "b,%s,c%04d@books.example,bad-mailbox,5.1.1 (x),v1,camp\n", t, i
    else printf "d,%s,c%04d@books.example,,2.0.0,v1,camp\n", t, i } }'; }
pmta 0 1500 > "$WORK/a.csv"; pmta 1500 3000 > "$WORK/b.csv"
t account events --tenant $T --now $NOW --pmta "$WORK/a.csv" 2>/dev/null
cp -a "$D" "$WORK/after-a"
t account events --tenant $T --now $NOW --pmta "$WORK/b.csv" 2>/dev/null
cp -a "$D" "$WORK/good"
listed() { t account suppress --tenant $T --list 2>/dev/null | jq -r .email | sort; }
# Bounced contacts (every tenth) that segment selects. A segment that stops must name the repair.
selected_bounced() {
  set +e; t segment --tenant $T --contacts store > "$WORK/seg.out" 2> "$WORK/seg.err"; local s=$?; set -e
  if [ "$s" != 0 ]; then grep -q "account fsck --tenant $T --repair" "$WORK/seg.err" || fail "segment failed (exit $s) without naming the repair: $(head -c 400 "$WORK/seg.err")"; fi
  jq -r .email "$WORK/seg.out" | awk -F'[c@]' '$2 % 10 == 0' | sort
}
hard() { jq '.campaigns.camp.bounced_hard // 0' "$D/ledger.json"; }
reset() { rm -rf "$D"; cp -a "$WORK/good" "$D"; }
listed > "$WORK/good.list"
assert_eq "$(wc -l < "$WORK/good.list")" "300" "300 hard bounces on the list"
assert_eq "$(hard)" "300" "the ledger counts 300 hard bounces"
assert_eq "$(selected_bounced | wc -l)" "0" "segment selects no bounced contact"
assert_eq "$(run_capture t account fsck --tenant $T)" "0" "fsck: sound books"

# Item 3: a torn suppression tail, cut at several byte offsets of its last append.
size=$(stat -c %s "$D/suppression.ndjson.gz")
for cut in 1 10 43 200 $((size / 2)) $((size - 1)); do
  reset
  truncate -s -$cut "$D/suppression.ndjson.gz"
  # A reader first, before any writer repairs it.
  assert_eq "$(selected_bounced | wc -l)" "0" "list cut by $cut: segment selects no bounced contact"
  assert_eq "$(listed | md5sum)" "$(md5sum < "$WORK/good.list")" "list cut by $cut: rebuilt from the events"
  t account events --tenant $T --now $NOW --pmta "$WORK/b.csv" 2>/dev/null
  assert_eq "$(listed | wc -l)" "300" "list cut by $cut: a re-import keeps the list whole"
  assert_eq "$(hard)" "300" "list cut by $cut: the re-import counts nothing twice"
done
reset; rm "$D/suppression.ndjson.gz"
assert_eq "$(selected_bounced | wc -l)" "0" "list deleted: segment selects no bounced contact"
assert_eq "$(listed | md5sum)" "$(md5sum < "$WORK/good.list")" "list deleted: rebuilt from the events"

# fsck reports a short list (exit 1), repairs it (exit 0), and is then clean.
reset; truncate -s -10 "$D/suppression.ndjson.gz"
assert_eq "$(run_capture t account fsck --tenant $T)" "1" "fsck: a short list is a finding"
assert_contains "$(jq -r 'select(.file | endswith("suppression.ndjson.gz")) | .outcome' "$WORK/stdout" | sort -u | tr '\n' ' ')" "repairable" "fsck names the list"
assert_eq "$(run_capture t account fsck --tenant $T --repair)" "0" "fsck --repair"
assert_eq "$(run_capture t account fsck --tenant $T)" "0" "fsck: clean after the repair"
assert_eq "$(zcat "$D/suppression.ndjson.gz" | jq -r .email | sort | md5sum)" "$(md5sum < "$WORK/good.list")" "fsck --repair rebuilt the file"

# A damaged earlier seal of the list (the start offset in the first append's seal; the last seal
# is sound): the appends can no longer be found. Readers and writers stop naming the repair (was:
# "seal … points forward", no way out, and inject rejected every record as an unknown tenant);
# fsck calls it repairable, and --repair moves it to lost+found/ and rebuilds it from the events.
reset
first=$(stat -c %s "$WORK/after-a/suppression.ndjson.gz")
printf '\xff' | dd of="$D/suppression.ndjson.gz" bs=1 seek=$((first - 42 + 16 + 3)) conv=notrunc 2>/dev/null
assert_eq "$(run_capture t segment --tenant $T --contacts store)" "1" "damaged list seal: segment stops"
assert_contains "$(cat "$WORK/stderr")" "suppression.ndjson.gz: damaged appends" "damaged list seal: segment names the file"
assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant $T --repair" "damaged list seal: segment names the repair"
assert_eq "$(run_capture t account events --tenant $T --now $NOW --pmta "$WORK/b.csv")" "1" "damaged list seal: a writer stops"
assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant $T --repair" "damaged list seal: the writer names the repair"
assert_eq "$(run_capture t account fsck --tenant $T)" "1" "damaged list seal: fsck finds it"
assert_eq "$(jq -r 'select(.file | endswith("suppression.ndjson.gz")) | .outcome' "$WORK/stdout")" "repairable" "damaged list seal: repairable"
assert_eq "$(run_capture t account fsck --tenant $T --repair)" "0" "damaged list seal: fsck --repair"
assert_eq "$(listed | md5sum)" "$(md5sum < "$WORK/good.list")" "damaged list seal: rebuilt from the events"
assert_eq "$(selected_bounced | wc -l)" "0" "damaged list seal: segment selects no bounced contact"
assert_eq "$(ls "$D/lost+found")" "suppression.ndjson.gz" "damaged list seal: the damaged file kept in lost+found/"

# Item 4: a torn events tail (the second import's append partly gone).
for cut in 1 42 500; do
  reset
  truncate -s -$cut "$D/events.ndjson.gz"
  assert_eq "$(listed | wc -l)" "300" "events cut by $cut: the list is loaded (entries of lost events stay)"
  t account suppress --tenant $T --now $NOW --add c0010@books.example --reason test 2>"$WORK/err" >/dev/null
  assert_contains "$(cat "$WORK/err")" "1 already" "events cut by $cut: --add sees the entry"
  assert_eq "$(hard)" "150" "events cut by $cut: the ledger counts the events that remain"
  t account events --tenant $T --now $NOW --pmta "$WORK/b.csv" 2>/dev/null
  assert_eq "$(hard)" "300" "events cut by $cut: a re-import counts the lost events once"
  assert_eq "$(listed | wc -l)" "300" "events cut by $cut: the list after the re-import"
done
# … and --remove finds an entry whose event was cut off (the list is loaded: not "absent").
reset
truncate -s -42 "$D/events.ndjson.gz"
t account suppress --tenant $T --now $NOW --remove c1510@books.example 2>"$WORK/err" >/dev/null
assert_contains "$(cat "$WORK/err")" "1 removed, 0 absent" "events cut: --remove finds the entry of a lost event"
# A bit flipped inside the first append: fsck says the events are lost (restore), exit 1.
reset
printf '\xff' | dd of="$D/events.ndjson.gz" bs=1 seek=200 conv=notrunc 2>/dev/null
assert_eq "$(run_capture t account fsck --tenant $T)" "1" "fsck: a damaged append is a finding"
assert_contains "$(jq -r 'select(.file | endswith("events.ndjson.gz")) | .outcome' "$WORK/stdout" | tr '\n' ' ')" "lost" "fsck: damaged events are lost"
assert_eq "$(selected_bounced | wc -l)" "0" "damaged events: segment still selects no bounced contact"

# The ledger lost, then unreadable: recounted from the events; readers never mail the bounced.
reset; rm "$D/ledger.json"
assert_eq "$(selected_bounced | wc -l)" "0" "ledger deleted: segment selects no bounced contact"
assert_eq "$(listed | wc -l)" "300" "ledger deleted: the list"
t account events --tenant $T --now $NOW < /dev/null 2>/dev/null  # the next writer
assert_eq "$(hard)" "300" "ledger deleted: recounted from the events"
reset; echo '{"events_length":' > "$D/ledger.json"
assert_eq "$(selected_bounced | wc -l)" "0" "ledger unreadable: segment selects no bounced contact"
assert_eq "$(run_capture t account events --tenant $T --now $NOW < /dev/null)" "1" "ledger unreadable: a writer stops"
assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant $T --repair" "ledger unreadable: the way out is named"
assert_eq "$(run_capture t account suppress --tenant $T --list)" "1" "ledger unreadable: --list stops"
assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant $T --repair" "ledger unreadable: --list names the way out"
assert_eq "$(run_capture t account fsck --tenant $T --repair)" "0" "ledger unreadable: fsck --repair"
assert_eq "$(hard)" "300" "ledger unreadable: recounted by fsck --repair"
[ -n "$(ls "$D/lost+found/" 2>/dev/null)" ] || fail "the unreadable ledger is kept in lost+found/"

# Item 5: a reader between the events append (the commit point) and its effects. First built
# exactly: the second import's events logged, the list, contacts and ledger from before it.
rm -rf "$D"; cp -a "$WORK/after-a" "$D"; cp "$WORK/good/events.ndjson.gz" "$D/"
assert_eq "$(selected_bounced | wc -l)" "0" "events ahead of the ledger: segment selects no bounced contact"
t account events --tenant $T --now $NOW < /dev/null 2>/dev/null
assert_eq "$(listed | md5sum)" "$(md5sum < "$WORK/good.list")" "events ahead: the next writer applies them"
# Then SIGKILL at moments spread over an import: what a reader selects before the next writer
# opens never holds an address that writer ends up suppressing.
rm -rf "$D"; cp -a "$WORK/after-a" "$D"
start=$(date +%s%N)
t account events --tenant $T --now $NOW --pmta "$WORK/b.csv" 2>/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
for round in 1 2 3 4 5 6 7 8; do
  rm -rf "$D"; cp -a "$WORK/after-a" "$D"
  delay_ms=$(( (RANDOM * 7919 + round * 104729) % (ms + 1) ))
  account events --tenant $T --now $NOW --pmta "$WORK/b.csv" 2>/dev/null &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  selected_bounced > "$WORK/selected"
  t account events --tenant $T --now $NOW < /dev/null 2>/dev/null || fail "round $round: the books do not open after the kill"
  leaked=$(listed | comm -12 - "$WORK/selected" | wc -l)
  assert_eq "$leaked" "0" "round $round (kill at ${delay_ms} of ${ms} ms): addresses selected that the books suppress"
done
done_ok

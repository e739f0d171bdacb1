#!/usr/bin/env bash
# Crash safety of account events: SIGKILL at random moments during an import, and right after
# each phase of its commit (the phase marks of MAILPIPE_TIMING=1); the next open (which finishes
# or discards the interrupted run) must show the state from before the import or the state after
# it — contacts, events, suppression and ledger — and nothing in between; once the events are
# logged (the commit point), the state after it. The tenant has no ledger yet: its first import.
source "$(dirname "$0")/lib.sh"
T=crash
NOW=2026-11-25T12:00:00Z
account init --tenant $T 2>/dev/null
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "{\"email\":\"c%05d@crash.example\",\"status\":\"validated\",\"language\":\"fr\"}\n", i }' \
  | account commit --tenant $T 2>/dev/null
awk 'BEGIN { print "type,timeLogged,rcpt,bounceCat,dsnStatus,vmta,jobId"
  for (i = 0; i < 150000; i++) {
    c = i % 25000; t = sprintf("2026-11-24 %02d:%02d:%02d+0000", int(i / 3600) % 24, int(i / 60) % 60, i % 60)
    if (i % 50 == 7) printf "b,%s,c%05d@crash.example,bad-mailbox,5.1.1 (x),v1,camp\n", t, c
    else if (i % 50 == 9) printf "b,%s,c%05d@crash.example,quota-issues,4.2.2 (x),v1,camp\n", t, c
    else if (i % 97 == 3) printf "f,%s,c%05d@crash.example,,,v1,camp\n", t, c
    else printf "d,%s,c%05d@crash.example,,2.0.0,v1,camp\n", t, c } }' > "$WORK/acct.csv"
D="$MAILPIPE_STATE/$T"
snapshot() {
  { account export --tenant $T 2>/dev/null | md5sum
    (zcat "$D/events.ndjson.gz" 2>/dev/null || true) | md5sum
    (zcat "$D/suppression.ndjson.gz" 2>/dev/null || true) | md5sum
    (jq -S . "$D/ledger.json" 2>/dev/null || true) | md5sum; } | tr -d ' \n-'
}
reopen() { account events --tenant $T --now $NOW < /dev/null 2>>"$WORK/reopen.log"; }
cp -a "$D" "$WORK/before"
reopen; before=$(snapshot)
start=$(date +%s%N)
account events --tenant $T --now $NOW --pmta "$WORK/acct.csv" 2>/dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
after=$(snapshot)
[ "$before" != "$after" ] || fail "the import changed nothing"
saw_recovery=0
for round in $(seq 1 12); do
  rm -rf "$D"; cp -a "$WORK/before" "$D"
  delay=$(random_delay "$round" "$(awk -v ms="$ms" 'BEGIN { print ms / 1000 }')")
  kill_after "$delay" account events --tenant $T --now $NOW --pmta "$WORK/acct.csv" 2>/dev/null
  : > "$WORK/reopen.log"
  reopen || fail "round $round: the state does not open after a kill at ${delay} s"
  grep -q "applying" "$WORK/reopen.log" && saw_recovery=$((saw_recovery + 1))
  before_or_after "$(snapshot)" "$before" "$after" "round $round: killed at ${delay} s of ${ms} ms, the tenant"
  # Importing again after the crash converges on the same final state.
  account events --tenant $T --now $NOW --pmta "$WORK/acct.csv" 2>/dev/null
  assert_eq "$(snapshot)" "$after" "round $round: re-import after the crash"
done
# Killed right after a phase mark: the run may get a little further before the signal lands,
# but from "append events" (the commit point) on, the next open must finish the import.
commit_point=0
for phase in "dedupe + serialise" "append events" "apply: counters" "apply: suppression" "apply: contacts" "apply: id index"; do
  [ "$phase" = "append events" ] && commit_point=1
  rm -rf "$D"; cp -a "$WORK/before" "$D"
  coproc IMPORT { MAILPIPE_TIMING=1 exec account events --tenant $T --now $NOW --pmta "$WORK/acct.csv" 2>&1 >/dev/null; }
  pid=$IMPORT_PID
  killed=0
  while IFS= read -r line <&"${IMPORT[0]}"; do
    case "$line" in "timing: $phase "*) kill -9 "$pid"; killed=1; break;; esac
  done
  wait "$pid" 2>/dev/null || true
  [ $killed = 1 ] || fail "account events printed no timing mark '$phase' (MAILPIPE_TIMING=1)"
  reopen || fail "after '$phase': the state does not open"
  now=$(snapshot)
  if [ $commit_point = 1 ]; then assert_eq "$now" "$after" "killed after '$phase' (events logged): the next open finishes the import"
  elif [ "$now" != "$before" ] && [ "$now" != "$after" ]; then fail "killed after '$phase': state is neither before nor after"; fi
  account events --tenant $T --now $NOW --pmta "$WORK/acct.csv" 2>/dev/null
  assert_eq "$(snapshot)" "$after" "killed after '$phase': re-import after the crash"
done
echo "crash rounds: $landed_before before, $landed_after after ($saw_recovery finished by recovery); import takes ${ms} ms"
done_ok

# Sourced by every shell test: the built binaries on PATH, a scratch folder, small assertions.
set -euo pipefail
: "${MAILPIPE_BIN:?run through scripts/test, or set MAILPIPE_BIN to the build folder}"
export PATH="$MAILPIPE_BIN:$PATH"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
export MAILPIPE_STATE="$WORK/state"
trap 'rm -rf "$WORK"' EXIT
checks=0

fail() { echo "FAIL: $*" >&2; exit 1; }
# skip REASON — the test cannot run here: says why and exits 77, which scripts/test counts as
# skipped (never as passed).
skip() { echo "SKIP: $*"; exit 77; }
# assert_eq ACTUAL EXPECTED MESSAGE
assert_eq() { checks=$((checks + 1)); [ "$1" = "$2" ] || fail "$3: expected [$2], got [$1]"; }
# assert_contains HAYSTACK NEEDLE MESSAGE
assert_contains() { checks=$((checks + 1)); case "$1" in *"$2"*) ;; *) fail "$3: [$2] not in [$1]";; esac; }
# share_executables — copies the eight executables into $WORK/bin, readable by every user, and
# puts it first on PATH: a test running a command as another user (setpriv) cannot reach the build
# folder when the clone sits under a private folder (mktemp -d makes it 0700).
share_executables() {
  mkdir -p "$WORK/bin"
  local tool
  for tool in ingest dedupe validate tag segment render inject account; do cp "$MAILPIPE_BIN/$tool" "$WORK/bin/"; done
  chmod 755 "$WORK/bin" "$WORK/bin"/*
  export PATH="$WORK/bin:$PATH"
}
# run_status CMD... — the exit status of a command, without set -e stopping the test
run_status() { set +e; "$@"; local s=$?; set -e; echo "$s"; }
# run_capture CMD... — the exit status of a command; its standard output goes to $WORK/stdout,
# its standard error to $WORK/stderr
run_capture() { set +e; "$@" > "$WORK/stdout" 2> "$WORK/stderr"; local s=$?; set -e; echo "$s"; }
# random_delay SEED MAX — a delay in [0, MAX) seconds drawn from SEED (a round repeats).
random_delay() { python3 -c "import random; random.seed($1); print(f'{random.uniform(0, $2):.3f}')"; }
# kill_after SECONDS CMD... — runs CMD in the background and kills it with SIGKILL after SECONDS
# if it still runs (a crash at that moment); returns once it has ended.
kill_after() {
  local delay=$1 pid
  shift
  "$@" & pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# before_or_after GOT BEFORE AFTER WHAT — the state after a killed write is exactly the state
# before it or after it, never in between: counted in landed_before and landed_after.
landed_before=0
landed_after=0
before_or_after() {
  checks=$((checks + 1))
  if [ "$1" = "$2" ]; then landed_before=$((landed_before + 1))
  elif [ "$1" = "$3" ]; then landed_after=$((landed_after + 1))
  else fail "$4 is neither the state before nor after the write"; fi
}
# trickle NAME COMMAND HEADER|- ROW-FORMAT EMAIL... — writes the rows to COMMAND one at a time,
# each must come out before the next is written (a batching reader never waits for a batch to
# fill, and output is sent before a read from an idle pipe).
trickle() {
  local name=$1 command=$2 header=$3 format=$4 email got
  shift 4
  coproc T { eval "$command" 2>/dev/null; }
  [ "$header" = - ] || echo "$header" >&"${T[1]}"
  for email in "$@"; do
    printf "$format\n" "$email" >&"${T[1]}"
    got=""
    IFS= read -r -t 10 got <&"${T[0]}" || true
    assert_contains "$got" "$email" "$name: $email comes out while the pipe is still open"
  done
  exec {T[1]}>&-
  wait "$T_PID"
}
# books_demo TENANT — the books of samples/account (samples/account/README.md walks through
# them): its contacts, outcomes recorded on 2026-11-23, two days of PowerMTA accounting, MailWizz
# webhooks and event NDJSON.
books_demo() {
  local t=$1 s="$REPO/samples"
  account init --tenant "$t" --config "$s/account/tenant.json" 2>/dev/null
  account commit --tenant "$t" "$s/account/contacts.ndjson" 2>/dev/null
  account record --tenant "$t" --now 2026-11-23T10:00:00Z "$s/account/outcomes.ndjson" 2>/dev/null
  account events --tenant "$t" --now 2026-11-23T12:00:00Z --pmta "$s/pmta/acct-2026-11-23.csv" 2>/dev/null
  account events --tenant "$t" --now 2026-11-24T12:00:00Z --pmta "$s/pmta/acct-2026-11-24.csv" --mailwizz "$s/account/mailwizz-webhooks.json" 2>/dev/null
  account events --tenant "$t" --now 2026-11-24T12:00:00Z < "$s/account/events.ndjson" 2>/dev/null
}
# threads_agree STAGE — STAGE --threads 3 gives what one thread gives: through a pipe, 12,000
# lines (many batches) with bad lines between the records; the same records, rejects (with their
# line numbers) and counts; records in input order; every line a record or a reject.
threads_agree() {
  local stage=$1 t
  awk 'BEGIN { for (i = 0; i < 12000; i++) {
    if (i % 97 == 13) { print (i % 2 ? "{\"email\":" : "not json"); continue }
    d = (i % 4 == 0) ? "gnail.com" : (i % 4 == 1) ? "firm.fr" : (i % 4 == 2) ? "mailinator.com" : "x..y.fr"
    printf "{\"email\":\"c%d@%s\",\"n\":%d,\"tags\":[\"T%d\"],\"language\":\"fr\"}\n", i, d, i, i % 5 } }' > "$WORK/many.ndjson"
  for t in 1 3; do
    cat "$WORK/many.ndjson" | $stage --threads $t --rejects "$WORK/many-$t.rej" --stats "$WORK/many-$t.json" > "$WORK/many-$t.out" 2>/dev/null
  done
  assert_eq "$(md5sum < "$WORK/many-3.out")" "$(md5sum < "$WORK/many-1.out")" "$stage threads: same records"
  assert_eq "$(md5sum < "$WORK/many-3.rej")" "$(md5sum < "$WORK/many-1.rej")" "$stage threads: same rejects"
  assert_eq "$(jq -S . "$WORK/many-3.json" | md5sum)" "$(jq -S . "$WORK/many-1.json" | md5sum)" "$stage threads: same counts"
  assert_eq "$(jq .n "$WORK/many-3.out" | sort -n -c && echo sorted)" "sorted" "$stage threads: input order"
  assert_eq "$(jq -r .line "$WORK/many-3.rej" | head -3 | xargs)" "14 111 208" "$stage threads: rejects keep their line numbers"
  assert_eq "$(( $(wc -l < "$WORK/many-3.out") + $(wc -l < "$WORK/many-3.rej") ))" 12000 "$stage threads: every line is a record or a reject"
}
# busy_books TENANT NOW — a tenant of 2,000 contacts with a 60,000-event log: a reader's scan of
# the log takes a while, the window a concurrent writer's append falls into.
busy_books() {
  local t=$1 now=$2
  account init --tenant "$t" 2>/dev/null
  awk 'BEGIN { for (i = 0; i < 2000; i++) printf "{\"email\":\"c%04d@busy.example\",\"status\":\"validated\"}\n", i }' \
    | account commit --tenant "$t" --now "$now" 2>/dev/null
  awk 'BEGIN { for (i = 0; i < 60000; i++) printf "{\"email\":\"c%04d@busy.example\",\"type\":\"opened\",\"campaign\":\"old\",\"at\":\"2026-11-%02dT%02d:%02d:%02dZ\"}\n", i % 2000, 1 + int(i / 86400), int(i / 3600) % 24, int(i / 60) % 60, i % 60 }' \
    | account events --tenant "$t" --now "$now" 2>/dev/null
}
# while_importing TENANT NOW IMPORTS CHECK — imports $WORK/events-1..IMPORTS.ndjson back to back in
# the background and calls CHECK RUN until they are done (once more after the last); CHECK says
# why and returns non-zero on a false report. Sets $runs and $false_reports. Bounded by the
# imports, not by time.
while_importing() {
  local t=$1 now=$2 imports=$3 check=$4 writer finished
  rm -f "$WORK/writer-done" "$WORK/writer-failed"
  ( for n in $(seq 1 "$imports"); do
      timeout 60 account events --tenant "$t" --now "$now" "$WORK/events-$n.ndjson" 2>/dev/null || { echo "import $n failed" > "$WORK/writer-failed"; exit 1; }
    done; touch "$WORK/writer-done" ) &
  writer=$!
  runs=0
  false_reports=0
  while :; do
    finished=0; [ ! -e "$WORK/writer-done" ] && [ ! -e "$WORK/writer-failed" ] || finished=1
    runs=$((runs + 1))
    "$check" "$runs" || false_reports=$((false_reports + 1))
    [ "$finished" = 0 ] || break
  done
  wait "$writer" || true
  [ ! -e "$WORK/writer-failed" ] || fail "$(cat "$WORK/writer-failed")"
}
# counted CMD... — runs a checker that ends by printing "checks: N" (Tests/Shell/examples.py) and
# adds its N to this test's checks; a checker that printed no count fails the test.
counted() {
  "$@" | tee "$WORK/counted.out"
  local n
  n=$(sed -n 's/^checks: \([0-9][0-9]*\)$/\1/p' "$WORK/counted.out" | tail -n 1)
  [ -n "$n" ] || fail "$* printed no 'checks: N' line"
  checks=$((checks + n))
}
done_ok() { echo "ok: $checks checks"; }

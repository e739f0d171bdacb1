#!/usr/bin/env bash
# Bounded resources and failed writes: rejects and stats that cannot be written are exit 1 (not
# a quiet success); a full disk leaves the state as it was, the lock released; no thread to be
# had is a clear error (not a hang holding the lock); --threads is capped.
source "$(dirname "$0")/lib.sh"
T=sos-expat
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
account init --tenant "$T" 2>/dev/null
$gen 2000 0 > "$WORK/a.ndjson"
account commit --tenant "$T" "$WORK/a.ndjson" 2>/dev/null
$gen 2000 1000 "$T" 1 > "$WORK/b.ndjson"
printf 'not json\n' >> "$WORK/b.ndjson"
export_sum() { account export --tenant "$T" --state "${1:-$MAILPIPE_STATE}" 2>/dev/null | sha256sum; }
baseline=$(export_sum)
# status_of CMD… — exit status, with stderr kept in $WORK/err
status_of() { set +e; "$@" >/dev/null 2>"$WORK/err" </dev/null; local s=$?; set -e; echo "$s"; }

# --- Rejects and stats on a device that is always full.
if [ -w /dev/full ]; then
  printf 'email,first_name\nok@x.test,A\nnot-an-address,B\n' > "$WORK/in.csv"
  assert_eq "$(status_of ingest --tenant "$T" --rejects /dev/full "$WORK/in.csv")" 1 "ingest: rejects to /dev/full is exit 1"
  assert_contains "$(cat "$WORK/err")" "--rejects /dev/full" "ingest names the rejects file"
  assert_eq "$(status_of dedupe --tenant "$T" --rejects /dev/full "$WORK/b.ndjson")" 1 "dedupe: rejects to /dev/full is exit 1"
  assert_eq "$(status_of account commit --tenant "$T" --rejects /dev/full "$WORK/b.ndjson")" 1 "commit: rejects to /dev/full is exit 1"
  assert_eq "$(export_sum)" "$baseline" "a commit whose rejects could not be written changed nothing"
  assert_eq "$(status_of ingest --tenant "$T" --stats /dev/full "$WORK/in.csv")" 1 "ingest: stats to /dev/full is exit 1"
  assert_eq "$(status_of account commit --tenant "$T" --stats /dev/full "$WORK/a.ndjson")" 1 "commit: stats to /dev/full is exit 1"
else
  echo "SKIP: no writable /dev/full"
fi

# --- A 2 MB file system: the state on it fills up mid-commit.
if [ "$(id -u)" = 0 ] && mkdir -p "$WORK/small" && mount -t tmpfs -o size=2m tmpfs "$WORK/small" 2>/dev/null; then
  trap 'umount "$WORK/small" 2>/dev/null; rm -rf "$WORK"' EXIT
  small="$WORK/small/state"
  account init --tenant "$T" --state "$small" 2>/dev/null
  account commit --tenant "$T" --state "$small" "$WORK/a.ndjson" 2>/dev/null
  before=$(export_sum "$small")
  $gen 120000 5000 > "$WORK/big.ndjson"      # a run of ~2.5 MB: cannot fit
  assert_eq "$(status_of timeout 60 account commit --tenant "$T" --state "$small" "$WORK/big.ndjson")" 1 "a commit that fills the disk fails"
  assert_contains "$(cat "$WORK/err")" "No space left on device" "and says why"
  assert_eq "$(export_sum "$small")" "$before" "the store is as it was"
  # The lock was released: the next writer runs at once (its leftovers cleanup frees the space).
  assert_eq "$(status_of timeout 20 account commit --tenant "$T" --state "$small" "$WORK/a.ndjson")" 0 "the next commit runs"
  assert_eq "$(export_sum "$small")" "$before" "and finds the store whole"
  # Rejects written to the full disk are exit 1, not a partial file passed off as complete.
  head -c $(( $(df --output=avail -B1 "$WORK/small" | tail -1) - 4096 )) /dev/zero > "$WORK/small/filler" 2>/dev/null || true
  python3 -c "
import json
for i in range(20000): print(json.dumps({'name': 'no email %d' % i, 'x': 'y' * 100}))" > "$WORK/bad.ndjson"
  assert_eq "$(status_of dedupe --rejects "$WORK/small/rejects.ndjson" --tenant "$T" "$WORK/bad.ndjson")" 1 "rejects on a full disk are exit 1"
  umount "$WORK/small"
  trap 'rm -rf "$WORK"' EXIT
else
  echo "SKIP: mounting a 2 MB tmpfs needs root"
fi

# --- No thread to be had: a clear error, exit 1, the lock released — never a hang.
# ulimit -v: thread stacks cannot be mapped. The limit at which the executable loads at all (its
# shared libraries mapped) but a thread stack no longer fits varies with the build and with what the
# executable links, so limits are tried upwards until one gives the thread error; each run must end
# (timeout) without a hang, and one of them must be the thread error.
thread_errors=0
for limit in $(seq 20000 10000 400000); do
  for cmd in "account commit --tenant $T $WORK/a.ndjson" "account compact --tenant $T" "account report --tenant $T --json"; do
    set +e; (ulimit -v "$limit"; exec timeout 30 $cmd) >/dev/null 2>"$WORK/err" </dev/null; s=$?; set -e
    [ "$s" != 124 ] || fail "ulimit -v $limit: $cmd hung"
    if [ "$s" = 1 ] && grep -q "cannot start a thread" "$WORK/err"; then thread_errors=$((thread_errors + 1)); fi
  done
  [ "$thread_errors" = 0 ] || break
done
[ "$thread_errors" -gt 0 ] || fail "no limit gave the thread error"
checks=$((checks + 1))
assert_eq "$(status_of timeout 20 account commit --tenant "$T" "$WORK/a.ndjson")" 0 "the lock is free after the failed runs"
assert_eq "$(export_sum)" "$baseline" "and the store is whole"

# ulimit -u: a user allowed one process has no thread to spare (root ignores the limit, so the
# commands run as nobody on a copy of the state).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  nob="$WORK/nobody"; mkdir -p "$nob"; cp -a "$MAILPIPE_STATE" "$nob/state"; cp "$WORK/a.ndjson" "$nob/"
  # A second, small run: compaction then has runs to fold (on threads).
  $gen 100 9000 | account commit --tenant "$T" --state "$nob/state" 2>/dev/null
  chown -R nobody "$nob"; chmod 755 "$WORK"
  share_executables
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- env MAILPIPE_STATE="$nob/state" bash -c "ulimit -u $1; exec \"\$@\"" _ "${@:2}"; }
  for cmd in "account commit --tenant $T --threads 2 $nob/a.ndjson" "account compact --tenant $T" "account report --tenant $T --json"; do
    set +e; timeout 30 bash -c "$(declare -f as_nobody); nob='$nob'; as_nobody 1 $cmd" >/dev/null 2>"$WORK/err" </dev/null; s=$?; set -e
    assert_eq "$s" 1 "ulimit -u 1: $cmd exits 1 (not a hang)"
    assert_contains "$(cat "$WORK/err")" "cannot start a thread" "ulimit -u 1: $cmd says why"
  done
  # --threads beyond the cap: 64 threads fit under a limit of 100 processes, 100000 would not.
  set +e
  timeout 60 bash -c "$(declare -f as_nobody); nob='$nob'; as_nobody 100 dedupe --tenant $T --threads 100000 $nob/a.ndjson" > "$WORK/out" 2>"$WORK/err"
  s=$?; set -e
  assert_eq "$s" 0 "dedupe --threads 100000 runs under ulimit -u 100"
  assert_eq "$(jq -r .dedupe "$WORK/out" | sort | uniq -c | xargs)" "2000 existing" "with the same output"
  assert_contains "$(cat "$WORK/err")" "--threads 100000 is capped at 64" "and says it capped the threads"
  chmod 700 "$WORK"
else
  echo "SKIP: ulimit -u needs root (to run as nobody) and setpriv"
fi
# The cap, wherever the process limit is.
dedupe --tenant "$T" --threads 100000 "$WORK/a.ndjson" 2>"$WORK/err" | jq -r .dedupe | sort | uniq -c | xargs > "$WORK/marks"
assert_eq "$(cat "$WORK/marks")" "2000 existing" "dedupe --threads 100000: output as with one thread"
assert_contains "$(cat "$WORK/err")" "capped at 64" "the cap is said"
done_ok

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
done_ok() { echo "ok: $checks checks"; }

#!/usr/bin/env bash
# ingest begins libphonenumber's start-up on a side thread as it starts (StartUpWork): the first
# number comes before or after that work is done, or no number comes, or the run ends at once
# (an error, --help) — every way, the same output and exit status, and never a crash at exit.
# Each case runs several times: which thread gets there first varies from run to run.
source "$(dirname "$0")/lib.sh"
NOW=2026-11-23T09:00:00Z
runs=${INGEST_START_UP_RUNS:-12}

printf 'email,phone,country\na@example.org,06 12 34 56 78,FR\nb@example.org,+49 30 1234567,\n' > "$WORK/phones.csv"
printf 'email,name\nc@example.org,Chloé\n' > "$WORK/no-phone.csv"
printf '{"email":"d@example.org","phone":"(212) 555-0123","country":"US"}\n' > "$WORK/phone.ndjson"

# repeat NAME STATUS EXPECTED-STDOUT CMD...: CMD gives that status and standard output every run,
# and nothing on standard error that names a signal or a crash.
repeat() {
  local name=$1 status=$2 expected=$3 i got
  shift 3
  for ((i = 0; i < runs; i++)); do
    got=$(run_capture "$@")
    assert_eq "$got" "$status" "$name: exit status (run $i)"
    assert_eq "$(cat "$WORK/stdout")" "$expected" "$name: output (run $i)"
    case "$(cat "$WORK/stderr")" in *"Segmentation"*|*"Fatal error"*|*"terminate called"*) fail "$name: crashed (run $i)";; esac
  done
}

repeat "first rows have phones" 0 \
'{"tenant":"t","email":"a@example.org","phone":"+33612345678","country":"FR","source":"phones","created_at":"2026-11-23T09:00:00Z"}
{"tenant":"t","email":"b@example.org","phone":"+49301234567","source":"phones","created_at":"2026-11-23T09:00:00Z"}' \
  ingest --tenant t --now $NOW "$WORK/phones.csv"
repeat "one thread" 0 \
'{"tenant":"t","email":"a@example.org","phone":"+33612345678","country":"FR","source":"phones","created_at":"2026-11-23T09:00:00Z"}
{"tenant":"t","email":"b@example.org","phone":"+49301234567","source":"phones","created_at":"2026-11-23T09:00:00Z"}' \
  ingest --tenant t --now $NOW --threads 1 "$WORK/phones.csv"
repeat "ndjson phone" 0 \
'{"tenant":"t","email":"d@example.org","phone":"+12125550123","country":"US","source":"phone","created_at":"2026-11-23T09:00:00Z"}' \
  ingest --tenant t --now $NOW "$WORK/phone.ndjson"
repeat "no phone at all" 0 \
'{"tenant":"t","email":"c@example.org","first_name":"Chloé","source":"no-phone","created_at":"2026-11-23T09:00:00Z"}' \
  ingest --tenant t --now $NOW "$WORK/no-phone.csv"
repeat "empty input" 0 "" ingest --tenant t --now $NOW /dev/null
repeat "missing file" 2 "" ingest --tenant t --now $NOW "$WORK/absent.csv"
assert_contains "$(cat "$WORK/stderr")" "no such file" "missing file: the error"
repeat "usage error" 2 "" ingest --format bogus "$WORK/phones.csv"
assert_contains "$(cat "$WORK/stderr")" "--format is auto" "usage error: the message"
repeat "unknown flag" 2 "" ingest --no-such-flag
repeat "help" 0 "$(ingest --help)" ingest --help

# --version: libcurl and libidn2 are opened for the question (no executable links them for it).
version=$(ingest --version)
assert_contains "$version" "mailpipe " "--version names the release"
assert_contains "$version" "libcurl " "--version gives libcurl's version"
assert_contains "$version" "libidn2 " "--version gives libidn2's version"
assert_eq "$(ingest --version=x)" "$version" "--version=… is --version too"
assert_eq "$(tag --version | tail -n 1)" "$(echo "$version" | tail -n 1)" "tag reports the same libraries"
assert_eq "$(account --version | tail -n 1)" "$(echo "$version" | tail -n 1)" "account (linked with libcurl) reports the same libraries"
if command -v ldd > /dev/null; then
  for tool in ingest dedupe validate tag segment render; do
    case "$(ldd "$MAILPIPE_BIN/$tool")" in *libcurl*) fail "$tool links libcurl";; esac
    checks=$((checks + 1))
  done
fi

done_ok

#!/usr/bin/env bash
# The read-only commands — account suppress --list, account warmup (no --advance), account
# report, account health, account fsck (no --repair) — on a state they cannot write: a read-only mount, and another user's state readable by
# this one. They take no lock and write nothing, and they show what the next writer will: the
# state here is an interrupted account events (events logged past the ledger, the list not yet
# holding their addresses), so the list and the report's suppressed count include those addresses,
# and fsck reports the events the ledger does not reflect yet (exit 1: something is left to do).
source "$(dirname "$0")/lib.sh"
T=ro
NOW=2026-11-25T12:00:00Z
cat > "$WORK/tenant.json" <<'JSON'
{"slug":"ro","sending_domain":"mail.ro.example",
 "vmtas":[{"name":"v1","ip":"192.0.2.1","hostname":"v1.ro.example","warmup_start":"2026-11-20"}]}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
D="$MAILPIPE_STATE/$T"
{ for c in a b c d e; do echo "{\"email\":\"$c@ro.example\",\"status\":\"validated\"}"; done
  echo '{"email":"f@ro.example","status":"unsubscribed"}'; } | account commit --tenant $T --now $NOW 2>/dev/null
ev() { echo "{\"email\":\"$1@ro.example\",\"type\":\"$2\",\"bounce_class\":\"hard\",\"vmta\":\"v1\",\"campaign\":\"nov\",\"at\":\"2026-11-24T10:00:00Z\"}"; }
{ ev a sent; ev b sent; ev c sent; ev d sent; ev a bounced; } | account events --tenant $T --now $NOW 2>/dev/null
account suppress --tenant $T --now $NOW --add b@ro.example --reason "asked by phone" 2>/dev/null
# An interrupted import: its events are logged, then the ledger and the list are put back as
# they were (the run was killed before applying them).
cp "$D/ledger.json" "$WORK/ledger.json"
{ ev c bounced; ev d complained; } | account events --tenant $T --now $NOW 2>/dev/null
cp "$WORK/ledger.json" "$D/ledger.json"
truncate -s "$(jq .suppression_length "$WORK/ledger.json")" "$D/suppression.ndjson.gz"
rm "$D/lock"  # the writers' lock file: a reader must not need (or make) it
tree_sum() { (cd "$D" && find . -type f -print0 | sort -z | xargs -0 md5sum; find . -printf '%p %m\n' | sort) | md5sum; }
sum=$(tree_sum)

# What the read-only commands say on the writable state (written nothing either).
commands=("account suppress --tenant $T --now $NOW --list" "account warmup --tenant $T --now $NOW"
          "account report --tenant $T --now $NOW --json" "account health --tenant $T --now $NOW --json"
          "account fsck --tenant $T --now $NOW")
names=(list warmup report health fsck)
# health: 2 of the 4 sends bounced, critical (exit 2); fsck: the pending events are left to do (exit 1).
statuses=(0 0 0 2 1)
for i in "${!commands[@]}"; do
  status=$(run_capture ${commands[$i]})
  assert_eq "$status" "${statuses[$i]}" "${names[$i]} on the writable state: exit ${statuses[$i]} ($(head -c 300 "$WORK/stderr"))"
  cp "$WORK/stdout" "$WORK/want-${names[$i]}"
done
assert_eq "$(tree_sum)" "$sum" "the read-only commands wrote nothing (not even a lock file)"
assert_eq "$(jq -r .email "$WORK/want-list" | sort | tr '\n' ' ')" "a@ro.example b@ro.example c@ro.example d@ro.example f@ro.example " \
  "suppress --list: the list with the addresses of the logged events it does not show yet"
assert_eq "$(jq 'select(.suppressed != null) | .suppressed' "$WORK/want-report")" "5" "report: suppressed counts the logged events' addresses"
assert_eq "$(jq -r '[.vmta,.week,.quota] | @tsv' "$WORK/want-warmup")" "v1	1	50" "warmup: the configured vmta"
assert_eq "$(jq -c '[.status,.window.sends,.window.bounced]' "$WORK/want-health")" '["critical",4,2]' "health: the logged events counted"
assert_eq "$(jq -r '[(.file | sub(".*/"; "")), .outcome] | @tsv' "$WORK/want-fsck")" "events.ndjson.gz	repairable" \
  "fsck: the logged events the ledger does not reflect, repairable"

# run_all LABEL PREFIX... — every read-only command through PREFIX: the same exit status, the
# same output.
run_all() {
  local label=$1; shift
  for i in "${!commands[@]}"; do
    local status
    status=$(run_capture "$@" ${commands[$i]})
    assert_eq "$status" "${statuses[$i]}" "$label: ${names[$i]} exits ${statuses[$i]} ($(head -c 300 "$WORK/stderr"))"
    assert_eq "$(md5sum < "$WORK/stdout")" "$(md5sum < "$WORK/want-${names[$i]}")" "$label: ${names[$i]}'s output"
  done
  # A writer says it cannot write, naming why (never a crash, never a silent success).
  status=$(run_capture "$@" account suppress --tenant $T --now $NOW --add z@ro.example --reason x)
  assert_eq "$status" 1 "$label: a writer fails"
  assert_contains "$(cat "$WORK/stderr")" "$D" "$label: the writer's error names the state"
}

# 1. A read-only mount of the state (as root: only the mount refuses writes).
if [ "$(id -u)" = 0 ] && unshare -m sh -c "mount --bind -o ro '$D' '$D' && ! touch '$D/probe'" 2>/dev/null; then
  share_executables
  cat > "$WORK/ro.sh" <<EOF
set -e
mount --bind -o ro "$D" "$D"
touch "$D/probe" 2>/dev/null && { echo "the mount is writable"; exit 3; }
exec "\$@"
EOF
  run_all "read-only mount" unshare -m bash "$WORK/ro.sh"
  assert_eq "$(tree_sum)" "$sum" "read-only mount: nothing changed"
else
  rm -f "$D/probe"
  echo "SKIP (part): a read-only mount needs root, unshare -m and mount --bind -o ro"
fi

# 2. Another user's state, readable by this one (the commands run as nobody).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  share_executables
  chmod 755 "$WORK" "$MAILPIPE_STATE"
  chmod -R a+rX "$D"
  sum=$(tree_sum)
  run_all "another user's state" setpriv --reuid=nobody --regid=nogroup --clear-groups -- env MAILPIPE_STATE="$MAILPIPE_STATE" PATH="$PATH"
  assert_eq "$(tree_sum)" "$sum" "another user's state: nothing changed"
else
  echo "SKIP (part): reading another user's state needs root and setpriv"
fi
done_ok

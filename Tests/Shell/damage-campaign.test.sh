#!/usr/bin/env bash
# The damage campaign (issue 14): every file of a tenant's state × {truncation at a random offset,
# a flipped bit at a random offset, deletion, a symbolic link to a copy elsewhere} × every command
# that reads it, each under `timeout`. Each run ends in one of:
#   - exit 0 with the undamaged run's output, or a different output with a warning naming the
#     file (a repair it made, a view it rebuilt) — never an empty one;
#   - an error naming the file and a way out (account fsck --repair, a restore, removing the link,
#     account init).
# Never a signal, never a hang, never a suppressed or bounced address selected or sent, never a
# contact missing from an export that exits 0. DAMAGE_SEED=N picks other offsets.
source "$(dirname "$0")/lib.sh"
seed=${DAMAGE_SEED:-1414}
RANDOM=$seed
T=dmg
NOW=2026-11-25T12:00:00Z
export MAILPIPE_UNSUB_SECRET=damage-campaign-secret-0123456789
cat > "$WORK/tenant.json" <<'JSON'
{"slug":"dmg","sending_domain":"mail.dmg.example",
 "vmtas":[{"name":"v1","ip":"192.0.2.1","hostname":"v1.dmg.example","warmup_start":"2026-11-20"}]}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
D="$MAILPIPE_STATE/$T"
awk 'BEGIN { for (i = 0; i < 60; i++) printf "{\"email\":\"c%02d@dmg.example\",\"status\":\"validated\",\"language\":\"fr\"}\n", i
  print "{\"email\":\"u1@dmg.example\",\"status\":\"unsubscribed\"}" }' | account commit --tenant $T --now $NOW 2>/dev/null
awk 'BEGIN { for (i = 0; i < 60; i++) printf "{\"email\":\"c%02d@dmg.example\",\"type\":\"sent\",\"vmta\":\"v1\",\"campaign\":\"nov\",\"at\":\"2026-11-24T10:00:00Z\"}\n", i
  for (i = 0; i < 60; i += 7) printf "{\"email\":\"c%02d@dmg.example\",\"type\":\"bounced\",\"bounce_class\":\"hard\",\"vmta\":\"v1\",\"campaign\":\"nov\",\"at\":\"2026-11-24T11:00:00Z\"}\n", i }' \
  | account events --tenant $T --now $NOW 2>/dev/null
account suppress --tenant $T --now $NOW --add c03@dmg.example --reason "by phone" 2>/dev/null
awk 'BEGIN { for (i = 60; i < 70; i++) printf "{\"email\":\"c%02d@dmg.example\",\"status\":\"validated\"}\n", i }' \
  | account commit --tenant $T --now $NOW 2>/dev/null
# Messages for inject: two mailable contacts, a bounced one (c07) and an unsubscribed one (u1).
segment --tenant $T --contacts store 2>/dev/null | head -2 \
  | render --tenant $T --campaign welcome-nov --templates "$REPO/samples/templates" --now $NOW > "$WORK/msgs.ndjson" 2>/dev/null
for e in c07 u1; do head -1 "$WORK/msgs.ndjson" | jq -c --arg e "$e@dmg.example" '.email = $e'; done >> "$WORK/msgs.ndjson"
# A port nothing listens on (a free one, closed again): every attempt is a transient failure,
# journalled.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
INJECT="inject smtp --tenant $T --url smtp://127.0.0.1:$port --max-attempts 1 --now $NOW"
$INJECT < "$WORK/msgs.ndjson" > /dev/null 2>&1
echo '{"email":"c11@dmg.example","type":"bounced","bounce_class":"hard","at":"2026-11-25T09:00:00Z"}' > "$WORK/new-event.ndjson"
echo '{"email":"n1@dmg.example","status":"validated"}' > "$WORK/new-contact.ndjson"
cp -a "$D" "$WORK/pristine"

# Who must never be selected or sent to: the list, the bounced and the unsubscribed.
blocked=$(account suppress --tenant $T --list 2>/dev/null | jq -r .email | sort)
[ "$(echo "$blocked" | wc -l)" = 11 ] || fail "setup: expected 11 blocked addresses, got: $blocked"
commands=(
  "export|account export --tenant $T"
  "report|account report --tenant $T --now $NOW --json"
  "list|account suppress --tenant $T --now $NOW --list"
  "warmup|account warmup --tenant $T --now $NOW"
  "fsck|account fsck --tenant $T"
  "segment|segment --tenant $T --contacts store"
  "inject|$INJECT $WORK/msgs.ndjson"
  "events|account events --tenant $T --now $NOW $WORK/new-event.ndjson"
  "commit|account commit --tenant $T --now $NOW $WORK/new-contact.ndjson"
)
# Outcomes carry the connect error's wording and timing: compared by address, outcome and reason.
normalise() {
  [ "$1" = inject ] || return 0
  jq -c '[.email,.outcome,.reason]' "$WORK/stdout" > "$WORK/stdout.n" 2>/dev/null || cp "$WORK/stdout" "$WORK/stdout.n"
  mv "$WORK/stdout.n" "$WORK/stdout"
}
source "$(dirname "$0")/damage_lib.sh"
record_undamaged

# The files, relative to the tenant folder.
files=$(cd "$WORK/pristine" && find . -type f | sed 's|^\./||' | sort)
for f in tenant.json ledger.json events.ndjson.gz events.ids suppression.ndjson.gz contacts/manifest.json journal/smtp/welcome-nov.ndjson; do
  echo "$files" | grep -qx "$f" || fail "setup: no $f in the state"
done

# reads NAME FILE — whether the command reads (or writes) the file; only those run on its damage.
reads() {
  case $2 in
    tenant.json) return 0 ;;
    lock) case $1 in events|commit) return 0;; *) return 1;; esac ;;
    events.ids) [ "$1" = events ] ;;
    journal/*) case $1 in inject|fsck) return 0;; *) return 1;; esac ;;
    contacts/*) case $1 in list|warmup|inject) return 1;; *) return 0;; esac ;;
    *) [ "$1" != export ] ;;  # the books: events, suppression, ledger
  esac
}
start=$(date +%s)
damage_campaign all events commit
echo "damage campaign: $(echo "$files" | wc -l) files × 4 damages (5 for JSON), $runs command runs in $(( $(date +%s) - start )) s (seed $seed; flips leaving valid JSON: $detected in checksummed files, all seen; $undetectable in tenant.json)"
[ "$detected" -gt 0 ] || fail "no flip left a checksummed file valid JSON: the digit damage did not run"
[ "$broken" = 0 ] || fail "$broken broken rules"
done_ok

#!/usr/bin/env bash
# The damage campaign (issue 14) on a SHARDED store (`account init --shards 2`) and with the write
# commands: every file of the tenant's state (layout.json and its lock, each shard's manifest, runs,
# indexes and lock, the books, tenant.json) × {truncation, a flipped bit, deletion, a link to a copy
# elsewhere, a changed digit for JSON files} × the commands that read or write it — export,
# segment, fsck, and the writers account commit, account compact, account record and account fsck
# --repair, each followed by a segment run. The rules are damage-campaign.test.sh's
# (damage_lib.sh). Bounded: each file gets two of its damages, drawn with the seed
# (DAMAGE_SEED=N draws others; DAMAGE_ALL=1 runs all of them).
source "$(dirname "$0")/lib.sh"
seed=${DAMAGE_SEED:-1414}
RANDOM=$seed
T=shd
NOW=2026-11-25T12:00:00Z
cat > "$WORK/tenant.json" <<'JSON'
{"slug":"shd","sending_domain":"mail.shd.example",
 "vmtas":[{"name":"v1","ip":"192.0.2.1","hostname":"v1.shd.example","warmup_start":"2026-11-20"}]}
JSON
account init --tenant $T --config "$WORK/tenant.json" --shards 2 2>/dev/null
D="$MAILPIPE_STATE/$T"
awk 'BEGIN { for (i = 0; i < 40; i++) printf "{\"email\":\"c%02d@shd.example\",\"status\":\"validated\"}\n", i
  print "{\"email\":\"u1@shd.example\",\"status\":\"unsubscribed\"}" }' | account commit --tenant $T --now $NOW 2>/dev/null
awk 'BEGIN { for (i = 0; i < 40; i++) printf "{\"email\":\"c%02d@shd.example\",\"type\":\"sent\",\"vmta\":\"v1\",\"campaign\":\"nov\",\"at\":\"2026-11-24T10:00:00Z\"}\n", i
  for (i = 0; i < 40; i += 7) printf "{\"email\":\"c%02d@shd.example\",\"type\":\"bounced\",\"bounce_class\":\"hard\",\"vmta\":\"v1\",\"campaign\":\"nov\",\"at\":\"2026-11-24T11:00:00Z\"}\n", i }' \
  | account events --tenant $T --now $NOW 2>/dev/null
account suppress --tenant $T --now $NOW --add c03@shd.example --reason "by phone" 2>/dev/null
awk 'BEGIN { for (i = 40; i < 50; i++) printf "{\"email\":\"c%02d@shd.example\",\"status\":\"validated\"}\n", i }' \
  | account commit --tenant $T --now $NOW 2>/dev/null
# inject's outcomes of a later send, for account record.
for e in c01 c02 c40; do
  echo "{\"tenant\":\"$T\",\"email\":\"$e@shd.example\",\"campaign\":\"dec\",\"channel\":\"smtp\",\"outcome\":\"sent\",\"vmta\":\"v1\",\"code\":250,\"at\":\"2026-11-25T10:00:00Z\"}"
done > "$WORK/outcomes.ndjson"
echo '{"email":"n1@shd.example","status":"validated"}' > "$WORK/new-contact.ndjson"
cp -a "$D" "$WORK/pristine"

blocked=$(account suppress --tenant $T --list 2>/dev/null | jq -r .email | sort)
[ "$(echo "$blocked" | wc -l)" = 8 ] || fail "setup: expected 8 blocked addresses, got: $blocked"
commands=(
  "export|account export --tenant $T"
  "segment|segment --tenant $T --contacts store"
  "fsck|account fsck --tenant $T"
  "commit|account commit --tenant $T --now $NOW $WORK/new-contact.ndjson"
  "compact|account compact --tenant $T"
  "record|account record --tenant $T --now $NOW $WORK/outcomes.ndjson"
  "repair|account fsck --tenant $T --repair --now $NOW"
)
normalise() { :; }
source "$(dirname "$0")/damage_lib.sh"
record_undamaged

files=$(cd "$WORK/pristine" && find . -type f | sed 's|^\./||' | sort)
for f in contacts/layout.json contacts/shard-0-of-2/manifest.json contacts/shard-1-of-2/manifest.json ledger.json; do
  echo "$files" | grep -qx "$f" || fail "setup: no $f in the state"
done

# reads NAME FILE — whether the command reads (or writes) the file; only those run on its damage.
reads() {
  case $2 in
    tenant.json) return 0 ;;
    lock) case $1 in commit|record|repair) return 0;; *) return 1;; esac ;;
    contacts/layout.lock|contacts/*/lock) case $1 in commit|compact|repair) return 0;; *) return 1;; esac ;;
    events.ids) [ "$1" = record ] ;;
    contacts/*) [ "$1" != record ] || [ "${2##*/}" != lock ] ;;
    *) case $1 in export|compact|commit) return 1;; *) return 0;; esac ;;  # the books (a sharded commit leaves them alone)
  esac
}
start=$(date +%s)
damage_campaign two commit compact record repair
echo "damage campaign (sharded, writers): $(echo "$files" | wc -l) files, $runs command runs in $(( $(date +%s) - start )) s (seed $seed; flips leaving valid JSON: $detected in checksummed files, all seen; $undetectable in tenant.json)"
[ "$broken" = 0 ] || fail "$broken broken rules"
done_ok

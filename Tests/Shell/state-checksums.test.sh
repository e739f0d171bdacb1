#!/usr/bin/env bash
# The JSON files the store writes (ledger.json, contacts/manifest.json, each shard's manifest,
# contacts/layout.json) carry a checksum: a changed digit — valid JSON, another value — is an
# error naming the file and fsck, never a value; fsck --repair rebuilds them. Files written before
# checksums (format 1, no checksum) are read as they are and gain one on their next write.
# tenant.json is the operator's file: no checksum, an edited value is taken (or refused clearly).
source "$(dirname "$0")/lib.sh"
NOW=2026-11-25T12:00:00Z
cat > "$WORK/tenant.json" <<'JSON'
{"slug":"ck","sending_domain":"mail.ck.example",
 "vmtas":[{"name":"v1","ip":"192.0.2.1","hostname":"v1.ck.example","warmup_start":"2026-11-20"}]}
JSON
account init --tenant ck --config "$WORK/tenant.json" 2>/dev/null
account init --tenant sh --shards 3 2>/dev/null
D="$MAILPIPE_STATE/ck"; S="$MAILPIPE_STATE/sh/contacts"
echo '{"email":"n1@ck.example","status":"validated"}' > "$WORK/new.ndjson"
for t in ck sh; do
  awk 'BEGIN { for (i = 0; i < 30; i++) printf "{\"email\":\"c%02d@ck.example\",\"status\":\"validated\"}\n", i }' \
    | account commit --tenant $t --now $NOW 2>/dev/null
done
awk 'BEGIN { for (i = 0; i < 30; i += 5) printf "{\"email\":\"c%02d@ck.example\",\"type\":\"bounced\",\"bounce_class\":\"hard\",\"vmta\":\"v1\",\"campaign\":\"nov\",\"at\":\"2026-11-24T11:00:00Z\"}\n", i }' \
  | account events --tenant ck --now $NOW 2>/dev/null
checked=("$D/ledger.json" "$D/contacts/manifest.json" "$S/layout.json" "$S/shard-0-of-3/manifest.json")
for f in "${checked[@]}"; do
  assert_eq "$(jq -c '[.format, (.checksum | test("^[0-9a-f]{8}$"))]' "$f")" "[2,true]" "$f: format 2 with its checksum"
done

# What the readers say on the undamaged state.
views() {
  account export --tenant ck 2>/dev/null | md5sum
  account export --tenant sh 2>/dev/null | md5sum
  account report --tenant ck --now $NOW --json 2>/dev/null | md5sum
  account suppress --tenant ck --now $NOW --list 2>/dev/null | md5sum
  account warmup --tenant ck --now $NOW 2>/dev/null | md5sum
  segment --tenant ck --contacts store 2>/dev/null | md5sum
}
want=$(views)
assert_eq "$(account suppress --tenant ck --now $NOW --list 2>/dev/null | wc -l)" 6 "six bounced addresses on the list"

# 1. A changed digit in each checked file: the readers name the file and the repair (or, for
#    the ledger, segment warns and holds back what the event log suppresses); fsck finds it and
#    --repair rebuilds it (the ledger recounted from the event log).
tamper() {  # tamper FILE KEY — the key's number plus one: valid JSON, another value
  jq --arg k "$2" '.[$k] += 1' "$1" > "$1.new" && mv "$1.new" "$1"
}
cp -a "$D" "$WORK/ck.saved"
tamper "$D/ledger.json" events_length
for cmd in "account report --tenant ck --now $NOW" "account suppress --tenant ck --now $NOW --list" \
           "account warmup --tenant ck --now $NOW" "account events --tenant ck --now $NOW"; do
  status=$(run_capture $cmd < /dev/null)
  assert_eq "$status" 1 "ledger events_length +1: $cmd fails"
  assert_contains "$(cat "$WORK/stderr")" "$D/ledger.json: ledger checksum mismatch" "ledger events_length +1: $cmd names the file"
  assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant ck --repair" "ledger events_length +1: $cmd names the repair"
done
status=$(run_capture segment --tenant ck --contacts store)
assert_eq "$status" 0 "ledger damaged: segment goes on"
assert_contains "$(cat "$WORK/stderr")" "ledger.json" "ledger damaged: segment warns naming the ledger"
assert_eq "$(jq -r .email "$WORK/stdout" | grep -cE '^c(00|05|10|15|20|25)@' || true)" 0 "ledger damaged: segment selects no bounced address"
status=$(run_capture account fsck --tenant ck)
assert_eq "$status" 1 "fsck finds the damaged ledger"
assert_eq "$(jq -r 'select(.file | endswith("ledger.json")) | .outcome' "$WORK/stdout")" repairable "fsck: the ledger is repairable"
assert_eq "$(run_capture account fsck --tenant ck --repair)" 0 "fsck --repair recounts the ledger"
assert_eq "$(jq .events_length "$D/ledger.json")" "$(jq .events_length "$WORK/ck.saved/ledger.json")" "the recounted ledger reflects the event log"
assert_eq "$(views)" "$want" "after fsck --repair: the same views"
rm -rf "$D"; cp -a "$WORK/ck.saved" "$D"

tamper "$D/contacts/manifest.json" next_run
cp -a "$MAILPIPE_STATE/sh" "$WORK/sh.saved"
tamper "$S/layout.json" shards
tamper "$S/shard-1-of-3/manifest.json" next_run
for pair in "ck|$D/contacts/manifest.json|manifest" "sh|$S/layout.json|layout"; do
  IFS='|' read -r t file what <<< "$pair"
  for cmd in "account export --tenant $t" "account commit --tenant $t --now $NOW $WORK/new.ndjson" "account compact --tenant $t"; do
    status=$(run_capture $cmd < /dev/null)
    assert_eq "$status" 1 "$what +1: $cmd fails"
    assert_contains "$(cat "$WORK/stderr")" "$file: $what checksum mismatch" "$what +1: $cmd names the file"
    assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant $t --repair" "$what +1: $cmd names the repair"
  done
done
assert_eq "$(run_capture account fsck --tenant ck --repair)" 0 "fsck --repair rebuilds the manifest"
assert_eq "$(run_capture account fsck --tenant sh --repair)" 0 "fsck --repair rebuilds the layout and the shard's manifest"
assert_eq "$(jq -r '[.file,.outcome] | join(" ")' "$WORK/stdout" | sed "s|$S/||" | sort | xargs)" \
  "layout.json repaired shard-1-of-3/manifest.json repaired" "fsck --repair: what it rebuilt"
assert_eq "$(views)" "$want" "after fsck --repair: the same views"

# 2. Files of format 1, without a checksum (written by an older mailpipe): read as they were.
for f in "${checked[@]}"; do
  jq '.format = 1 | del(.checksum)' "$f" > "$f.new" && mv "$f.new" "$f"
done
assert_eq "$(views)" "$want" "format 1 files: the same views"
status=$(run_capture account fsck --tenant ck)
assert_eq "$status:$(cat "$WORK/stdout")" "0:" "format 1 files: fsck finds nothing (flat)"
status=$(run_capture account fsck --tenant sh)
assert_eq "$status:$(cat "$WORK/stdout")" "0:" "format 1 files: fsck finds nothing (sharded)"
# ... and a format-2 file without its checksum is damage (a flip cannot pass for an old file).
cp "$D/ledger.json" "$WORK/ledger.v1"
jq '.format = 2' "$WORK/ledger.v1" > "$D/ledger.json"
assert_eq "$(run_capture account report --tenant ck --now $NOW)" 1 "format 2 without a checksum: an error"
assert_contains "$(cat "$WORK/stderr")" "without its checksum" "format 2 without a checksum: said"
cp "$WORK/ledger.v1" "$D/ledger.json"

# 3. Upgraded on their next write: the books and the flat manifest by a writer, a shard's
#    manifest by a commit into it, the layout by a reshard.
echo '{"email":"c29@ck.example","type":"bounced","bounce_class":"hard","at":"2026-11-25T09:00:00Z"}' \
  | account events --tenant ck --now $NOW 2>/dev/null
account commit --tenant ck --now $NOW "$WORK/new.ndjson" 2>/dev/null
awk 'BEGIN { for (i = 0; i < 30; i++) printf "{\"email\":\"n%02d@ck.example\",\"status\":\"validated\"}\n", i }' \
  | account commit --tenant sh --now $NOW 2>/dev/null
upgraded() {
  for f in "$@"; do
    assert_eq "$(jq -c '[.format, (.checksum | test("^[0-9a-f]{8}$"))]' "$f")" "[2,true]" "after a write, $f has format 2 and its checksum"
  done
}
upgraded "$D/ledger.json" "$D/contacts/manifest.json" "$S/shard-0-of-3/manifest.json"
assert_eq "$(jq -c .format "$S/layout.json")" 1 "the layout is rewritten only by a layout change"
account reshard --tenant sh --shards 2 2>/dev/null
upgraded "$S/layout.json"
assert_eq "$(account suppress --tenant ck --now $NOW --list 2>/dev/null | wc -l)" 7 "the upgraded books: one more on the list"
assert_eq "$(account export --tenant sh 2>/dev/null | wc -l)" 60 "the upgraded sharded store: every contact"

# 4. tenant.json, the operator's file, has no checksum: an edited value is the value.
jq '.vmtas += [{"name":"v2","ip":"192.0.2.2","hostname":"v2.ck.example"}]' "$D/tenant.json" > "$WORK/t.json" && mv "$WORK/t.json" "$D/tenant.json"
assert_eq "$(jq -r 'has("checksum")' "$D/tenant.json")" false "tenant.json carries no checksum"
assert_eq "$(account warmup --tenant ck --now $NOW 2>/dev/null | jq -r .vmta | xargs)" "v1 v2" "an edited tenant.json value is taken"
done_ok

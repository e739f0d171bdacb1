# Sharded contact store: n shard commits in parallel give the store one flat commit gives; the
# union of shard exports equals the single-process export (as multisets of lines, and byte for
# byte in email order); wrong_shard rejects; export --shard of any count; reshard 4 → 8 → 3 and
# flat → 4 lose and duplicate nothing.
. "$(dirname "$0")/lib.sh"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
now=2026-11-01T00:00:00Z
for t in flat sh; do
  $gen 12000 0 "$t" > "$WORK/$t-1.ndjson"
  $gen 6000 9000 "$t" 2 > "$WORK/$t-2.ndjson"      # 3000 updates, 3000 new
  $gen 500 100 "$t" 3 > "$WORK/$t-3.ndjson"
done
# The reference: the flat store, one process.
account init --tenant flat 2>/dev/null
for k in 1 2 3; do account commit --tenant flat --now "$now" "$WORK/flat-$k.ndjson" 2>/dev/null; done
account export --tenant flat 2>/dev/null | sed 's/"tenant":"flat"/"tenant":"sh"/' > "$WORK/ref.ndjson"
assert_eq "$(wc -l < "$WORK/ref.ndjson")" 15000 "reference store size"

# The same commits into 4 shards, the 4 shard writers of each commit running together.
account init --tenant sh --shards 4 2>/dev/null
assert_eq "$(jq -c 'del(.checksum)' "$MAILPIPE_STATE/sh/contacts/layout.json")" '{"format":2,"shards":4}' "layout.json"
for k in 1 2 3; do
  pids=()
  for i in 0 1 2 3; do
    account commit --tenant sh --shard "$i/4" --now "$now" --rejects "$WORK/rej-$k-$i" "$WORK/sh-$k.ndjson" 2>/dev/null & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
for i in 0 1 2 3; do
  assert_eq "$(jq -r .reason "$WORK/rej-1-$i" | sort -u)" wrong_shard "shard $i rejects only wrong_shard"
  assert_eq "$(ls "$MAILPIPE_STATE/sh/contacts/shard-$i-of-4" | grep -c lock)" 1 "shard $i has its own lock"
done
in_shards=$(for i in 0 1 2 3; do echo $((12000 - $(wc -l < "$WORK/rej-1-$i"))); done | paste -sd+ | bc)
assert_eq "$in_shards" 12000 "every record of commit 1 taken by exactly one shard"
account export --tenant sh 2>/dev/null > "$WORK/sh.ndjson"
cmp -s "$WORK/sh.ndjson" "$WORK/ref.ndjson" || fail "sharded export differs from the flat store's"
checks=$((checks + 1))
for i in 0 1 2 3; do account export --tenant sh --shard "$i/4" 2>/dev/null; done | sort > "$WORK/union.sorted"
assert_eq "$(sort "$WORK/ref.ndjson" | sha256sum)" "$(sha256sum < "$WORK/union.sorted")" "union of shard exports = single-process export (multiset)"
# A shard export reads its sub-store only; other counts filter; all agree with the flat store.
for spec in 2/4 1/2 2/3 5/8; do
  got=$(account export --tenant sh --shard "$spec" 2>/dev/null | sha256sum)
  want=$(account export --tenant flat --shard "$spec" 2>/dev/null | sed 's/"tenant":"flat"/"tenant":"sh"/' | sha256sum)
  assert_eq "$got" "$want" "export --shard $spec"
done

# A whole-tenant commit on a sharded store routes each record to its shard.
account init --tenant routed --shards 3 2>/dev/null
for k in 1 2 3; do sed 's/"tenant":"sh"/"tenant":"routed"/' "$WORK/sh-$k.ndjson" | account commit --tenant routed --now "$now" 2>/dev/null; done
assert_eq "$(account export --tenant routed 2>/dev/null | sed 's/"tenant":"routed"/"tenant":"sh"/' | sha256sum)" "$(sha256sum < "$WORK/ref.ndjson")" "routed commit = flat commit"

# Refusals: a shard count other than the store's; --shards on a store that holds contacts.
assert_eq "$(run_status account commit --tenant sh --shard 0/8 </dev/null 2>/dev/null)" 2 "commit --shard of another count: exit 2"
assert_contains "$(account commit --tenant sh --shard 0/8 </dev/null 2>&1 || true)" "reshard" "the error names account reshard"
assert_eq "$(run_status account init --tenant flat --shards 4 2>/dev/null)" 2 "init --shards on a non-empty flat store: exit 2"
assert_eq "$(run_status account init --tenant sh --shards 4 2>/dev/null)" 0 "init --shards again with the same count: fine"

# Reshard 4 → 8 → 3, and flat → 4: same contacts, none lost, none doubled; old layout gone.
for m in 8 3; do
  account reshard --tenant sh --shards "$m" 2>/dev/null
  assert_eq "$(ls "$MAILPIPE_STATE/sh/contacts" | tr '\n' ' ')" "layout.json layout.lock $(for i in $(seq 0 $((m - 1))); do printf 'shard-%d-of-%d ' "$i" "$m"; done)" "only the $m-shard layout remains"
  cmp -s <(account export --tenant sh 2>/dev/null) "$WORK/ref.ndjson" || fail "reshard to $m changed the contacts"
  checks=$((checks + 1))
  for i in $(seq 0 $((m - 1))); do account export --tenant sh --shard "$i/$m" 2>/dev/null; done | sort > "$WORK/union.sorted"
  assert_eq "$(sha256sum < "$WORK/union.sorted")" "$(sort "$WORK/ref.ndjson" | sha256sum)" "after reshard to $m: union of shards = the store"
  assert_eq "$(cat "$WORK/union.sorted" | jq -r .email | sort | uniq -d | wc -l)" 0 "after reshard to $m: no contact twice"
  # Each sub-store holds exactly its shard's contacts.
  bad=0
  for i in $(seq 0 $((m - 1))); do
    n1=$(zcat "$MAILPIPE_STATE/sh/contacts/shard-$i-of-$m"/run-*.ndjson.gz 2>/dev/null | wc -l)
    n2=$(account export --tenant flat --shard "$i/$m" 2>/dev/null | wc -l)
    [ "$n1" = "$n2" ] || bad=$((bad + 1))
  done
  assert_eq "$bad" 0 "after reshard to $m: every sub-store holds its shard"
done
account reshard --tenant flat --shards 4 2>/dev/null
assert_eq "$(ls "$MAILPIPE_STATE/flat/contacts" | grep -c -v '^shard-\|^layout')" 0 "flat → 4: the flat store's files are gone"
assert_eq "$(account export --tenant flat 2>/dev/null | sed 's/"tenant":"flat"/"tenant":"sh"/' | sha256sum)" "$(sha256sum < "$WORK/ref.ndjson")" "flat → 4 keeps every contact"
# Commits keep working on the new layouts, and compaction folds each shard.
$gen 100 50000 sh 5 | account commit --tenant sh --shard 1/3 --now "$now" --rejects /dev/null 2>/dev/null
account compact --tenant sh 2>/dev/null
assert_eq "$(account export --tenant sh 2>/dev/null | wc -l)" "$((15000 + $($gen 100 50000 sh 5 | python3 "$REPO/pipelines/spark/mailpipe_shard.py" filter 1/3 | wc -l)))" "commit --shard after reshard"
done_ok

# --shard i/n on stream stages (validate, tag): the shards partition the input — their union is
# the whole output as a multiset of lines, and each record lands in exactly one shard.
. "$(dirname "$0")/lib.sh"
python3 "$REPO/Tests/Shell/gen_contacts.py" 3000 0 sos-expat > "$WORK/in.ndjson"
echo '{"no_email":true}' >> "$WORK/in.ndjson"
for stage in validate tag; do
  $stage < "$WORK/in.ndjson" 2>/dev/null | sort > "$WORK/whole"
  : > "$WORK/union"
  total_other=0
  for i in 0 1 2 3; do
    $stage --shard "$i/4" --stats "$WORK/stats" < "$WORK/in.ndjson" >> "$WORK/union" 2>/dev/null
    total_other=$((total_other + $(jq .other_shards "$WORK/stats")))
  done
  assert_eq "$(sort "$WORK/union" | sha256sum)" "$(sha256sum < "$WORK/whole")" "$stage: union of 4 shards = whole"
  assert_eq "$total_other" $((3 * 3001)) "$stage: every record is in exactly one shard"
  # The summary line shows the other shards' records (before `rejected`).
  $stage --shard 2/4 --stats "$WORK/stats" < "$WORK/in.ndjson" > /dev/null 2>&1
  assert_contains "$($stage --shard 2/4 --rejects /dev/null < "$WORK/in.ndjson" 2>&1 > /dev/null)" \
    "$(jq .other_shards "$WORK/stats") other_shards, $(jq .rejected "$WORK/stats") rejected" "$stage: other shards on the summary line"
done
assert_eq "$(run_status validate --shard 4/4 </dev/null 2>/dev/null)" 2 "a bad shard is a usage error"
# The shard is the FNV-1a 64 hash of the normalised email modulo n, as Python computes it.
python3 - "$WORK/in.ndjson" > "$WORK/py-shard1" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line).get("email", "").strip().lower().encode()
    h = 0xcbf29ce484222325
    for b in e: h = ((h ^ b) * 0x100000001b3) % 2**64
    if h % 4 == 1 and e: print(json.loads(line)["email"])
PY
assert_eq "$(validate --shard 1/4 < "$WORK/in.ndjson" 2>/dev/null | jq -r '.email // ""' | sort | sha256sum)" "$(sort "$WORK/py-shard1" | sha256sum)" "shard hash matches Python"
done_ok

# Crash safety of a sharded store: `account commit --shard i/4` killed with SIGKILL at a random
# moment while another shard's commit runs beside it (15 rounds, 60,000 records each), and `account reshard` killed at
# a random moment (12 rounds, 4 ↔ 8). After each kill the killed shard equals exactly its state
# before or after the commit, the other shard's commit landed, the tenant reads whole (no contact
# lost or doubled), and the next writer cleans what the killed one left.
. "$(dirname "$0")/lib.sh"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
rounds=${CRASH_ROUNDS:-15}
# timed CMD… → runs CMD, prints its wall time in seconds (kill delays span the real duration)
timed() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1.1 }'; }

account init --tenant sc --shards 4 2>/dev/null
$gen 30000 0 sc > "$WORK/base.ndjson"
account commit --tenant sc --now 2026-11-01T00:00:00Z "$WORK/base.ndjson" 2>/dev/null
shard_sha() { account export --tenant sc --state "$1" --shard "$2" 2>/dev/null | sha256sum | cut -c1-16; }
live_files() { # the files a shard's manifest names, plus manifest and lock
  { jq -r '.runs[] | .name' "$1/manifest.json" | sed 's/$/.idx/;p;s/\.idx$/.ndjson.gz/'; echo lock; echo manifest.json; } | sort -u
}

for r in $(seq 1 "$rounds"); do
  i=$((r % 4)); j=$(((r + 1) % 4))
  $gen 60000 $(( (r * 7919) % 40000 )) sc "$r" > "$WORK/in.ndjson"
  now="2026-11-02T00:00:$(printf %02d $((r % 60)))Z"
  before=$(shard_sha "$MAILPIPE_STATE" "$i/4")
  rm -rf "$WORK/ref"; cp -a "$MAILPIPE_STATE" "$WORK/ref"
  span=$(timed account commit --tenant sc --state "$WORK/ref" --shard "$i/4" --now "$now" --rejects /dev/null "$WORK/in.ndjson" 2>/dev/null)
  account commit --tenant sc --state "$WORK/ref" --shard "$j/4" --now "$now" --rejects /dev/null "$WORK/in.ndjson" 2>/dev/null
  after=$(shard_sha "$WORK/ref" "$i/4")
  # Shard j commits beside the killed shard i: it takes another lock and must land.
  account commit --tenant sc --shard "$j/4" --now "$now" --rejects /dev/null "$WORK/in.ndjson" 2>/dev/null & other=$!
  delay=$(random_delay "$r" "$(awk -v s="$span" "BEGIN { print s * 2 }")")   # two commits share the cores
  kill_after "$delay" account commit --tenant sc --shard "$i/4" --now "$now" --rejects /dev/null "$WORK/in.ndjson" 2>/dev/null
  wait "$other" || fail "round $r: the concurrent commit of shard $j failed"
  before_or_after "$(shard_sha "$MAILPIPE_STATE" "$i/4")" "$before" "$after" "round $r: shard $i"
  assert_eq "$(shard_sha "$MAILPIPE_STATE" "$j/4")" "$(shard_sha "$WORK/ref" "$j/4")" "round $r: shard $j's concurrent commit landed"
  assert_eq "$(account export --tenant sc 2>/dev/null | jq -r .email | sort | uniq -d | wc -l)" 0 "round $r: no contact twice"
  # The next writer of shard i opens it cleanly and removes the killed writer's leftovers.
  account commit --tenant sc --shard "$i/4" </dev/null 2>/dev/null || fail "round $r: writer cannot open shard $i"
  d="$MAILPIPE_STATE/sc/contacts/shard-$i-of-4"
  assert_eq "$(ls "$d" | sort)" "$(live_files "$d")" "round $r: only live runs remain in shard $i"
  # Bring the killed shard to the reference state so both copies agree for the next round.
  rm -rf "$MAILPIPE_STATE"; cp -a "$WORK/ref" "$MAILPIPE_STATE"
done
echo "shard commit crash rounds: $landed_before landed before, $landed_after after"

# Reshard killed at a random moment: the tenant always reads exactly the same contacts, in the
# old or the new layout; the next reshard cleans up and completes.
want=$(account export --tenant sc 2>/dev/null | sha256sum)
total=$(account export --tenant sc 2>/dev/null | wc -l)
old_count=0; new_count=0
for r in $(seq 1 12); do
  cur=$(jq .shards "$MAILPIPE_STATE/sc/contacts/layout.json")
  target=$((cur == 4 ? 8 : 4))
  rm -rf "$WORK/ref"; cp -a "$MAILPIPE_STATE" "$WORK/ref"
  span=$(timed account reshard --tenant sc --state "$WORK/ref" --shards "$target" 2>/dev/null)
  kill_after "$(random_delay "$((r + 100))" "$span")" account reshard --tenant sc --shards "$target" 2>/dev/null
  layout=$(jq .shards "$MAILPIPE_STATE/sc/contacts/layout.json")
  case $layout in "$cur") old_count=$((old_count + 1)) ;; "$target") new_count=$((new_count + 1)) ;; *) fail "round $r: layout $layout" ;; esac
  assert_eq "$(account export --tenant sc 2>/dev/null | sha256sum)" "$want" "round $r: killed reshard lost or doubled nothing"
  sum=0
  for k in $(seq 0 $((layout - 1))); do sum=$((sum + $(account export --tenant sc --shard "$k/$layout" 2>/dev/null | wc -l))); done
  assert_eq "$sum" "$total" "round $r: shard exports add up to the store"
  # A shard writer works on whichever layout is live.
  account commit --tenant sc --shard "0/$layout" </dev/null 2>/dev/null || fail "round $r: shard writer blocked after the kill"
  # Completing the reshard leaves exactly the target layout.
  account reshard --tenant sc --shards "$target" 2>/dev/null
  assert_eq "$(ls "$MAILPIPE_STATE/sc/contacts" | grep -c '^shard-')" "$target" "round $r: only the $target sub-stores remain"
  assert_eq "$(ls "$MAILPIPE_STATE/sc/contacts" | grep -vc "^shard-.*-of-$target\$\|^layout.json\$\|^layout.lock\$")" 0 "round $r: no leftovers"
  assert_eq "$(account export --tenant sc 2>/dev/null | sha256sum)" "$want" "round $r: completed reshard keeps every contact"
done
echo "reshard crash rounds: $old_count left the old layout, $new_count the new"
done_ok

# Crash safety of `account commit`: 50 commits, each killed with SIGKILL at a random moment;
# after each, the store equals exactly the state before or after that commit, and opens cleanly.
# Also: two writers on one tenant both land; two tenants never touch each other's files.
. "$(dirname "$0")/lib.sh"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
rounds=${CRASH_ROUNDS:-50}

account init --tenant crash 2>/dev/null
$gen 30000 0 crash > "$WORK/base.ndjson"
account commit --tenant crash --now 2026-11-01T00:00:00Z "$WORK/base.ndjson" 2>/dev/null

export_sha() { account export --tenant crash --state "$1" 2>/dev/null | sha256sum | cut -c1-16; }

for i in $(seq 1 "$rounds"); do
  start=$(( (i * 7919) % 40000 ))
  $gen 15000 "$start" crash "$i" > "$WORK/in.ndjson"
  now="2026-11-02T00:00:$(printf %02d $((i % 60)))Z"
  before=$(export_sha "$MAILPIPE_STATE")
  # The state this commit must produce, computed on a copy without interference.
  rm -rf "$WORK/ref"; cp -a "$MAILPIPE_STATE" "$WORK/ref"
  account commit --tenant crash --state "$WORK/ref" --now "$now" "$WORK/in.ndjson" 2>/dev/null
  after=$(export_sha "$WORK/ref")
  # The same commit, killed at a random moment.
  kill_after "$(random_delay "$i" 0.6)" account commit --tenant crash --now "$now" "$WORK/in.ndjson" 2>/dev/null
  before_or_after "$(export_sha "$MAILPIPE_STATE")" "$before" "$after" "round $i: the store"
  # Opens cleanly for a writer: leftovers of the killed commit are removed.
  account commit --tenant crash --now "$now" </dev/null 2>/dev/null || fail "round $i: writer cannot open the store"
  live=$(jq -r '.runs[] | .name' "$MAILPIPE_STATE/crash/contacts/manifest.json" | sed 's/$/.idx/;p;s/\.idx$/.ndjson.gz/' | sort -u)
  on_disk=$(ls "$MAILPIPE_STATE/crash/contacts" | grep -v '^manifest.json$' | sort)
  assert_eq "$on_disk" "$live" "round $i: only live runs remain"
done
echo "crash rounds: $landed_before landed before, $landed_after after"

# Two writers on one tenant serialise on the lock, and both land.
account init --tenant pair 2>/dev/null
$gen 20000 0 pair > "$WORK/p1.ndjson"
$gen 20000 100000 pair > "$WORK/p2.ndjson"
account commit --tenant pair "$WORK/p1.ndjson" 2>/dev/null & a=$!
account commit --tenant pair "$WORK/p2.ndjson" 2>/dev/null & b=$!
wait $a; wait $b
assert_eq "$(account export --tenant pair 2>/dev/null | wc -l)" 40000 "both concurrent commits landed"

# Two tenants never touch each other's files.
account init --tenant other 2>/dev/null
$gen 100 0 other | account commit --tenant other 2>/dev/null
snap=$(cd "$MAILPIPE_STATE/other" && find . -type f -exec sha256sum {} + | sort)
$gen 5000 0 pair 3 | account commit --tenant pair 2>/dev/null
account compact --tenant pair 2>/dev/null
assert_eq "$(cd "$MAILPIPE_STATE/other" && find . -type f -exec sha256sum {} + | sort)" "$snap" "other tenant's files unchanged"
done_ok

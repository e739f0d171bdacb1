#!/usr/bin/env bash
# The contact store under damage: a lost manifest is an error naming the repair (and nothing is
# deleted on that path); run indexes carry checksums, and a damaged one — bytes flipped at random
# offsets, cut short, deleted, an old format — is rebuilt from its run: never trusted, never a
# trap. `account fsck --repair` rewrites what is derived and rebuilds a lost manifest or layout.
source "$(dirname "$0")/lib.sh"
T=sos-expat
C="$MAILPIPE_STATE/$T/contacts"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
account init --tenant "$T" 2>/dev/null
$gen 3000 0 > "$WORK/a.ndjson"
$gen 3000 2000 "$T" 1 > "$WORK/b.ndjson"      # 1000 updates, 2000 new
account commit --tenant "$T" --now 2026-11-01T00:00:00Z "$WORK/a.ndjson" 2>/dev/null
account commit --tenant "$T" --now 2026-11-02T00:00:00Z "$WORK/b.ndjson" 2>/dev/null
account suppress --tenant "$T" --add contact0000007@example7.fr --reason "hard bounce by phone" --status bounced \
  --now 2026-11-03T00:00:00Z 2>/dev/null
export_all() { account export --tenant "$T" 2>/dev/null; }
export_all > "$WORK/baseline.ndjson"
assert_eq "$(wc -l < "$WORK/baseline.ndjson")" 5000 "baseline store"
files() { (cd "$C" && ls | sort | xargs); }
# A status no commit may lift (the invariant a trusted damaged index once broke).
status_of7() { account export --tenant "$T" 2>/dev/null | jq -r 'select(.email=="contact0000007@example7.fr") | .status'; }
assert_eq "$(status_of7)" bounced "the suppressed contact is bounced"

# --- 1. A missing manifest: every reader and writer stops with an error naming the repair.
mv "$C/manifest.json" "$WORK/manifest.saved"
before=$(files)
for cmd in "account export --tenant $T" "account commit --tenant $T $WORK/a.ndjson" "account compact --tenant $T" \
           "segment --tenant $T --all tag1" "dedupe --tenant $T $WORK/a.ndjson" "account report --tenant $T"; do
  out=$(set +e; $cmd 2>&1 >/dev/null </dev/null; echo "status=$?")
  assert_contains "$out" "status=1" "missing manifest: $cmd fails"
  assert_contains "$out" "manifest.json: missing" "missing manifest: $cmd names the file"
  assert_contains "$out" "account fsck --tenant $T --repair" "missing manifest: $cmd names the repair"
done
assert_eq "$(files)" "$before" "nothing deleted while the manifest is missing"
set +e; account fsck --tenant "$T" >"$WORK/fsck.out" 2>/dev/null; fsck_status=$?; set -e
assert_eq "$fsck_status" 1 "fsck without --repair reports the problem"
assert_eq "$(jq -r '[.file,.outcome]|join(" ")' "$WORK/fsck.out")" "$C/manifest.json repairable" "fsck names the manifest"
assert_eq "$(files)" "$before" "fsck without --repair changes nothing"
account fsck --tenant "$T" --repair >/dev/null 2>&1 || fail "fsck --repair"
assert_eq "$(export_all | sha256sum)" "$(sha256sum < "$WORK/baseline.ndjson")" "store rebuilt from its runs, same contacts"
assert_eq "$(jq -c '[.runs[].name]' "$C/manifest.json")" "$(jq -c '[.runs[].name]' "$WORK/manifest.saved")" "same runs, same order"
account fsck --tenant "$T" >/dev/null 2>&1 || fail "the repaired store checks clean"

# --- 8. Damaged run indexes. Each round flips bytes at random offsets of one index (or cuts
# it short, or deletes it); readers still see exactly the baseline, never a trap; a commit
# neither duplicates nor resurrects anything, and rewrites the index.
idx_files=$(cd "$C" && ls run-*.idx)
round=0
for idx in $idx_files; do
  size=$(stat -c %s "$C/$idx")
  for seed in 1 2 3 4 5 6; do
    round=$((round + 1))
    cp "$C/$idx" "$WORK/idx.saved"
    python3 - "$C/$idx" "$seed" "$size" <<'PY'
import random, sys
path, seed, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed * 7919 + size)
data = bytearray(open(path, "rb").read())
if seed == 5:
    data = data[: rng.randrange(0, len(data))]          # cut short
elif seed == 6:
    data = b"MPIDX002" + data[8:]                        # an index of an old format
else:
    for _ in range(seed):                                # 1..4 bytes flipped, anywhere
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
open(path, "wb").write(data)
PY
    for cmd in "account export --tenant $T" "segment --tenant $T --all tag1 --count" "dedupe --tenant $T $WORK/b.ndjson"; do
      set +e; $cmd >"$WORK/out" 2>"$WORK/err" </dev/null; s=$?; set -e
      [ "$s" -lt 128 ] || fail "round $round ($idx, seed $seed): $cmd died with signal $((s - 128))"
      assert_eq "$s" 0 "round $round: $cmd works on a damaged index"
    done
    account export --tenant "$T" 2>/dev/null > "$WORK/now.ndjson"
    assert_eq "$(sha256sum < "$WORK/now.ndjson")" "$(sha256sum < "$WORK/baseline.ndjson")" "round $round: export unchanged"
    dedupe --tenant "$T" "$WORK/b.ndjson" 2>/dev/null | jq -r .dedupe | sort | uniq -c | xargs > "$WORK/marks"
    assert_eq "$(cat "$WORK/marks")" "3000 existing" "round $round: known contacts stay known"
    cp "$C/$idx" "$WORK/idx.damaged"
    # A commit of known contacts changes nothing, and rewrites the index (the writer repairs).
    out=$(account commit --tenant "$T" --now 2026-11-04T00:00:00Z "$WORK/b.ndjson" 2>&1)
    assert_contains "$out" "0 new" "round $round: nothing looks new"
    assert_eq "$(status_of7)" bounced "round $round: a bounced contact stays bounced"
    if ! cmp -s "$C/$idx" "$WORK/idx.damaged"; then
      assert_eq "$(head -c 8 "$C/$idx")" MPIDX003 "round $round: the index was rewritten"
    fi
    assert_eq "$(export_all | sha256sum)" "$(sha256sum < "$WORK/baseline.ndjson")" "round $round: store unchanged by the commit"
    account fsck --tenant "$T" >/dev/null 2>&1 || fail "round $round: fsck finds damage left after a writer's repair"
  done
done
echo "index damage rounds: $round"

# A deleted index: rebuilt by a reader in memory (with a warning), by fsck --repair on disk.
idx=$(echo $idx_files | cut -d' ' -f1)
rm "$C/$idx"
err=$(dedupe --tenant "$T" "$WORK/a.ndjson" 2>&1 >/dev/null)
assert_contains "$err" "$idx: missing; using an index rebuilt in memory" "a reader says it rebuilt the index"
[ ! -e "$C/$idx" ] || fail "a reader wrote to the store"
account fsck --tenant "$T" --repair >/dev/null 2>&1
[ -e "$C/$idx" ] || fail "fsck --repair rewrites the index"
account fsck --tenant "$T" >/dev/null 2>&1 || fail "clean after the repair"

# A damaged run (not derived) is reported as lost, naming the file; nothing reads it as empty.
run=$(cd "$C" && ls run-*.ndjson.gz | head -1)
cp "$C/$run" "$WORK/run.saved"
python3 -c "
import sys; p=sys.argv[1]; d=bytearray(open(p,'rb').read()); d[len(d)//2] ^= 0xFF; open(p,'wb').write(d)" "$C/$run"
set +e; account fsck --tenant "$T" --repair > "$WORK/fsck.out" 2>/dev/null; s=$?; set -e
assert_eq "$s" 1 "a damaged run cannot be repaired"
assert_eq "$(jq -r 'select(.outcome=="lost") | .file' "$WORK/fsck.out")" "$C/$run" "fsck names the damaged run"
set +e; account export --tenant "$T" > "$WORK/out" 2>"$WORK/err"; s=$?; set -e
assert_eq "$s" 1 "export of a damaged run fails"
assert_contains "$(cat "$WORK/err")" "$run" "the error names the run file"
cp "$WORK/run.saved" "$C/$run"

# A lost layout.json of a sharded store: an error, nothing deleted, rebuilt by fsck --repair.
account init --tenant sharded --shards 3 2>/dev/null
$gen 900 0 sharded | account commit --tenant sharded 2>/dev/null
account export --tenant sharded 2>/dev/null | sha256sum > "$WORK/sharded.sum"
SC="$MAILPIPE_STATE/sharded/contacts"
rm "$SC/layout.json"
before=$(cd "$SC" && find . | sort | xargs)
for cmd in "account export --tenant sharded" "account commit --tenant sharded $WORK/a.ndjson"; do
  out=$(set +e; $cmd 2>&1 >/dev/null </dev/null; echo "status=$?")
  assert_contains "$out" "status=1" "missing layout: $cmd fails"
  assert_contains "$out" "layout.json: missing" "missing layout: $cmd names the file"
done
assert_eq "$(cd "$SC" && find . | sort | xargs)" "$before" "nothing deleted while layout.json is missing"
account fsck --tenant sharded --repair >/dev/null 2>&1 || fail "fsck --repair rebuilds layout.json"
assert_eq "$(account export --tenant sharded 2>/dev/null | sha256sum)" "$(cat "$WORK/sharded.sum")" "sharded store back whole"
done_ok

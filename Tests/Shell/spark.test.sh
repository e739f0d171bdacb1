# pipelines/spark/mailpipe_job.py in Spark local mode (local[2]): it reads the tenant's gzip
# runs directly (newest run wins), partitions by the mailpipe shard hash, pipes each partition
# through mailpipe executables, and its per-shard outputs equal the single-process output:
#   shard i of the job   = account export --shard i/n | COMMAND      (byte for byte)
#   union of the shards  = account export | COMMAND                   (as multisets of lines)
# for a flat store of several runs and for a sharded store; Python's FNV-1a equals EmailKey.hash.
# Needs Java 17 and pyspark (scripts/install-deps --test installs both); fails if either is missing.
. "$(dirname "$0")/lib.sh"
command -v java >/dev/null || fail "java is missing: run scripts/install-deps --test (Debian openjdk-17-jre-headless)"
python3 -c "import pyspark" 2>/dev/null || fail "pyspark is missing: run scripts/install-deps --test (pip install pyspark)"
job="$REPO/pipelines/spark/mailpipe_job.py"
shardpy="$REPO/pipelines/spark/mailpipe_shard.py"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
now=2026-11-01T00:00:00Z
# The command piped through on each partition: any mailpipe filter; corebench pass (parse every
# record, write it through) exists on every branch. The lead's default is `validate | segment …`.
cmd=${SPARK_TEST_COMMAND:-corebench pass}
[ -x "$MAILPIPE_BIN/corebench" ] || fail "corebench is not built in $MAILPIPE_BIN"

# The Python hash is the Swift one: shard by Python = shard by account export --shard.
account init --tenant flat 2>/dev/null
# Run sizes that the store's size-tiered compaction leaves apart: 6,000, then 800 (updates of
# 800 contacts), then 100 (updates again).
$gen 6000 0 flat > "$WORK/a.ndjson"; $gen 800 5100 flat 2 > "$WORK/b.ndjson"; $gen 100 5000 flat 3 > "$WORK/c.ndjson"
for f in a b c; do account commit --tenant flat --now "$now" "$WORK/$f.ndjson" 2>/dev/null; done
assert_eq "$(jq '.runs | length' "$MAILPIPE_STATE/flat/contacts/manifest.json")" 3 "flat store has 3 runs (a contact in several)"
for spec in 0/3 2/3 5/7; do
  assert_eq "$(account export --tenant flat 2>/dev/null | python3 "$shardpy" filter "$spec" | sha256sum)" \
            "$(account export --tenant flat --shard "$spec" 2>/dev/null | sha256sum)" "Python shard $spec = Swift shard $spec"
done

run_job() { # run_job TENANT SHARDS OUT [COMMAND]
  python3 "$job" --master 'local[2]' --state "$MAILPIPE_STATE" --tenant "$1" --shards "$2" \
    --bin "$MAILPIPE_BIN" --output "$3" --command "${4:-$cmd}" > "$WORK/job.log" 2>&1 \
    || fail "spark job failed: $(grep -v WARN "$WORK/job.log" | tail -n 15)"
}

# 1. Flat store of 3 runs, 3 partitions.
run_job flat 3 "$WORK/out-flat"
total=$(account export --tenant flat 2>/dev/null | wc -l)
for i in 0 1 2; do
  cmp -s "$WORK/out-flat/shard-$i-of-3.ndjson" <(account export --tenant flat --shard "$i/3" 2>/dev/null | bash -c "$cmd") \
    || fail "spark shard $i/3 differs from account export --shard $i/3 | $cmd"
  checks=$((checks + 1))
done
assert_eq "$(cat "$WORK"/out-flat/shard-*.ndjson | sort | sha256sum)" \
          "$(account export --tenant flat 2>/dev/null | bash -c "$cmd" | sort | sha256sum)" "union of spark shards = single-process output (multiset)"
assert_eq "$(jq -c '[.in, .out, .shards, .runs_read]' "$WORK/out-flat/counts.json")" "[$total,$total,3,3]" "counts.json totals"
assert_eq "$(jq '[.per_shard[].out] | add' "$WORK/out-flat/counts.json")" "$total" "per-shard counts add up"

# 2. A sharded store (4 sub-stores, commits per shard), read and re-partitioned into 2.
account init --tenant sh --shards 4 2>/dev/null
for f in a b c; do
  for i in 0 1 2 3; do sed 's/"tenant":"flat"/"tenant":"sh"/' "$WORK/$f.ndjson" | account commit --tenant sh --shard "$i/4" --now "$now" --rejects /dev/null 2>/dev/null; done
done
run_job sh 2 "$WORK/out-sh"
assert_eq "$(cat "$WORK"/out-sh/shard-*.ndjson | sort | sha256sum)" \
          "$(account export --tenant flat 2>/dev/null | sed 's/"tenant":"flat"/"tenant":"sh"/' | bash -c "$cmd" | sort | sha256sum)" \
          "sharded store through spark = flat store through one process"
for i in 0 1; do
  cmp -s "$WORK/out-sh/shard-$i-of-2.ndjson" <(account export --tenant sh --shard "$i/2" 2>/dev/null | bash -c "$cmd") || fail "sharded: spark shard $i/2 differs"
  checks=$((checks + 1))
done

# 3. {shard} in the command is the partition's i/n (for stages that take --shard).
run_job sh 2 "$WORK/out-tag" 'corebench pass | wc -l | sed "s|^ *|{shard} |"'
assert_eq "$(cat "$WORK"/out-tag/shard-*.ndjson | tr '\n' ' ')" \
          "0/2 $(account export --tenant sh --shard 0/2 2>/dev/null | wc -l) 1/2 $(account export --tenant sh --shard 1/2 2>/dev/null | wc -l) " "{shard} substitution"

# 4. A failing command fails the job (no silent partial output).
set +e; python3 "$job" --master 'local[2]' --state "$MAILPIPE_STATE" --tenant sh --shards 2 --bin "$MAILPIPE_BIN" \
  --output "$WORK/out-bad" --command 'corebench nonsense' >/dev/null 2>&1; status=$?; set -e
[ "$status" -ne 0 ] || fail "a failing partition command must fail the job"
checks=$((checks + 1))
[ ! -e "$WORK/out-bad/counts.json" ] || fail "a failed job must not write counts.json"
checks=$((checks + 1))
done_ok

# pipelines/spark/mailpipe_job.py: Spark as a thin scheduler. Task i runs, on its executor,
#   account export --shard i/n | COMMAND > OUTPUT/shard-i-of-n.ndjson
# so its output equals that pipeline byte for byte, and the union of the shards equals the
# single-process `account export | COMMAND` (as multisets of lines). Checked in local mode on a
# flat store of several runs, and on a real standalone cluster — a master and two workers on
# 127.0.0.1 (Tests/Servers/start-spark-cluster.sh) — on a sharded store, where both workers must
# have run tasks. Python's FNV-1a (pipelines/spark/mailpipe_shard.py) equals EmailKey.hash.
# Needs Java 17 and pyspark (scripts/install-deps --test installs both); skips if either is missing.
. "$(dirname "$0")/lib.sh"
command -v java >/dev/null || skip "java is missing: run scripts/install-deps --test (Debian openjdk-17-jre-headless)"
python3 -c "import pyspark" 2>/dev/null || skip "pyspark is missing: run scripts/install-deps --test (pip install pyspark)"
job="$REPO/pipelines/spark/mailpipe_job.py"
shardpy="$REPO/pipelines/spark/mailpipe_shard.py"
servers="$REPO/Tests/Servers"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"
now=2026-11-01T00:00:00Z
SPARK_HOME=$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1
# The command every task pipes its shard through: the real stages.
base=${SPARK_TEST_COMMAND:-'validate | segment --contacts stdin --tenant {tenant} --any lang-fr,lang-de,v2'}
cmd=$base
# command TENANT [SHARD]: the task command as one process runs it ({tenant}, {shard} replaced)
command_of() { local c=$cmd; [ -n "${2:-}" ] || c=$base; c=${c//\{tenant\}/$1}; echo "${c//\{shard\}/${2:-}}"; }

# The cluster starts in the background while the stores are built (its start-up is ~20 s).
cluster="$WORK/cluster"
"$servers/start-spark-cluster.sh" "$cluster" 2 > "$WORK/cluster.url" 2> "$WORK/cluster.err" &
starter=$!
trap '"$servers/stop-spark-cluster.sh" "$cluster" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

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
# A sharded store (4 sub-stores, commits per shard) of the same contacts.
account init --tenant sh --shards 4 2>/dev/null
for f in a b c; do
  for i in 0 1 2 3; do
    sed 's/"tenant":"flat"/"tenant":"sh"/' "$WORK/$f.ndjson" \
      | account commit --tenant sh --shard "$i/4" --now "$now" --rejects /dev/null 2>/dev/null
  done
done
total=$(account export --tenant flat 2>/dev/null | wc -l)
matched=$(account export --tenant flat 2>/dev/null | bash -c "$(command_of flat)" 2>/dev/null | wc -l)
[ "$matched" -gt 100 ] && [ "$matched" -lt "$total" ] || fail "the test command should keep some contacts, not all: $matched of $total"

# job TENANT OUT MASTER [JOB-FLAG…]: the job, through spark-submit as on a cluster.
# Tasks wait for both executors (however long a loaded machine takes to start them), and a failed
# task is not retried (spark.task.maxFailures=1): the test's failures are not transient.
# `timeout` only guards against a hang (a job takes seconds to a minute on a loaded machine).
job() {
  local tenant=$1 out=$2 master=$3; shift 3
  timeout --kill-after=10 600 "$SPARK_HOME/bin/spark-submit" --master "$master" --conf spark.cores.max=2 \
    --conf spark.scheduler.minRegisteredResourcesRatio=1.0 --conf spark.scheduler.maxRegisteredResourcesWaitingTime=600s \
    --conf spark.task.maxFailures=1 \
    "$job" --state "$MAILPIPE_STATE" --tenant "$tenant" --bin "$MAILPIPE_BIN" --output "$out" --command "$cmd" "$@" > "$WORK/job.log" 2>&1
}
# check_shards TENANT OUT N: shard i of the job = account export --shard i/N | COMMAND, byte for
# byte; the union = the single-process output; counts.json adds up.
check_shards() {
  local tenant=$1 out=$2 n=$3 i
  for ((i = 0; i < n; i++)); do
    cmp -s "$out/shard-$i-of-$n.ndjson" <(account export --tenant "$tenant" --shard "$i/$n" 2>/dev/null | bash -c "$(command_of "$tenant" "$i/$n")" 2>/dev/null) \
      || fail "$tenant: spark shard $i/$n differs from account export --shard $i/$n | COMMAND"
    checks=$((checks + 1))
  done
  assert_eq "$(cat "$out"/shard-*-of-"$n".ndjson | sort | sha256sum)" \
            "$(account export --tenant flat 2>/dev/null | bash -c "$(command_of flat)" 2>/dev/null | sed "s/\"tenant\":\"flat\"/\"tenant\":\"$tenant\"/" | sort | sha256sum)" \
            "$tenant: union of the spark shards = the single-process output (multiset)"
  assert_eq "$(jq -c '[.in, .out, .shards]' "$out/counts.json")" "[$total,$matched,$n]" "$tenant: counts.json totals"
  assert_eq "$(jq '[.per_shard[].out] | add' "$out/counts.json")" "$matched" "$tenant: per-shard counts add up"
}

# 1. Local mode, the flat store of 3 runs in 3 tasks: each reads the store with --shard.
job flat "$WORK/out-flat" 'local[2]' --shards 3 || fail "local job failed: $(grep -v WARN "$WORK/job.log" | tail -n 15)"
check_shards flat "$WORK/out-flat" 3
assert_contains "$(cat "$WORK/job.log")" "the store is flat" "a flat store is named as read with --shard"

# 2. The standalone cluster: the sharded store in its own 4 shards; {shard} is the task's i/n
#    (a wrong or missing substitution would filter records away or fail).
wait "$starter" || fail "the Spark cluster did not start: $(cat "$WORK/cluster.err")"
master=$(cat "$WORK/cluster.url")
assert_contains "$master" "spark://127.0.0.1:" "a standalone master on 127.0.0.1"
cmd="$base | segment --contacts stdin --shard {shard}"
job sh "$WORK/out-sh" "$master" || fail "cluster job failed: $(grep -v WARN "$WORK/job.log" | tail -n 15)"
check_shards sh "$WORK/out-sh" 4
assert_eq "$(jq '.store_shards' "$WORK/out-sh/counts.json")" 4 "the store's own shard count is the default"
# Both workers ran tasks: each worker's executor log names the shards its tasks did.
for k in 1 2; do
  ran=$(cat "$cluster"/worker-$k/app-*/*/stderr 2>/dev/null | grep -c "mailpipe_job: shard " || true)
  [ "$ran" -ge 1 ] || fail "worker $k ran no task (its executor log has no shard line)"
  checks=$((checks + 1))
done
assert_eq "$(jq '[.per_shard[] | .executor] | unique | length' "$WORK/out-sh/counts.json")" 2 "counts.json names two executors"
# Each worker started its executor with the job's light JVM options (mailpipe_job.py --jvm-options).
for k in 1 2; do
  grep -q -- "-XX:TieredStopAtLevel=1" "$cluster/worker-$k.log" || fail "worker $k's executor did not get the job's JVM options"
  checks=$((checks + 1))
done

# 3. A failing command fails the job, and no counts.json is written.
cmd='validate --no-such-flag'
job sh "$WORK/out-bad" "$master" && fail "a failing task command must fail the job"
checks=$((checks + 1))
[ ! -e "$WORK/out-bad/counts.json" ] || fail "a failed job must not write counts.json"
checks=$((checks + 1))

# 4. The stop script ends the master, the workers and their executors.
pids=$(cat "$cluster"/*.pid)
"$servers/stop-spark-cluster.sh" "$cluster"
for pid in $pids; do
  [ ! -e "/proc/$pid" ] || [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || fail "process $pid of the cluster still runs after stop-spark-cluster.sh"
  checks=$((checks + 1))
done
[ -z "$(ls "$cluster"/*.pid 2>/dev/null)" ] || fail "stop-spark-cluster.sh left pid files"
done_ok

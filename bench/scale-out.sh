#!/usr/bin/env bash
# Scale-out figures (issue 8): BENCH_N contacts (default 10M) through a mailpipe pipeline
#   single process  vs  2-way GNU parallel  vs  Spark local[2]
# on this machine's cores, plus the import pipeline (pipelines/parallel-import.sh, BENCH_IMPORT_N
# rows of CSV, default 1M) and the sharded store: one commit vs 2 shard commits side by side.
#
#   bench/scale-out.sh                                   # 10M, PIPE = validate | segment …
#   BENCH_N=1M PIPE='corebench pass' bench/scale-out.sh  # what runs before the stages are merged
#
# PIPE is the per-record pipeline measured (default `validate | segment --tenant sos-expat`, or
# `corebench pass` — parse every record, write it through — while validate/segment are not built).
# Spark runs once per figure (BENCH_SPARK_RUNS, default 1): its start-up alone is ~10 s.
# The Spark figure alone — paired runs over a store kept between runs, a standalone cluster of
# 1 and 2 workers — is bench/spark.sh.
set -euo pipefail
BENCH_N=${BENCH_N:-10M}   # before lib.sh, whose default is 1M
. "$(dirname "$0")/lib.sh"
MAILPIPE_BIN=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
[[ -x $MAILPIPE_BIN/account && -x $MAILPIPE_BIN/corebench ]] || (cd "$BENCH_ROOT" && swift build -c release --product account >/dev/null && swift build -c release --product corebench >/dev/null)
export PATH="$MAILPIPE_BIN:$PATH"
N=$(count_of "${BENCH_N:-10M}")
BENCH_N=$N
if [[ -z ${PIPE:-} ]]; then
  if [[ -x $MAILPIPE_BIN/validate && -x $MAILPIPE_BIN/segment ]]; then PIPE="validate | segment --tenant sos-expat"
  else PIPE="corebench pass"; echo "bench: validate/segment not built — PIPE=corebench pass (set PIPE to override)" >&2; fi
fi
command -v parallel >/dev/null || bench_die "GNU parallel missing (scripts/install-deps --bench)" || exit 1
python3 -c "import pyspark" 2>/dev/null || bench_die "pyspark missing (scripts/install-deps --bench)" || exit 1
data=$(dataset "$N")
T=$(head -n 1 "$data" | jq -r .tenant)   # the generator's tenant: records of another are refused
work=$BENCH_OUT/scale-out
# BENCH_SECTIONS picks sections (default all: "1 1b 2 3"); section 3 reuses section 2's store.
sections=" ${BENCH_SECTIONS:-1 1b 2 3} "
want() { [[ $sections == *" $1 "* ]]; }
if want 2; then rm -rf "$work"; fi
mkdir -p "$work"
export MAILPIPE_STATE=$work/state
NOW=2026-11-23T00:00:00Z
SPARK_RUNS=${BENCH_SPARK_RUNS:-1}
jobs=2

bench_header "mailpipe scale-out: $N contacts, PIPE = $PIPE"

if want 1; then
echo
echo "== 1. PIPE over an NDJSON file: one process vs $jobs-way GNU parallel"
bench_input "$data"
timeit "single: PIPE < file" "$PIPE < $data"
# --pipe: parallel reads stdin and hands out blocks (its own copy loop is a ceiling);
# --pipepart: each job reads its byte range of the file itself.
timeit --peer "single: PIPE < file" "parallel --pipe -j$jobs" "parallel --pipe --block 32M -j$jobs '$PIPE' < $data"
timeit --peer "single: PIPE < file" "parallel --pipepart -j$jobs" "parallel --pipepart -a $data --block -4 -j$jobs '$PIPE'"
fi

if want 1b; then
echo
IMPORT_N=$(count_of "${BENCH_IMPORT_N:-1M}")
echo "== 1b. the import pipeline over a $IMPORT_N-row CSV: pipelines/parallel-import.sh --single vs $jobs shards"
csv=$(dataset_csv "$IMPORT_N")
bench_input "$csv"
import_run() { # $1 = state dir, rest = parallel-import.sh flags
  local st=$1; shift
  echo "rm -rf $st && MAILPIPE_STATE=$st $BENCH_ROOT/pipelines/parallel-import.sh --tenant $T --now $NOW $* $csv >/dev/null 2>&1"
}
timeit --runs 1 "import: one process (--single)" "$(import_run "$work/imp1" --single)"
timeit --runs 1 --peer "import: one process (--single)" "import: parallel-import.sh --jobs $jobs" "$(import_run "$work/imp2" --jobs $jobs)"
a=$(MAILPIPE_STATE=$work/imp1 account export --tenant "$T" 2>/dev/null | sort | md5sum)
b=$(MAILPIPE_STATE=$work/imp2 account export --tenant "$T" 2>/dev/null | sort | md5sum)
[[ $a == "$b" ]] || { echo "bench: the parallel import's store differs from the single-process one" >&2; exit 1; }
echo "   same store from both (sorted export compared)"
rm -rf "$work/imp1" "$work/imp2"
fi

if want 2; then
echo
echo "== 2. account commit of $N contacts: flat store vs $jobs shard commits side by side"
timeit --runs 1 "commit: one process, flat store" \
  "rm -rf $work/flat && account init --tenant $T --state $work/flat 2>/dev/null && account commit --tenant $T --state $work/flat --now $NOW < $data 2>/dev/null"
# Each shard pipeline reads the whole stream and keeps its shard (here account commit does the
# keeping; in parallel-import.sh dedupe --shard does, and commit sees its shard only).
timeit --runs 1 --peer "commit: one process, flat store" "commit: $jobs shards, GNU parallel --tee" \
  "rm -rf $work/st && account init --tenant $T --state $work/st --shards $jobs 2>/dev/null && parallel --pipe --tee -j$jobs 'account commit --tenant $T --state $work/st --shard {}/$jobs --now $NOW --rejects /dev/null 2>/dev/null' ::: \$(seq 0 $((jobs - 1))) < $data"
for s in flat st; do
  got=$(account export --tenant "$T" --state "$work/$s" 2>/dev/null | wc -l)
  [[ $got == "$N" ]] || { echo "bench: the $s store holds $got contacts, not $N" >&2; exit 1; }
done
rm -rf "$MAILPIPE_STATE"; cp -a "$work/st" "$MAILPIPE_STATE"
fi

if want 3; then
[[ -d $MAILPIPE_STATE ]] || bench_die "section 3 needs section 2's store (run with BENCH_SECTIONS including 2)" || exit 1
echo
echo "== 3. the tenant's store through PIPE: one process vs $jobs-way GNU parallel vs Spark local[$jobs]"
bench_input "$data" "$N"
timeit "single: account export | PIPE" "account export --tenant $T 2>/dev/null | $PIPE"
timeit --peer "single: account export | PIPE" "parallel: export --shard i/$jobs | PIPE" \
  "parallel -j$jobs 'account export --tenant $T --shard {}/$jobs 2>/dev/null | $PIPE' ::: \$(seq 0 $((jobs - 1)))"
spark_job() { # the job over the 2-shard store; output to $work/spark-out
  echo "rm -rf $work/spark-out && python3 $BENCH_ROOT/pipelines/spark/mailpipe_job.py --master 'local[$jobs]' --state $MAILPIPE_STATE --tenant $T --shards $jobs --bin $MAILPIPE_BIN --output $work/spark-out --command '$1' >$work/spark.log 2>&1"
}
timeit --runs "$SPARK_RUNS" --peer "single: account export | PIPE" "spark local[$jobs]: store | cat" "$(spark_job cat)"
rm -rf "$work/empty-state"; mkdir -p "$work/empty-state"; account init --tenant "$T" --state "$work/empty-state" 2>/dev/null
timeit --runs "$SPARK_RUNS" "spark local[$jobs]: empty store (overhead)" \
  "python3 $BENCH_ROOT/pipelines/spark/mailpipe_job.py --master 'local[$jobs]' --state $work/empty-state --tenant $T --shards $jobs --bin $MAILPIPE_BIN --output $work/spark-empty --command cat >$work/spark.log 2>&1"
timeit --runs "$SPARK_RUNS" --peer "single: account export | PIPE" "spark local[$jobs]: store | PIPE" "$(spark_job "$PIPE")"
[[ -f $work/spark-out/counts.json ]] && echo "   spark counts: $(jq -c '{in, out, per_shard: [.per_shard[].out]}' "$work/spark-out/counts.json")"
fi

results_table "== summary ($N contacts, $(nproc) cores, PIPE = $PIPE)"
cat <<NOTE
Notes: ratios are single-process seconds / engine seconds (above 1x = faster than one process).
GNU parallel's overhead is its block copy (--pipe) or nothing but start-up (--pipepart); shard
commits read the whole stream once per shard. Spark's overhead is the JVM and Python workers
(the "empty store" row); its tasks then run 'account export --shard i/n | PIPE' themselves (no
record through Python), so past start-up it should match the GNU parallel row.
NOTE

#!/usr/bin/env bash
# parallel-import.sh — one import on every core: GNU parallel splits the input into blocks for
# `ingest`, then feeds the whole ingested stream to n shard pipelines, each keeping its own shard:
#
#   parallel --pipe --block B -k ingest  <input
#     | parallel --pipe --tee 'dedupe --shard {}/n | validate | tag | account commit --shard {}/n' ::: 0..n-1
#
# The tenant's store is kept in n shards (account init --shards n), so the n commits take n
# different locks and run side by side. The final store is the one the single-process pipeline
# `ingest | dedupe | validate | tag | account commit` gives (Tests/Shell/parallel-import.test.sh).
#
# Usage: pipelines/parallel-import.sh --tenant T [--jobs n] [--block 16M] [--source S]
#                                     [--format F] [--now RFC3339] [--single] FILE…|-
#   --jobs n    shard pipelines (default: the store's shard count, else the core count)
#   --single    the plain single-process pipeline instead (the reference for the equality test)
#   --format    passed to ingest (csv, tsv, ndjson, …; default: ingest's own detection)
#   --now       pins the clock of every stage that stamps times (reproducible stores)
#
# Every stage must be built (ingest, dedupe, validate, tag, account). MAILPIPE_DEV_PARTIAL=1 is a
# development aid only: a missing stage is replaced by a pass-through (dedupe --shard by the
# Python shard filter) and a warning says so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${MAILPIPE_BIN:-$repo/.build/release}
export PATH="$bin:$PATH"

tenant="" jobs="" block=16M source="" format="" now="" single=0 inputs=()
while [ $# -gt 0 ]; do
  case $1 in
    --tenant) tenant=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --block) block=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    --now) now=$2; shift 2 ;;
    --single) single=1; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; inputs+=("$@"); break ;;
    -?*) echo "parallel-import: unknown option $1" >&2; exit 2 ;;
    *) inputs+=("$1"); shift ;;
  esac
done
[ -n "$tenant" ] || { echo "parallel-import: --tenant is required" >&2; exit 2; }
[ "${#inputs[@]}" -gt 0 ] || inputs=(-)
source=${source:-parallel-import}
command -v parallel >/dev/null || { echo "parallel-import: GNU parallel is missing (Debian package 'parallel')" >&2; exit 2; }
command -v account >/dev/null || { echo "parallel-import: 'account' is not built in $bin" >&2; exit 2; }

# The stages: every one must exist, except in development mode.
missing=()
for stage in ingest dedupe validate tag; do command -v "$stage" >/dev/null || missing+=("$stage"); done
has() { command -v "$1" >/dev/null; }
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${MAILPIPE_DEV_PARTIAL:-0}" != 1 ]; then
    echo "parallel-import: stage executables missing from $bin: ${missing[*]} (build them: swift build -c release)" >&2
    exit 2
  fi
  echo "parallel-import: DEVELOPMENT MODE — missing stages replaced by pass-throughs: ${missing[*]}" >&2
fi
nowflag=() ; [ -n "$now" ] && nowflag=(--now "$now")
q() { printf '%q ' "$@"; }
formatflag=() ; [ -n "$format" ] && formatflag=(--format "$format")
ingest_cmd=$(if has ingest; then q ingest --tenant "$tenant" --source "$source" "${formatflag[@]}" "${nowflag[@]}"; else echo cat; fi)
validate_cmd=$(if has validate; then q validate; else echo cat; fi)
tag_cmd=$(if has tag; then q tag --tenant "$tenant"; else echo cat; fi)
# dedupe_cmd SHARD → dedupe of one shard ("" = the whole stream)
dedupe_cmd() {
  if has dedupe; then q dedupe --tenant "$tenant" ${1:+--shard "$1"}
  elif [ -n "$1" ]; then q python3 "$here/spark/mailpipe_shard.py" filter "$1"
  else echo cat; fi
}
commit_cmd() { q account commit --tenant "$tenant" "${nowflag[@]}" ${1:+--shard "$1"}; }

# CSV/TSV blocks each need the header line: GNU parallel repeats it (--header 1).
header=()
for f in "${inputs[@]}"; do case $f in *.csv|*.tsv|*.csv.gz|*.tsv.gz) header=(--header 1) ;; esac; done
read_inputs() { if [ "${inputs[*]}" = - ]; then cat; else for f in "${inputs[@]}"; do case $f in *.gz) gzip -dc -- "$f" ;; *) cat -- "$f" ;; esac; done; fi; }

if [ "$single" = 1 ]; then
  account init --tenant "$tenant" >/dev/null 2>&1 || account init --tenant "$tenant"
  read_inputs | eval "$ingest_cmd" | eval "$(dedupe_cmd "")" | eval "$validate_cmd" | eval "$tag_cmd" | eval "$(commit_cmd "")"
  exit
fi

# The store's layout decides n; a new tenant is created with --jobs (or one shard per core) shards.
state=${MAILPIPE_STATE:-state}
layout="$state/$tenant/contacts/layout.json"
if [ -f "$layout" ]; then
  shards=$(sed -n 's/.*"shards" *: *\([0-9][0-9]*\).*/\1/p' "$layout")
  if [ -n "$jobs" ] && [ "$jobs" != "$shards" ]; then
    echo "parallel-import: tenant $tenant is kept in $shards shards, --jobs $jobs given (account reshard --tenant $tenant --shards $jobs)" >&2
    exit 2
  fi
else
  shards=${jobs:-$(nproc)}
  account init --tenant "$tenant" --shards "$shards"
fi

# The shard pipeline run by parallel for {} = 0 … n-1.
per_shard="set -o pipefail; $(dedupe_cmd "SHARD/$shards") | $validate_cmd | $tag_cmd | $(commit_cmd "SHARD/$shards")"
per_shard=${per_shard//SHARD\//\{\}/}
export PARALLEL_SHELL=bash

read_inputs \
  | parallel --pipe --block "$block" "${header[@]}" -k -j "$shards" --halt now,fail=1 "$ingest_cmd" \
  | parallel --pipe --tee -j "$shards" --halt now,fail=1 "$per_shard" ::: $(seq 0 $((shards - 1)))

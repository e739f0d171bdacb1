#!/usr/bin/env bash
# The speed targets of issue 18, each against its peer in the same run:
#
#   bench/targets.sh                         # every row, BENCH_N=1M, 3 paired rounds
#   BENCH_ROWS='segment commit' bench/targets.sh
#
# Rows (BENCH_ROWS picks some; default all):
#   segment   segment --language fr --any avocat,blogger  vs  jq select(…)        goal ≥ 15x
#   miller    segment --language fr                       vs  mlr filter           goal ≥ 30x
#   store     segment --language fr --any avocat,blogger from the tenant's store
#                                                         vs  jq select(…) over account export's output
#   ingest    ingest CSV                                  vs  mlr --icsv --ojsonl cat   goal ≥ 5x
#   commit    account commit into an empty store          vs  gzip -1              goal ≤ 1.3x its time
#   commit-again  account commit of N into a store of 0.9 N   vs  gzip -1          (the daily import's case)
#   dedupe    dedupe N against a store of 0.9 N           vs  awk '!seen[$0]++'    goal ≥ 1.5 M records/s
#   import    ingest | dedupe | validate | tag | account commit, N CSV rows        goal ≤ 8 s at 1 M
#
# The data: N generated contacts (bench/gen-contacts.swift) as CSV, and the same contacts after
# `ingest | validate | tag` as NDJSON (what a store holds; cached in bench/.out).
# Each row runs peer and mailpipe alternately, BENCH_RUNS rounds (default 3, at least 3), and
# prints the medians of wall seconds and of CPU seconds (user + sys, every process of the
# pipeline) and the medians of the per-round ratios peer/mailpipe. On a machine shared with other
# work, the CPU ratio is the steadier figure; the wall ratio is what a user waits for.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MAILPIPE_BIN=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
B=$MAILPIPE_BIN
for tool in ingest dedupe validate tag segment account; do
  [[ -x $B/$tool ]] || { bench_die "$B/$tool is not built (swift build -c release)"; exit 1; }
done
for peer in jq mlr gzip awk; do command -v "$peer" >/dev/null || { bench_die "$peer is missing (scripts/install-deps --bench)"; exit 1; }; done
[[ -x /usr/bin/time ]] || { bench_die "GNU time (/usr/bin/time) is missing: it measures CPU seconds"; exit 1; }
ROUNDS=$(( BENCH_RUNS < 3 ? 3 : BENCH_RUNS ))
ROWS=${BENCH_ROWS:-segment miller store ingest commit commit-again dedupe import}
want_row() { [[ " $ROWS " == *" $1 "* ]]; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mailpipe-targets.XXXXXX")
trap 'rm -rf "$work"' EXIT
NOW=2026-11-01T00:00:00Z

bench_header "issue 18 targets: mailpipe vs peers, paired rounds"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
csv=$(dataset_csv "$BENCH_N")
stored="$BENCH_OUT/data/stored-$BENCH_N-s$BENCH_SEED.ndjson"
if [[ ! -s $stored ]]; then
  echo "bench: ingest | validate | tag of $(basename "$csv")" >&2
  "$B/ingest" --tenant bench --now "$NOW" "$csv" 2>/dev/null | "$B/validate" 2>/dev/null | "$B/tag" 2>/dev/null > "$stored.tmp.$$"
  mv -f "$stored.tmp.$$" "$stored"
fi
echo "   data: $BENCH_N contacts; CSV $(( $(file_size "$csv") / 1000000 )) MB, stored NDJSON $(( $(file_size "$stored") / 1000000 )) MB"
cat "$csv" "$stored" > /dev/null   # into the page cache

# run_once CMD → "WALL CPU" of one run (bash -o pipefail; output to /dev/null unless CMD says)
run_once() {
  local f="$work/time"
  /usr/bin/time -f '%e %U %S' -o "$f" bash -o pipefail -c "$1" > /dev/null 2> "$work/err" \
    || { echo "bench: failed: $1" >&2; tail -n 5 "$work/err" >&2; return 1; }
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$f"
}

# pair LABEL GOAL PEER-LABEL PEER-CMD OUR-CMD [PREPARE-CMD]: ROUNDS rounds of peer then ours
# (PREPARE-CMD runs before each of ours, untimed); prints the row.
SUMMARY=()
pair() {
  local label=$1 goal=$2 peer_label=$3 peer_cmd=$4 our_cmd=$5 prepare=${6:-}
  local pw=() pc=() ow=() oc=() rw=() rc=() r p o
  for ((r = 0; r < ROUNDS; r++)); do
    p=$(run_once "$peer_cmd") || return 1
    [[ -z $prepare ]] || bash -c "$prepare" > /dev/null 2>&1
    o=$(run_once "$our_cmd") || return 1
    pw+=("${p% *}") pc+=("${p#* }") ow+=("${o% *}") oc+=("${o#* }")
    rw+=("$(awk -v a="${p% *}" -v b="${o% *}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
    rc+=("$(awk -v a="${p#* }" -v b="${o#* }" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
  done
  local line
  line=$(printf '%-44s %7.2f s %7.2f cpu | %-22s %7.2f s %7.2f cpu | wall %6.2fx  cpu %6.2fx  (%s)' \
    "$label" "$(median "${ow[@]}")" "$(median "${oc[@]}")" "$peer_label" "$(median "${pw[@]}")" "$(median "${pc[@]}")" \
    "$(median "${rw[@]}")" "$(median "${rc[@]}")" "$goal")
  echo "$line"
  SUMMARY+=("$line")
  PAIR_WALL=$(median "${ow[@]}")
}

echo
echo "   ratios are peer/mailpipe (above 1x: mailpipe faster), medians of $ROUNDS paired rounds"
held='["bounced","unsubscribed","complained","blacklisted","invalid"]'
not_held='((.status // "") | ascii_downcase | IN('"${held:1:-1}"') | not)'

if want_row segment; then
  jqf='select(.language == "fr" and ((.tags // []) | (index("avocat") or index("blogger"))) and '"$not_held"')'
  ours="$B/segment --contacts stdin --language fr --any avocat,blogger"
  [[ $(bash -c "$ours < $stored 2>/dev/null" | sha256sum) == $(jq -c "$jqf" "$stored" | sha256sum) ]] \
    || { bench_die "segment and jq select different records"; exit 1; }
  pair "segment --language fr --any avocat,blogger" "goal >= 15x" "jq select" "jq -c '$jqf' < $stored" "cat $stored | $ours"
fi

if want_row miller; then
  mlrf='$language == "fr" && !(is_present($status) && tolower($status) =~ "^(bounced|unsubscribed|complained|blacklisted|invalid)$")'
  ours="$B/segment --contacts stdin --language fr"
  [[ $(bash -c "$ours < $stored 2>/dev/null" | wc -l) == $(mlr --ijsonl --ojsonl filter "$mlrf" "$stored" | wc -l) ]] \
    || { bench_die "segment and Miller select different counts"; exit 1; }
  pair "segment --language fr" "goal >= 30x" "mlr filter" "mlr --ijsonl --ojsonl filter '$mlrf' < $stored" "cat $stored | $ours"
fi

if want_row store; then
  # Campaigns select from the store: the N contacts committed once, then segment reads them back
  # (inflate, parse, judge) against jq selecting from what `account export` wrote.
  rm -rf "$work/sstate"
  "$B/account" init --tenant bench --state "$work/sstate" > /dev/null 2>&1
  "$B/account" commit --tenant bench --state "$work/sstate" --now "$NOW" "$stored" > /dev/null 2>&1
  "$B/account" export --tenant bench --state "$work/sstate" > "$work/exported.ndjson" 2>/dev/null
  jqf='select(.language == "fr" and ((.tags // []) | (index("avocat") or index("blogger"))) and '"$not_held"')'
  ours="$B/segment --tenant bench --state $work/sstate --contacts store --language fr --any avocat,blogger"
  [[ $(bash -c "$ours 2>/dev/null" | sha256sum) == $(jq -c "$jqf" "$work/exported.ndjson" | sha256sum) ]] \
    || { bench_die "segment (store) and jq (export) select different records"; exit 1; }
  pair "segment --contacts store (same selection)" "goal >= 15x" "jq select (export)" "jq -c '$jqf' < $work/exported.ndjson" "$ours"
  rm -rf "$work/sstate" "$work/exported.ndjson"
fi

if want_row ingest; then
  pair "ingest CSV" "goal >= 5x" "mlr --icsv --ojsonl cat" "mlr --icsv --ojsonl cat < $csv" \
    "$B/ingest --tenant bench --now $NOW < $csv"
fi

if want_row commit; then
  export MAILPIPE_STATE="$work/state"
  fresh="rm -rf $work/state && $B/account init --tenant bench --state $work/state"
  pair "account commit into an empty store" "goal: ratio >= 0.77x (<= 1.3x gzip's time)" "gzip -1" \
    "gzip -1 < $stored > $work/peer.gz" "$B/account commit --tenant bench --state $work/state --now $NOW $stored" "$fresh"
  rm -rf "$work/state" "$work/peer.gz"
fi

if want_row commit-again; then
  # The dedupe row's layout: the store holds the first 0.9 N (committed once, copied afresh
  # before each round); the commit looks every contact up, finds 0.9 N unchanged and 0.1 N new.
  export MAILPIPE_STATE="$work/state"
  rm -rf "$work/astate"
  "$B/account" init --tenant bench --state "$work/astate" 2>/dev/null
  head -n $(( BENCH_N * 9 / 10 )) "$stored" | "$B/account" commit --tenant bench --state "$work/astate" --now "$NOW" 2>/dev/null
  pair "account commit of N into a store of 0.9 N" "the daily import; commit row's peer" "gzip -1" \
    "gzip -1 < $stored > $work/peer.gz" "$B/account commit --tenant bench --state $work/state --now $NOW $stored" \
    "rm -rf $work/state && cp -a $work/astate $work/state"
  rm -rf "$work/state" "$work/astate" "$work/peer.gz"
fi

if want_row dedupe; then
  rm -rf "$work/dstate"
  "$B/account" init --tenant bench --state "$work/dstate" 2>/dev/null
  head -n $(( BENCH_N * 9 / 10 )) "$stored" | "$B/account" commit --tenant bench --state "$work/dstate" --now "$NOW" 2>/dev/null
  pair "dedupe N against a store of 0.9 N" "goal >= 1.5 M records/s" "awk '!seen[\$0]++'" \
    "awk '!seen[\$0]++' < $stored" "$B/dedupe --tenant bench --state $work/dstate --rejects /dev/null < $stored"
  SUMMARY+=("   dedupe: $(awk -v n="$BENCH_N" -v s="$PAIR_WALL" 'BEGIN { printf "%.2f M records/s", n / s / 1e6 }') (median wall, index load included)")
  echo "${SUMMARY[-1]}"
  rm -rf "$work/dstate"
fi

if want_row import; then
  # No peer runs here: listmonk's maintainers give ~10k rows/s for its CSV import. The row's
  # "peer" is gzip -1 of the same CSV, to show how loaded the machine was.
  # Each stage also runs under GNU time, which appends its CPU seconds and when it ended to a
  # file of its own: the breakdown line says where the pipeline's CPU goes.
  stages="$work/stages"
  mkdir -p "$stages"
  timed() { echo "/usr/bin/time -a -o $stages/$1 -f '%e %U %S' ${*:2}"; }
  pipeline="$(timed ingest "$B/ingest" --tenant bench --now $NOW) < $csv | $(timed dedupe "$B/dedupe" --state $work/istate)"
  pipeline+=" | $(timed validate "$B/validate") | $(timed tag "$B/tag")"
  pipeline+=" | $(timed commit "$B/account" commit --tenant bench --state $work/istate --now $NOW)"
  pair "import: ingest|dedupe|validate|tag|commit" "goal <= 8 s at 1M (listmonk ~10k rows/s)" "gzip -1 (the CSV)" \
    "gzip -1 < $csv > $work/peer.gz" "$pipeline" \
    "rm -rf $work/istate && $B/account init --tenant bench --state $work/istate"
  SUMMARY+=("   import: $(awk -v n="$BENCH_N" -v s="$PAIR_WALL" 'BEGIN { printf "%.0f k rows/s", n / s / 1e3 }') (median wall)")
  echo "${SUMMARY[-1]}"
  breakdown="   import stages, median CPU s (ended at s):"
  for stage in ingest dedupe validate tag commit; do
    # shellcheck disable=SC2046  # one number a round
    breakdown+=" $stage $(median $(awk '{ printf "%.2f\n", $2 + $3 }' "$stages/$stage")) ($(median $(awk '{ print $1 }' "$stages/$stage")))"
  done
  SUMMARY+=("$breakdown")
  echo "${SUMMARY[-1]}"
  rm -rf "$work/istate" "$work/peer.gz"
fi

echo
echo "== summary (N=$BENCH_N, $ROUNDS paired rounds, load average now $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${SUMMARY[@]}"

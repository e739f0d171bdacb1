#!/usr/bin/env bash
# Core benchmark (issue "Core"): the stream core and the contact store against their peers,
# in the same run, on BENCH_N contacts (default 1M).
#
#   bench/core.sh            # 1M contacts
#   BENCH_N=100k bench/core.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MAILPIPE_BIN=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
[[ -x $MAILPIPE_BIN/account && -x $MAILPIPE_BIN/corebench ]] || (cd "$BENCH_ROOT" && swift build -c release >/dev/null)
A=$MAILPIPE_BIN/account
N=$(count_of "${BENCH_N:-1M}")
data=$(dataset "$N")
work=$BENCH_OUT/core-work
rm -rf "$work"; mkdir -p "$work"

bench_header "mailpipe core: stream core and contact store, $N contacts"

echo "== parse every record and write it back"
bench_input "$data"
timeit "cat (I/O ceiling)" "cat $data"
timeit "jq -c . (parse + write)" "jq -c . $data"
timeit --peer "jq -c . (parse + write)" "corebench rewrite (parse + write)" "$MAILPIPE_BIN/corebench rewrite < $data"
timeit --peer "jq -c . (parse + write)" "corebench pass (parse, bytes through)" "$MAILPIPE_BIN/corebench pass < $data"
timeit --peer "cat (I/O ceiling)" "corebench lines (split, bytes through)" "$MAILPIPE_BIN/corebench lines < $data"

echo
echo "== account commit of $N contacts into an empty store"
timeit "gzip -1 of the same bytes" "gzip -1 < $data"
timeit --peer "gzip -1 of the same bytes" "account commit (empty store)" \
  "rm -rf $work/s && $A init --tenant sos-expat --state $work/s 2>/dev/null && $A commit --tenant sos-expat --state $work/s --now 2026-11-23T00:00:00Z < $data 2>/dev/null"

echo
echo "== account export of the $N-contact store"
store_files=$(ls "$work"/s/sos-expat/contacts/*.gz | tr "\n" " ")
bench_input "$data"
timeit "zcat store | wc -l" "zcat $store_files | wc -l"
timeit --peer "zcat store | wc -l" "account export" "$A export --tenant sos-expat --state $work/s 2>/dev/null"

echo
echo "== commit of 10k contacts into the $N-contact store (fresh copy each run)"
new10k=$(dataset 10000 --start "$N")
upd10k=$BENCH_OUT/core-upd10k.ndjson
gen_contacts --count 10000 --start $((N / 2)) --seed "$BENCH_SEED" | sed 's/"status":"pending"/"status":"validated"/' > "$upd10k"
for kind in new upd; do
  input=$new10k; [[ $kind == upd ]] && input=$upd10k
  times=()
  rss=0
  for run in 1 2 3; do
    rm -rf "$work/c"; cp -a "$work/s" "$work/c"; sync
    t0=$(now_s)
    /usr/bin/time -f %M -o "$work/rss" "$A" commit --tenant sos-expat --state "$work/c" --now 2026-11-24T00:00:00Z < "$input" 2> "$work/commit.err"
    t1=$(now_s)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    r=$(tail -n 1 "$work/rss"); (( r > rss )) && rss=$r
  done
  label="10k new contacts"; [[ $kind == upd ]] && label="10k updated contacts"
  printf '  %-34s %9.3f s   peak RSS %.1f MB   (%s)\n' "$label" "$(median "${times[@]}")" "$(awk -v k=$rss 'BEGIN{print k/1024}')" \
    "$(grep 'account commit:' "$work/commit.err")"
done
rm -rf "$work"

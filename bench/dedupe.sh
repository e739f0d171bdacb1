#!/usr/bin/env bash
# dedupe benchmark (issue "Import I"): a BENCH_N-record stream (default 1M; half of it already
# stored, 5 % repeats) against a BENCH_STORE-contact store (default 10M). Targets: ≥ 1M records/s
# and peak RSS ≤ 512 MB. Peers: `sort -u` and `awk '!seen[$0]++'` on the same stream's emails
# (they only find repeats; dedupe also checks every address against the store).
#
#   bench/dedupe.sh                                  # 1M stream, 10M store
#   BENCH_N=100k BENCH_STORE=1M bench/dedupe.sh      # quick
# The store is built once (account commit) and cached in bench/.out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MAILPIPE_BIN=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
for p in dedupe account; do
  [[ -x $MAILPIPE_BIN/$p ]] || (cd "$BENCH_ROOT" && swift build -c release --product $p >/dev/null)
done
N=$(count_of "${BENCH_N:-1M}")
STORE=$(count_of "${BENCH_STORE:-10M}")
state="$BENCH_OUT/dedupe-store-$STORE-s$BENCH_SEED"
stream=$(dataset "$N" --start $((STORE - N / 2)) --duplicates 5)
emails="$stream.emails"

bench_header "dedupe: $N-record stream against a $STORE-contact store"

# The marker names the run-index format the cached store was built with.
if [[ ! -f $state/.complete-idx2 ]]; then
  echo "bench: building the $STORE-contact store (once)" >&2
  rm -rf "$state"
  "$MAILPIPE_BIN/account" init --tenant sos-expat --state "$state" 2>/dev/null
  "$BENCH_GEN" --count "$STORE" --seed "$BENCH_SEED" \
    | "$MAILPIPE_BIN/account" commit --tenant sos-expat --state "$state" --now 2026-11-23T00:00:00Z 2>/dev/null
  "$MAILPIPE_BIN/account" compact --tenant sos-expat --state "$state" 2>/dev/null
  touch "$state/.complete-idx2"
fi
[[ -s $emails ]] || jq -r .email "$stream" > "$emails"
D="$MAILPIPE_BIN/dedupe --tenant sos-expat --state $state"

echo "== what the store index costs on its own (empty stream)"
bench_input /dev/null 0
timeit "dedupe, empty stream (index load)" "$D < /dev/null"

echo
echo "== the stream"
bench_input "$stream"
timeit "sort -u (emails)" "sort -u $emails"
timeit "awk '!seen[\$0]++' (emails)" "awk '!seen[\$0]++' $emails"
timeit --peer "sort -u (emails)" "dedupe (store + stream)" "$D --rejects /dev/null $stream"
timeit --peer "sort -u (emails)" "dedupe --keep-repeats | cat" "$D --keep-repeats $stream 2>/dev/null | cat"
timeit --runs 1 --peer "sort -u (emails)" "dedupe --canonical gmail" "$D --canonical gmail --rejects /dev/null $stream"

echo
$D --rejects /dev/null --stats "$BENCH_OUT/dedupe-stats.json" "$stream" > /dev/null
jq -c '{in, new, existing, repeats, store_hashes}' "$BENCH_OUT/dedupe-stats.json"
results_table "dedupe, $N records vs $STORE stored"
load=${RESULT_BY_LABEL["dedupe, empty stream (index load)"]}
total=${RESULT_BY_LABEL["dedupe (store + stream)"]}
echo "stream rate excluding the index load: $(human "$(awk -v n="$N" -v t="$total" -v l="$load" 'BEGIN { print n / (t - l) }')") records/s"

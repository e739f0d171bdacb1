#!/usr/bin/env bash
# ingest benchmark (issue "Import I", issue 15): a realistic CSV export of BENCH_N rows (default
# 1M) turned into contact records, against Miller's plain CSV → JSON Lines conversion of the same
# file (target: ingest ≥ 5× mlr). The export is written as exports are: phone numbers national
# (`06 12 34 56 78`, turned into E.164 with the row's country) in 7 of 10, country and language
# names in the contact's language (`Allemagne`, `Deutschland`, `Français`). Also the same contacts
# already canonical (codes, E.164), and NDJSON input against jq -c.
#
#   bench/ingest.sh             # 1M rows
#   BENCH_N=100k bench/ingest.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MAILPIPE_BIN=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
[[ -x $MAILPIPE_BIN/ingest ]] || (cd "$BENCH_ROOT" && swift build -c release --product ingest >/dev/null)
command -v mlr >/dev/null || bench_die "mlr (Miller) is needed: scripts/install-deps --bench"
I="$MAILPIPE_BIN/ingest --tenant sos-expat --now 2026-11-23T00:00:00Z"
N=$(count_of "${BENCH_N:-1M}")
csv=$(dataset_csv_export "$N")
canonical=$(dataset_csv "$N")
nd=$(dataset "$N")

bench_header "ingest: $N-row exports → canonical contacts"

# cpu_seconds CMD → user+system seconds of one run (wall time on a shared machine is noisy).
cpu_seconds() { /usr/bin/time -f '%U %S' -o /tmp/ingest-bench-cpu.$$ bash -o pipefail -c "$1" >/dev/null 2>&1; awk '{ print $1 + $2 }' /tmp/ingest-bench-cpu.$$; rm -f /tmp/ingest-bench-cpu.$$; }

echo "== CSV export (header + 11 columns, names in 9 scripts, national phones, country and language names, tags, websites)"
bench_input "$csv"
timeit "cat (I/O ceiling)" "cat $csv"
timeit "mlr --icsv --ojsonl cat" "mlr --icsv --ojsonl cat $csv"
timeit --peer "mlr --icsv --ojsonl cat" "ingest csv" "$I $csv 2>/dev/null"
timeit --peer "mlr --icsv --ojsonl cat" "ingest csv | cat (real pipe)" "$I $csv 2>/dev/null | cat"
mlr_cpu=$(cpu_seconds "mlr --icsv --ojsonl cat $csv")
ingest_cpu=$(cpu_seconds "$I $csv")
echo "  CPU seconds: mlr $mlr_cpu, ingest $ingest_cpu → $(ratio "$mlr_cpu" "$ingest_cpu") less CPU"

echo
echo "== CSV of the same contacts already canonical (ISO codes, E.164)"
bench_input "$canonical"
timeit "mlr --icsv --ojsonl cat (canonical)" "mlr --icsv --ojsonl cat $canonical"
timeit --peer "mlr --icsv --ojsonl cat (canonical)" "ingest csv (canonical)" "$I $canonical 2>/dev/null"

echo
echo "== NDJSON (already canonical records: aliases, normalisation and re-serialisation)"
bench_input "$nd"
timeit "jq -c . (parse + write)" "jq -c . $nd"
timeit --peer "jq -c . (parse + write)" "ingest ndjson" "$I --format ndjson $nd 2>/dev/null"

results_table "ingest, $N rows"

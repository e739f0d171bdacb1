#!/usr/bin/env bash
# bench/check-gen.sh — checks the contact generator: valid JSON, unique emails, average size,
# determinism, --start overlap, --duplicates rate, CSV that Miller reads, generation speed.
# Usage: bench/check-gen.sh            (BENCH_N records, default 1M; needs jq and mlr)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=$BENCH_N
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME CONDITION-RESULT(0/1) DETAIL
  if [[ $2 == 0 ]]; then printf '  ok    %-44s %s\n' "$1" "$3"; else printf '  FAIL  %-44s %s\n' "$1" "$3"; fails=$((fails + 1)); fi
}

gen_build
echo "gen-contacts checks, N=$n"
data="$tmp/c.ndjson"
gen_contacts --count "$n" > "$data"

bad=$( (jq -c . < "$data" > /dev/null 2>&1 && echo 0) || echo 1)
check "every line is valid JSON (jq)" "$bad" ""

lines=$(wc -l < "$data")
check "line count" $([[ $lines == "$n" ]] && echo 0 || echo 1) "$lines"

dups=$(jq -r .email < "$data" | LC_ALL=C sort | uniq -d | wc -l)
check "unique emails" $([[ $dups == 0 ]] && echo 0 || echo 1) "$dups repeated"

avg=$(awk -v b="$(file_size "$data")" -v n="$n" 'BEGIN { printf "%.0f", b / n }')
check "average record size ~400 bytes" $([[ $avg -ge 350 && $avg -le 460 ]] && echo 0 || echo 1) "$avg bytes"

a=$(gen_contacts --count "$n" | sha256sum | cut -c1-16)
b=$(sha256sum < "$data" | cut -c1-16)
check "deterministic (same args, same sha256)" $([[ $a == "$b" ]] && echo 0 || echo 1) "$a"

# Ids are global: a run starting inside the first one repeats its tail byte for byte.
half=$((n / 2))
same=$( (cmp -s <(gen_contacts --count "$half" --start "$half") <(tail -n "$half" "$data") && echo 0) || echo 1)
check "--start: overlapping ranges agree" "$same" ""
overlap=$(LC_ALL=C comm -12 <(gen_contacts --count "$half" --start $((n * 7)) | cut -d'"' -f8 | LC_ALL=C sort) \
  <(cut -d'"' -f8 "$data" | LC_ALL=C sort) | wc -l)
check "--start: disjoint ranges share no email" $([[ $overlap == 0 ]] && echo 0 || echo 1) "$overlap shared"

repeated=$(gen_contacts --count "$n" --duplicates 5 | cut -d'"' -f8 | LC_ALL=C sort | uniq -d -c | awk '{ s += $1 - 1 } END { print s + 0 }')
pct=$(awk -v r="$repeated" -v n="$n" 'BEGIN { printf "%.2f", 100 * r / n }')
check "--duplicates 5 repeats ~5 % of records" $(awk -v p="$pct" 'BEGIN { print (p > 4 && p < 6) ? 0 : 1 }') "$pct %"

csv="$tmp/c.csv"
gen_contacts --count "$n" --format csv > "$csv"
rows=$(mlr --icsv --ojsonl cat "$csv" | wc -l)
check "CSV parses with Miller, same row count" $([[ $rows == "$n" ]] && echo 0 || echo 1) "$rows rows"
k=$((n < 100000 ? n : 100000))
same=$( (cmp -s <(head -n $((k + 1)) "$csv" | mlr --icsv --ojsonl cat | jq -r '[.email, .company, .last_name, .tags] | @tsv') \
  <(head -n "$k" "$data" | jq -r '[.email, (.company // ""), .last_name, (.tags | join("|"))] | @tsv') && echo 0) || echo 1)
check "CSV holds the same data as NDJSON" "$same" "first $k rows"

echo
bench_input "$data"
results_reset
timeit "gen-contacts ndjson" "$BENCH_GEN --count $n"
bench_input "$csv"
timeit "gen-contacts csv" "$BENCH_GEN --count $n --format csv"
echo
if [[ $fails -gt 0 ]]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"

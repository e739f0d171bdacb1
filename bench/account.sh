#!/usr/bin/env bash
# Bookkeeping benchmarks:
#  1. 1 M PowerMTA accounting rows into a 1 M-contact tenant (`account events --pmta`), target ≤ 5 s;
#  2. `account report` over 10 M events, target ≤ 10 s, against Miller counting the same
#     per-type figures from the same log (zcat | mlr count -g type,bounce_class).
# Sizes: CONTACTS (1000000), ROWS (1000000), EVENTS (10000000, a multiple of ROWS).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ -f bench/lib.sh ]; then source bench/lib.sh; fi
CONTACTS=${CONTACTS:-1000000}
ROWS=${ROWS:-1000000}
EVENTS=${EVENTS:-10000000}
OUT=${BENCH_OUT:-$root/bench/.out}
mkdir -p "$OUT"
BIN="$root/.build/release"
[ -x "$BIN/account" ] || swift build -c release --product account >/dev/null
[ -x "$OUT/gen-contacts" ] || swiftc -O bench/gen-contacts.swift -o "$OUT/gen-contacts"
export MAILPIPE_STATE="$OUT/state-account"
rm -rf "$MAILPIPE_STATE"
T=benchbooks
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo "scale=2; ($e - $s) / 1000000000" | bc; }

echo "== setup: $CONTACTS contacts"
"$OUT/gen-contacts" --count "$CONTACTS" --tenant $T > "$OUT/contacts.ndjson"
"$BIN/account" init --tenant $T 2>/dev/null
"$BIN/account" commit --tenant $T "$OUT/contacts.ndjson" 2>/dev/null
grep -o '"email":"[^"]*"' "$OUT/contacts.ndjson" | cut -d'"' -f4 > "$OUT/emails.txt"

# Accounting rows: 90 % d, 3 % b hard, 3 % b soft, 2 % t, 1 % f, 1 % rs; file k uses other times (new ids).
make_rows() {  # file-number
  awk -v k="$1" -v n="$ROWS" 'BEGIN { print "type,timeLogged,timeQueued,orig,rcpt,dsnAction,dsnStatus,dsnDiag,bounceCat,vmta,jobId" }
    { emails[NR - 1] = $0 } END {
      m = NR
      for (i = 0; i < n; i++) {
        e = emails[(i * 7 + k * 13) % m]; r = i % 100
        t = sprintf("2026-11-%02d %02d:%02d:%02d+0000", 1 + k % 28, int(i / 3600) % 24, int(i / 60) % 60, i % 60)
        v = "vmta-" (i % 4)
        if (r < 90) printf "d,%s,%s,news@x.example,%s,delivered,2.0.0 (success),smtp;250 ok,,%s,camp-%d\n", t, t, e, v, k
        else if (r < 93) printf "b,%s,%s,news@x.example,%s,failed,5.1.1 (bad mailbox),\"smtp;550 5.1.1 user unknown, sorry\",bad-mailbox,%s,camp-%d\n", t, t, e, v, k
        else if (r < 96) printf "b,%s,%s,news@x.example,%s,failed,4.2.2 (full),smtp;452 full,quota-issues,%s,camp-%d\n", t, t, e, v, k
        else if (r < 98) printf "t,%s,%s,news@x.example,%s,delayed,4.4.1 (no answer),,no-answer-from-host,%s,camp-%d\n", t, t, e, v, k
        else if (r < 99) printf "f,%s,%s,news@x.example,%s,,,,,%s,camp-%d\n", t, t, e, v, k
        else printf "rs,%s,%s,news@x.example,%s,relayed,2.0.0,,,%s,camp-%d\n", t, t, e, v, k } }' "$OUT/emails.txt"
}
make_rows 0 > "$OUT/acct-0.csv"
load() { echo "  (load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"; }
echo "== 1. account events: $ROWS accounting rows into $CONTACTS contacts ($(du -h "$OUT/acct-0.csv" | cut -f1))"
load
t_events=$(secs "$BIN/account" events --tenant $T --now 2026-12-01T00:00:00Z --pmta "$OUT/acct-0.csv")
t_again=$(secs "$BIN/account" events --tenant $T --now 2026-12-01T00:00:00Z --pmta "$OUT/acct-0.csv")
t_mlr_csv=$(secs mlr --icsv --ojson count -g type "$OUT/acct-0.csv")
echo "account events          ${t_events} s (target ≤ 5 s)"
echo "  same file again        ${t_again} s (all duplicates)"
echo "  peer: mlr count -g type over the CSV  ${t_mlr_csv} s  ratio $(echo "scale=2; $t_mlr_csv / $t_events" | bc)x"

echo "== 2. account report over $EVENTS events"
k=1
while [ "$(( k * ROWS ))" -lt "$EVENTS" ]; do
  make_rows $k > "$OUT/acct-k.csv"
  "$BIN/account" events --tenant $T --now 2026-12-01T00:00:00Z --pmta "$OUT/acct-k.csv" 2>/dev/null
  k=$((k + 1))
done
rm -f "$OUT/acct-k.csv"
ev="$MAILPIPE_STATE/$T/events.ndjson.gz"
echo "event log: $(zcat "$ev" | wc -l) events, $(du -h "$ev" | cut -f1) compressed"
load
t_report=$(secs "$BIN/account" report --tenant $T --json)
t_zcat=$(secs sh -c "zcat '$ev' > /dev/null")
t_mlr=$(secs sh -c "zcat '$ev' | mlr --ijsonl --ojson count -g type,bounce_class")
echo "account report --json   ${t_report} s (target ≤ 10 s; includes the 1 M-contact scan)"
echo "  peer: zcat alone       ${t_zcat} s"
echo "  peer: zcat | mlr count -g type,bounce_class  ${t_mlr} s  ratio $(echo "scale=2; $t_mlr / $t_report" | bc)x"
"$BIN/account" report --tenant $T --json | head -1 | cut -c1-400

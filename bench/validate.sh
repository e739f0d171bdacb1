#!/usr/bin/env bash
# validate benchmark (issue 4): checks without DNS over BENCH_N contacts (default 1M) against
# a jq regex syntax check, and --mx over 10k distinct domains against a local dnsmasq, with
# dig's batch mode (-f, one query after another) as the DNS peer.
#
#   bench/validate.sh                 # 1M contacts, 10k domains
#   BENCH_N=100k MX_DOMAINS=2000 bench/validate.sh
# Targets: checks without DNS ≤ 3 s for 1M contacts; MX for 10k domains ≤ 5 s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MAILPIPE_BIN=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
[[ -x $MAILPIPE_BIN/validate ]] || (cd "$BENCH_ROOT" && swift build -c release --product validate >/dev/null)
V=$MAILPIPE_BIN/validate
N=$(count_of "${BENCH_N:-1M}")
D=$(count_of "${MX_DOMAINS:-10k}")
data=$(dataset "$N")

bench_header "validate: $N contacts; --mx over $D domains"

echo "== syntax + disposable + role + typo (no DNS)"
bench_input "$data"
re='^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$'
timeit "jq regex syntax check" \
  "jq -c '.validation = {verdict: (if (.email | test(\"$re\")) then \"valid\" else \"invalid\" end)}' $data"
timeit --peer "jq regex syntax check" "validate" "$V < $data 2>/dev/null"
timeit --peer "jq regex syntax check" "validate --fix-typos --only valid,risky" "$V --fix-typos --only valid,risky < $data 2>/dev/null"
"$V" --stats "$BENCH_OUT/validate.stats" < "$data" > /dev/null
echo "   verdicts: $(jq -c .verdicts "$BENCH_OUT/validate.stats")  reasons: $(jq -c .reasons "$BENCH_OUT/validate.stats")"

echo
echo "== --mx over $D distinct domains (local dnsmasq on 127.0.0.1)"
dns=$BENCH_OUT/dns
mkdir -p "$dns"
bash "$BENCH_ROOT/Tests/Servers/stop-dnsmasq.sh" "$dns" >/dev/null 2>&1 || true
# Domains under .net (special-use names such as .test would be refused before any lookup).
awk -v n="$D" 'BEGIN { for (i = 1; i <= n; i++) { d = sprintf("d%06d.mpbench.net", i)
  print d " MX 10 mx." d; print "mx." d " A 127.0.0.1" } }' > "$dns/records.txt"
server=$(bash "$BENCH_ROOT/Tests/Servers/start-dnsmasq.sh" "$dns" 0 --no-fixture --records "$dns/records.txt")
trap 'bash "$BENCH_ROOT/Tests/Servers/stop-dnsmasq.sh" "$dns" >/dev/null 2>&1 || true' EXIT
awk -v n="$D" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"email\":\"user%d@d%06d.mpbench.net\"}\n", i, i }' > "$dns/contacts.ndjson"
awk -v n="$D" 'BEGIN { for (i = 1; i <= n; i++) printf "d%06d.mpbench.net MX\n", i }' > "$dns/queries.txt"
bench_input "$dns/contacts.ndjson"
timeit --runs 1 "dig -f (sequential MX)" "dig @127.0.0.1 -p ${server##*:} +short +tries=1 +time=2 -f $dns/queries.txt"
timeit --runs 1 --peer "dig -f (sequential MX)" "validate --mx" "$V --mx --dns $server < $dns/contacts.ndjson 2>/dev/null"
"$V" --mx --dns "$server" --stats "$BENCH_OUT/validate-mx.stats" < "$dns/contacts.ndjson" > /dev/null
echo "   $(jq -c '{valid, risky, invalid, dns_domains, dns_queries}' "$BENCH_OUT/validate-mx.stats")"
results_table "validate: all results"

#!/usr/bin/env bash
# validate benchmark (issue 4): checks without DNS over BENCH_N contacts (default 1M) against
# a jq regex syntax check, and --mx over 10k distinct domains (each: MX, then the MX host's
# address) against two local DNS servers, with dig's batch mode (-f, one query after another)
# as the DNS peer:
#   - dnsmasq (the tests' server, Tests/Servers/start-dnsmasq.sh): it puts the MX host's A
#     record in the additional section, so validate needs one query per domain; but dnsmasq
#     keeps --mx-host records in a linked list walked on every query (any type), so its cost
#     per query grows with the number of MX records: 10k MX records ≈ 130–190 µs of server CPU
#     per query, and the run is bound by the server (the script prints the server's CPU).
#   - unbound (if installed: scripts/install-deps --bench), the same records as local-data
#     (a tree: constant cost per query); no additional section, so validate also asks the
#     A record of each MX host (two queries per domain).
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
clean=$(dataset "$N")
# The generated addresses are all deliverable-looking; a copy with about 12% of them dirtied
# (a typo'd provider domain every 20th, a role account every 20th, a disposable domain every
# 50th, a syntax error every 100th) makes every check produce its verdicts.
data=${clean%.ndjson}-dirty.ndjson
if [[ ! -s $data || $data -ot $clean ]]; then
  echo "bench: dirtying $(basename "$clean")" >&2
  awk 'BEGIN { split("gmial.com hotmial.com yahooo.fr outlok.com gmail.con orange.fe wanadoo.ft gnx.de", typo, " ")
               split("info contact kontakt ventas compta support noreply accueil", role, " ")
               split("mailinator.com yopmail.fr guerrillamail.com trashmail.de", junk, " ") }
    match($0, /"email":"[^"@]*@[^"]*"/) {
      e = substr($0, RSTART + 9, RLENGTH - 10); at = index(e, "@"); local = substr(e, 1, at - 1); dom = substr(e, at + 1)
      if (NR % 20 == 1) dom = typo[1 + int(NR / 20) % 8]
      else if (NR % 20 == 2) local = role[1 + int(NR / 20) % 8]
      else if (NR % 50 == 3) dom = junk[1 + int(NR / 50) % 4]
      else if (NR % 100 == 4) local = local "@"
      $0 = substr($0, 1, RSTART - 1) "\"email\":\"" local "@" dom "\"" substr($0, RSTART + RLENGTH)
    }
    { print }' "$clean" > "$data.tmp.$$" && mv -f "$data.tmp.$$" "$data"
fi

bench_header "validate: $N contacts; --mx over $D domains"

echo "== syntax + disposable + role + typo (no DNS)"
bench_input "$data"
re='^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$'
timeit "jq regex syntax check" \
  "jq -c '.validation = {verdict: (if (.email | test(\"$re\")) then \"valid\" else \"invalid\" end)}' $data"
timeit --peer "jq regex syntax check" "validate" "$V < $data 2>/dev/null"
timeit --peer "jq regex syntax check" "validate --fix-typos --verdict valid,risky" "$V --fix-typos --only valid,risky < $data 2>/dev/null"
# CPU time too: on a shared machine the wall time includes waiting for a core.
/usr/bin/time -f "%U %S" -o "$BENCH_OUT/validate.cpu" "$V" --stats "$BENCH_OUT/validate.stats" < "$data" > /dev/null 2>&1
cpu=$(tail -1 "$BENCH_OUT/validate.cpu")
echo "   validate CPU for one run: user $(echo "$cpu" | cut -d' ' -f1) s, system $(echo "$cpu" | cut -d' ' -f2) s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "   verdicts: $(jq -c .verdicts "$BENCH_OUT/validate.stats")  reasons: $(jq -c .reasons "$BENCH_OUT/validate.stats")"

# server_cpu PID → the process's CPU time so far, in clock ticks (user + system)
server_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# mx_run LABEL PID SERVER → one --mx run with its stats and the DNS server's CPU during it
mx_run() {
  local label=$1 pid=$2 server=$3 before after hz
  hz=$(getconf CLK_TCK)
  before=$(server_cpu "$pid")
  "$V" --mx --dns "$server" --stats "$BENCH_OUT/validate-mx.stats" < "$dns/contacts.ndjson" > /dev/null
  after=$(server_cpu "$pid")
  echo "   $label: $(jq -c '{valid, risky, invalid, dns_domains, dns_queries}' "$BENCH_OUT/validate-mx.stats")"
  awk -v t=$((after - before)) -v hz="$hz" -v q="$(jq .dns_queries "$BENCH_OUT/validate-mx.stats")" -v l="$label" \
    'BEGIN { printf "   %s server CPU during one run: %.2f s (%.0f µs per query)\n", l, t / hz, (q > 0 ? t / hz / q * 1e6 : 0) }'
}

echo
echo "== --mx over $D distinct domains, MX then the MX host's address (local servers on 127.0.0.1)"
echo "   load: $(cut -d' ' -f1-3 /proc/loadavg)"
dns=$BENCH_OUT/dns
mkdir -p "$dns"
bash "$BENCH_ROOT/Tests/Servers/stop-dnsmasq.sh" "$dns" >/dev/null 2>&1 || true
stop_unbound() { [[ -s $dns/unbound.pid ]] && kill "$(cat "$dns/unbound.pid")" 2>/dev/null; rm -f "$dns/unbound.pid"; }
stop_unbound || true
# Domains under .net (special-use names such as .test would be refused before any lookup).
awk -v n="$D" 'BEGIN { for (i = 1; i <= n; i++) { d = sprintf("d%06d.mpbench.net", i)
  print d " MX 10 mx." d; print "mx." d " A 127.0.0.1" } }' > "$dns/records.txt"
server=$(bash "$BENCH_ROOT/Tests/Servers/start-dnsmasq.sh" "$dns" 0 --no-fixture --records "$dns/records.txt")
trap 'bash "$BENCH_ROOT/Tests/Servers/stop-dnsmasq.sh" "$dns" >/dev/null 2>&1 || true; stop_unbound || true' EXIT
awk -v n="$D" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"email\":\"user%d@d%06d.mpbench.net\"}\n", i, i }' > "$dns/contacts.ndjson"
awk -v n="$D" 'BEGIN { for (i = 1; i <= n; i++) printf "d%06d.mpbench.net MX\n", i }' > "$dns/queries.txt"
bench_input "$dns/contacts.ndjson"
echo "-- dnsmasq $server"
timeit --runs 1 "dig -f (sequential MX), dnsmasq" "dig @127.0.0.1 -p ${server##*:} +short +tries=1 +time=2 -f $dns/queries.txt"
timeit --runs 1 --peer "dig -f (sequential MX), dnsmasq" "validate --mx, dnsmasq" "$V --mx --dns $server < $dns/contacts.ndjson 2>/dev/null"
mx_run dnsmasq "$(cat "$dns/dnsmasq.pid")" "$server"

if command -v unbound >/dev/null || [[ -x /usr/sbin/unbound ]]; then
  ub_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  {
    cat <<CONF
server:
  interface: 127.0.0.1
  port: $ub_port
  do-daemonize: yes
  pidfile: "$dns/unbound.pid"
  username: ""
  chroot: ""
  directory: "$dns"
  logfile: "$dns/unbound.log"
  use-syslog: no
  verbosity: 0
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  # Nothing is ever asked upstream: unknown names are NXDOMAIN.
  local-zone: "." static
  local-zone: "mpbench.net." static
CONF
    awk '{ printf "  local-data: \"%s. 60 IN %s %s\"\n", $1, $2, ($2 == "MX" ? $3 " " $4 "." : $3) }' "$dns/records.txt"
  } > "$dns/unbound.conf"
  "$(command -v unbound || echo /usr/sbin/unbound)" -c "$dns/unbound.conf"
  for _ in $(seq 50); do [[ -s $dns/unbound.pid ]] && break; sleep 0.1; done
  userver=127.0.0.1:$ub_port
  echo "-- unbound $userver"
  timeit --runs 1 "dig -f (sequential MX), unbound" "dig @127.0.0.1 -p $ub_port +short +tries=1 +time=2 -f $dns/queries.txt"
  timeit --peer "dig -f (sequential MX), unbound" "validate --mx, unbound" "$V --mx --dns $userver < $dns/contacts.ndjson 2>/dev/null"
  mx_run unbound "$(cat "$dns/unbound.pid")" "$userver"
else
  echo "-- unbound not installed (scripts/install-deps --bench): skipped"
fi
results_table "validate: all results"

#!/usr/bin/env bash
# validate --mx against a real DNS server: dnsmasq on 127.0.0.1 with MX, A, AAAA, Null MX,
# missing names, SERVFAIL and TIMEOUT names; and a port nobody answers.
source "$(dirname "$0")/lib.sh"
# quiet_status CMD… — the exit status of CMD, its output discarded
quiet_status() { set +e; "$@" >/dev/null 2>&1; local s=$?; set -e; echo "$s"; }
servers="$REPO/Tests/Servers"
[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null || "$REPO/scripts/install-deps" --test >/dev/null
dns="$WORK/dns"
mkdir -p "$dns"
trap 'bash "$servers/stop-dnsmasq.sh" "$dns" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
# Names under .net (not a special-use TLD): this dnsmasq never forwards, so nothing leaves the machine.
cat > "$WORK/records" <<'REC'
mx-ok.mpfix.net          MX 10 mx1.mx-ok.mpfix.net
mx1.mx-ok.mpfix.net      A 127.0.0.1
# The preferred host does not exist, the backup has an address: mail goes to the backup.
multi.mpfix.net          MX 10 a.multi.mpfix.net
multi.mpfix.net          MX 20 b.multi.mpfix.net
b.multi.mpfix.net        A 127.0.0.1
# An MX host with only an IPv6 address.
mx-v6.mpfix.net          MX 10 mx.mx-v6.mpfix.net
mx.mx-v6.mpfix.net       AAAA ::1
# An MX host that is an alias: its address is not in the MX reply, an A query finds it.
mx-alias.mpfix.net       MX 10 alias.mx-alias.mpfix.net
alias.mx-alias.mpfix.net CNAME real.mx-alias.mpfix.net
real.mx-alias.mpfix.net  A 127.0.0.1
a-only.mpfix.net         A 127.0.0.1
aaaa-only.mpfix.net      AAAA ::1
null-mx.mpfix.net        NULLMX
null-mx.mpfix.net        A 127.0.0.1
xn--bcher-kva.mpfix.net  MX 10 mx.xn--bcher-kva.mpfix.net
mx.xn--bcher-kva.mpfix.net A 127.0.0.1
txt-only.mpfix.net       TXT v=spf1 -all
# MX hosts without an address: one that exists with no A/AAAA, one that does not exist (the
# domain itself has an address: the MX still wins, RFC 5321 §5.1), and two domains sharing
# one missing host (looked up once).
mx-noaddr.mpfix.net      MX 10 host.noaddr.mpfix.net
host.noaddr.mpfix.net    TXT no address here
mx-nx.mpfix.net          MX 10 gone.mpfix.net
mx-nx.mpfix.net          A 127.0.0.1
mx-shared1.mpfix.net     MX 10 gone-shared.mpfix.net
mx-shared2.mpfix.net     MX 10 gone-shared.mpfix.net
# An MX host whose lookup times out: DNS could not tell.
mx-slow.mpfix.net        MX 10 mx.timeout.mpfix.net
servfail.mpfix.net       SERVFAIL
timeout.mpfix.net        TIMEOUT
REC
server=$(bash "$servers/start-dnsmasq.sh" "$dns" 0 --no-fixture --records "$WORK/records")

for d in mx-ok multi mx-v6 mx-alias a-only aaaa-only null-mx bücher txt-only nx mx-noaddr mx-nx mx-shared1 mx-shared2 mx-slow servfail timeout; do
  echo "{\"email\":\"bob@$d.mpfix.net\"}"
  echo "{\"email\":\"alice@$d.mpfix.net\"}"   # a second address: the cache answers it
done > "$WORK/in.ndjson"
echo '{"email":"bad@@mx-ok.mpfix.net"}' >> "$WORK/in.ndjson"
out=$(validate --mx --dns "$server" --dns-timeout 400 --dns-tries 1 --stats "$WORK/stats" < "$WORK/in.ndjson")
verdicts=$(echo "$out" | jq -r '[.email, .validation.verdict, (.validation.reasons | join(","))] | join(" ")' | sed -n '1~2p')
expected="bob@mx-ok.mpfix.net valid 
bob@multi.mpfix.net valid 
bob@mx-v6.mpfix.net valid 
bob@mx-alias.mpfix.net valid 
bob@a-only.mpfix.net valid 
bob@aaaa-only.mpfix.net valid 
bob@null-mx.mpfix.net invalid no_mx
bob@bücher.mpfix.net valid 
bob@txt-only.mpfix.net invalid no_mx
bob@nx.mpfix.net invalid no_mx
bob@mx-noaddr.mpfix.net invalid no_mx_address
bob@mx-nx.mpfix.net invalid no_mx_address
bob@mx-shared1.mpfix.net invalid no_mx_address
bob@mx-shared2.mpfix.net invalid no_mx_address
bob@mx-slow.mpfix.net risky dns_unknown
bob@servfail.mpfix.net risky dns_unknown
bob@timeout.mpfix.net risky dns_unknown
bad@@mx-ok.mpfix.net invalid syntax"
assert_eq "$verdicts" "$expected" "MX verdicts"
assert_eq "$(echo "$out" | sed -n 1p | jq -r .validation.score)" 100 "DNS-confirmed score"
assert_eq "$(echo "$out" | sed -n 2p | jq -r .validation.verdict)" valid "second address of a domain"
assert_eq "$(jq -r .dns_domains "$WORK/stats")" 17 "one lookup per domain (cache)"
# Queries: 17 MX; the hosts of mx-ok, multi (b), mx-v6, bücher came with the MX reply (additional section);
# 11 more: mx-alias 1 (its host by A), a-only 1, aaaa-only 2, txt-only 2, mx-noaddr 2 (A, AAAA), mx-nx 1, gone-shared 1 (once for both), mx-slow 1.
assert_eq "$(jq -r .dns_queries "$WORK/stats")" 28 "MX host addresses from the additional section; shared hosts looked up once"
assert_eq "$(jq -r .in "$WORK/stats")" 35 "in"
assert_eq "$(jq -r .out "$WORK/stats")" 35 "out"
assert_eq "$(echo "$out" | jq -r .email | tr '\n' ' ' | md5sum)" "$(jq -r .email "$WORK/in.ndjson" | tr '\n' ' ' | md5sum)" "input order kept"

# A port nobody answers: every lookup times out → risky dns_unknown, never invalid.
silent=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c 'import socket,time,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1]))); time.sleep(20)' "$silent" &
sink=$!
sleep 0.2
out=$(printf '%s\n' '{"email":"a@mx-ok.mpfix.net"}' '{"email":"b@nx.mpfix.net"}' \
  | validate --mx --dns "127.0.0.1:$silent" --dns-timeout 300 --dns-tries 1 2>/dev/null)
kill "$sink" 2>/dev/null || true
assert_eq "$(echo "$out" | jq -r '.validation.verdict + " " + (.validation.reasons|join(","))' | tr '\n' '|')" "risky dns_unknown|risky dns_unknown|" "silent server"
# Bad --dns
assert_eq "$(quiet_status validate --mx --dns 'not an address' < /dev/null)" 2 "bad --dns"
done_ok

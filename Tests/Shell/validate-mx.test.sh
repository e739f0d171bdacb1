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
multi.mpfix.net          MX 10 a.multi.mpfix.net
multi.mpfix.net          MX 20 b.multi.mpfix.net
a-only.mpfix.net         A 127.0.0.1
aaaa-only.mpfix.net      AAAA ::1
null-mx.mpfix.net        NULLMX
null-mx.mpfix.net        A 127.0.0.1
xn--bcher-kva.mpfix.net  MX 10 mx.xn--bcher-kva.mpfix.net
txt-only.mpfix.net       TXT v=spf1 -all
servfail.mpfix.net       SERVFAIL
timeout.mpfix.net        TIMEOUT
REC
server=$(bash "$servers/start-dnsmasq.sh" "$dns" 0 --no-fixture --records "$WORK/records")

for d in mx-ok multi a-only aaaa-only null-mx bücher txt-only nx servfail timeout; do
  echo "{\"email\":\"bob@$d.mpfix.net\"}"
  echo "{\"email\":\"alice@$d.mpfix.net\"}"   # a second address: the cache answers it
done > "$WORK/in.ndjson"
echo '{"email":"bad@@mx-ok.mpfix.net"}' >> "$WORK/in.ndjson"
out=$(validate --mx --dns "$server" --dns-timeout 400 --dns-tries 1 --stats "$WORK/stats" < "$WORK/in.ndjson")
verdicts=$(echo "$out" | jq -r '[.email, .validation.verdict, (.validation.reasons | join(","))] | join(" ")' | sed -n '1~2p')
expected="bob@mx-ok.mpfix.net valid 
bob@multi.mpfix.net valid 
bob@a-only.mpfix.net valid 
bob@aaaa-only.mpfix.net valid 
bob@null-mx.mpfix.net invalid no_mx
bob@bücher.mpfix.net valid 
bob@txt-only.mpfix.net invalid no_mx
bob@nx.mpfix.net invalid no_mx
bob@servfail.mpfix.net risky dns_unknown
bob@timeout.mpfix.net risky dns_unknown
bad@@mx-ok.mpfix.net invalid syntax"
assert_eq "$verdicts" "$expected" "MX verdicts"
assert_eq "$(echo "$out" | sed -n 1p | jq -r .validation.score)" 100 "DNS-confirmed score"
assert_eq "$(echo "$out" | sed -n 2p | jq -r .validation.verdict)" valid "second address of a domain"
assert_eq "$(jq -r .dns_domains "$WORK/stats")" 10 "one lookup per domain (cache)"
assert_eq "$(jq -r .in "$WORK/stats")" 21 "in"
assert_eq "$(jq -r .out "$WORK/stats")" 21 "out"
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

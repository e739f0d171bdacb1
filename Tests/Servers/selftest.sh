#!/usr/bin/env bash
# selftest.sh — start every test server, check it with real traffic on 127.0.0.1, stop it.
# Prints "servers: N passed, N failed"; exits 1 when a check failed.
# Postfix needs root; without root its checks are skipped (and reported as skipped).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
ensure_pkg curl curl

work=$(mktemp -d "${TMPDIR:-/tmp}/mailpipe-servers.XXXXXX")
chmod 755 "$work"   # the postfix and nobody users must reach the Postfix instance under it
passed=0 failed=0 skipped=0

cleanup() {
  "$here/stop-mailwizz-double.sh" "$work/mw" >/dev/null 2>&1 || true
  [[ ! -f $work/pf/conf/main.cf ]] || "$here/stop-postfix.sh" "$work/pf" >/dev/null 2>&1 || true
  "$here/stop-smtp-sink.sh" "$work/sink" >/dev/null 2>&1 || true
  "$here/stop-dnsmasq.sh" "$work/dns" >/dev/null 2>&1 || true
  "$here/stop-dnsmasq.sh" "$work/dns-bench" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

check() {  # check NAME COMMAND...
  local name=$1; shift
  if "$@" >"$work/check.out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$work/check.out" | tail -5
  fi
}

# ---------------------------------------------------------------- MailWizz double
mw_started() { base=$("$here/start-mailwizz-double.sh" "$work/mw" --seed 1) && [[ $base == http://127.0.0.1:*/api ]]; }
check "mailwizz: starts on 127.0.0.1" mw_started
mw_port=$(<"$work/mw/port")
ctl=http://127.0.0.1:$mw_port
export MW_KEY_FILE=$work/mw/api-key

# mw METHOD PATH [curl args…]: prints "CODE BODY".
mw() {
  local method=$1 path=$2; shift 2
  curl -s -X "$method" -H "X-API-KEY: $(<"$MW_KEY_FILE")" -w '\n%{http_code}' "$@" "$base$path" \
    | { body=$(cat); echo "${body##*$'\n'} ${body%$'\n'*}"; }
}
expect() {  # expect CODE [SUBSTRING] -- METHOD PATH [curl args…]
  local code=$1 sub=${2:-}; shift 2; [[ ${1:-} == -- ]] && shift
  local out; out=$(mw "$@"); echo "$out"
  [[ ${out%% *} == "$code" && ( -z $sub || $out == *"$sub"* ) ]]
}
L=testlist00001

no_key() { curl -s -o /dev/null -w '%{http_code}' "$base/lists" | grep -qx 400; }
check "mailwizz: missing key is 400" no_key
check "mailwizz: create 201" expect 201 '"subscriber_uid"' -- POST "/lists/$L/subscribers" \
  --data-urlencode EMAIL=Ann@Example.com -d FNAME=Ann
check "mailwizz: duplicate (other case) 409" expect 409 "already exists" -- POST "/lists/$L/subscribers" \
  -d EMAIL=ann@example.COM
check "mailwizz: JSON POST ignored, 422" expect 422 "email address" -- POST "/lists/$L/subscribers" \
  -H 'Content-Type: application/json' -d '{"EMAIL":"json@example.com"}'
check "mailwizz: unknown list 404" expect 404 "does not exist" -- POST "/lists/nosuchlist/subscribers" \
  -d EMAIL=x@example.com
check "mailwizz: search, encoded" expect 200 '"status":"unconfirmed"' -- GET \
  "/lists/$L/subscribers/search-by-email?EMAIL=ann%40example.com"
expect 201 "" -- POST "/lists/$L/subscribers" --data-urlencode EMAIL=a+b@example.com >/dev/null
check "mailwizz: search, raw + becomes a space (422)" expect 422 "valid email" -- GET \
  "/lists/$L/subscribers/search-by-email?EMAIL=a+b@example.com"
check "mailwizz: update unknown uid 409" expect 409 "" -- PUT "/lists/$L/subscribers/zzzzzzzzzzzzz" -d FNAME=x

bulk_truncated() {
  python3 - "$base" "$(<"$MW_KEY_FILE")" <<'PY'
import json, sys, urllib.parse, urllib.request
base, key = sys.argv[1], sys.argv[2]
form = [(f"subscribers[{i}][{t}]", v) for i in range(400)
        for t, v in (("EMAIL", f"bulk{i}@example.com"), ("FNAME", "F"), ("LNAME", "L"))]
req = urllib.request.Request(base + "/lists/testlist00001/subscribers/bulk",
                             data=urllib.parse.urlencode(form).encode(),
                             headers={"X-API-KEY": key}, method="POST")
with urllib.request.urlopen(req) as r:
    code, recs = r.status, json.load(r)["data"]["records"]
print(code, len(recs))
# max_input_vars=1000 keeps 1000 of the 1200 fields: 333 whole subscribers + 1 e-mail only.
assert code == 201 and len(recs) == 334, (code, len(recs))
assert all("subscriber_uid" in r["data"] for r in recs)
PY
}
check "mailwizz: bulk truncated by max_input_vars" bulk_truncated

fail_next() {
  curl -sf -X POST -d '{"fail_next":{"count":2,"code":503}}' "$ctl/__control" >/dev/null
  expect 503 "Service Unavailable." -- GET /lists && expect 503 "" -- GET /lists && expect 200 "" -- GET /lists
}
check "mailwizz: fail_next 2 x 503, then 200" fail_next
mutex() {
  curl -sf -X POST -d '{"faults":{"p_mutex":1}}' "$ctl/__control" >/dev/null
  expect 409 "mutex lock" -- POST "/lists/$L/subscribers" -d EMAIL=m@example.com
  curl -sf -X POST -d '{"clear_faults":true}' "$ctl/__control" >/dev/null
}
check "mailwizz: mutex 409" mutex
state_counts() {
  curl -sf "$ctl/__state" | python3 -c '
import json, sys
s = json.load(sys.stdin)
subs = s["lists"]["testlist00001"]["subscribers"]
print(len(subs), s["requests"].get("list_subscribers/create"), s["faults_injected"])
assert len(subs) == 2 + 334 and s["requests"]["list_subscribers/create"] == 6 and s["faults_injected"] == 3'
}
check "mailwizz: /__state holds subscribers and counters" state_counts
mw_stopped() { "$here/stop-mailwizz-double.sh" "$work/mw" && ! tcp_open "$mw_port"; }
check "mailwizz: stops" mw_stopped

# ---------------------------------------------------------------- Postfix
if [[ $(id -u) -eq 0 ]]; then
  pf_started() { pf_url=$("$here/start-postfix.sh" "$work/pf" 0) && [[ $pf_url == smtp://127.0.0.1:* ]]; }
  check "postfix: starts on 127.0.0.1" pf_started
  pf_port=$(<"$work/pf/port")
  printf 'From: a@sender.test\r\nTo: x@any.example\r\nSubject: selftest\r\n\r\nhello\r\n' >"$work/msg.eml"
  pf_send() {
    curl -sS "smtp://127.0.0.1:$pf_port" --mail-from a@sender.test \
      --mail-rcpt x@any.example --mail-rcpt 'jörg@bücher.test' -T "$work/msg.eml"
  }
  check "postfix: accepts mail for any domain (incl. SMTPUTF8)" pf_send
  maildir_has() { [[ $(find "$work/pf/Maildir/new" -type f | wc -l) -ge $1 ]]; }
  pf_delivered() {
    wait_until 15 maildir_has 2 && grep -l 'Delivered-To: x@any.example' "$work/pf/Maildir/new"/* \
      && grep -l 'Delivered-To: jörg@' "$work/pf/Maildir/new"/*
  }
  check "postfix: both recipients in DIR/Maildir" pf_delivered
  pf_stopped() {
    local master; master=$(tr -dc 0-9 <"$work/pf/spool/pid/master.pid")
    "$here/stop-postfix.sh" "$work/pf" && ! tcp_open "$pf_port" && pid_gone "$master"
  }
  check "postfix: stops" pf_stopped
else
  skipped=$((skipped + 4)); echo "SKIP: postfix checks (the private instance needs root)"
fi

# ---------------------------------------------------------------- smtp-sink
sink_started() { sink_url=$("$here/start-smtp-sink.sh" 0 "$work/sink") && [[ $sink_url == smtp://127.0.0.1:* ]]; }
if [[ $(id -u) -eq 0 ]] || command -v smtp-sink >/dev/null 2>&1 || [[ -x /usr/sbin/smtp-sink ]]; then
  check "smtp-sink: starts" sink_started
  sink_port=$(<"$work/sink/port")
  printf 'Subject: x\r\n\r\nx\r\n' >"$work/sink.eml"
  sink_curl() { curl -sS "smtp://127.0.0.1:$sink_port" --mail-from a@b.test --mail-rcpt c@d.test -T "$work/sink.eml"; }
  check "smtp-sink: accepts a message (curl)" sink_curl
  sink_source() { /usr/sbin/smtp-source -4 -s 4 -m 200 -f a@b.test -t c@d.test "127.0.0.1:$sink_port"; }
  check "smtp-sink: smtp-source sends 200 messages" sink_source
  sink_stopped() { "$here/stop-smtp-sink.sh" "$work/sink" && ! tcp_open "$sink_port"; }
  check "smtp-sink: stops" sink_stopped
else
  skipped=$((skipped + 4)); echo "SKIP: smtp-sink checks (postfix not installed, not root)"
fi

# ---------------------------------------------------------------- dnsmasq
dns_started() { "$here/start-dnsmasq.sh" "$work/dns" 0 >/dev/null; }
check "dnsmasq: starts" dns_started
dns_port=$(<"$work/dns/port")
q() { python3 "$here/dnsquery.py" --port "$dns_port" --timeout "${T:-2}" "$@"; }
dns_expect() {  # dns_expect NAME TYPE WANT-RCODE [SUBSTRING]
  local out; out=$(q "$1" "$2") || true; echo "$out"
  [[ $out == *"\"rcode\": \"$3\""* && $out == *"${4:-}"* ]]
}
check "dnsmasq: MX" dns_expect mx.test MX NOERROR '"10 mx1.mx.test."'
check "dnsmasq: A of the exchanger" dns_expect mx1.mx.test A NOERROR '"127.0.0.1"'
check "dnsmasq: two MX preferences" dns_expect multi-mx.test MX NOERROR '"20 mx2.multi-mx.test."'
check "dnsmasq: Null MX (MX 0 .)" dns_expect null-mx.test MX NOERROR '"0 ."'
check "dnsmasq: no MX, A only" dns_expect a-only.test MX NOERROR '"answers": []'
check "dnsmasq: NXDOMAIN" dns_expect nx.test MX NXDOMAIN
check "dnsmasq: NXDOMAIN outside .test" dns_expect gmail.com MX NXDOMAIN
check "dnsmasq: SERVFAIL" dns_expect servfail.test MX SERVFAIL
dns_timeout() { local out; out=$(T=0.5 q timeout.test MX) && return 1; [[ $out == *timeout* ]]; }
check "dnsmasq: no answer for timeout.test" dns_timeout
dns_stopped() { "$here/stop-dnsmasq.sh" "$work/dns" && ! T=0.3 q mx.test MX; }
check "dnsmasq: stops" dns_stopped
dns_bench() {
  local port; port=$("$here/start-dnsmasq.sh" "$work/dns-bench" 0 --generate 1000 --no-fixture)
  port=${port##*:}
  [[ $(wc -l <"$work/dns-bench/generated-domains.txt") -eq 1000 ]] &&
    python3 "$here/dnsquery.py" --port "$port" bench-000777.test MX | grep -q '10 mx.bench-000777.test.' &&
    python3 "$here/dnsquery.py" --port "$port" mx.bench-001000.test A | grep -q 127.0.0.1
  local rc=$?
  "$here/stop-dnsmasq.sh" "$work/dns-bench"
  return $rc
}
check "dnsmasq: --generate 1000 domains" dns_bench

echo "servers: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]

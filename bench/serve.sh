#!/usr/bin/env bash
# bench/serve.sh — one-click unsubscribes per second through `account serve`, each answered
# only once durable, against a peer in the same run: a Python server that appends each
# unsubscribe to a file and fsyncs before answering (what a small durable receiver does).
# Load: wrk (loopback only, bounded by BENCH_SECONDS), each request a distinct signed link.
# Prints requests/s, p50/p99 latency, the ratio to the peer, the load average, and checks
# that every answered request is in the books (events logged = 200 answers).
# Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_CONTACTS
# (100000 in the store), BENCH_RUNS (3, medians), MAILPIPE_BIN (default .build/release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk (scripts/install-deps --bench)" >&2; exit 1; }
BIN=${MAILPIPE_BIN:-$repo/.build/release}
[ -x "$BIN/account" ] || (cd "$repo" && swift build -c release --product account >/dev/null)
SECONDS_=${BENCH_SECONDS:-10}; C=${BENCH_CONNECTIONS:-32}; T=${BENCH_THREADS:-2}
CONTACTS=${BENCH_CONTACTS:-100000}; RUNS=${BENCH_RUNS:-3}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
export MAILPIPE_STATE=$work/state BENCH_SECRET="bench-secret-$$"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# A tenant with a store of BENCH_CONTACTS contacts (the books look each event's address up).
jq '.unsubscribe.secret_env = "BENCH_SECRET"' "$repo/samples/sos-expat/tenant.json" > "$work/tenant.json"
"$BIN/account" init --tenant sos-expat --config "$work/tenant.json" 2>/dev/null
python3 - "$CONTACTS" > "$work/contacts.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"tenant": "sos-expat", "email": f"c{i:07d}@bench.mailpipe.test", "first_name": "C", "language": "fr",
                      "status": "validated"}))
PY
"$BIN/account" commit --tenant sos-expat "$work/contacts.ndjson" 2>/dev/null

# Distinct signed links, as render makes them: more than a run can use (a repeated link would be
# a duplicate: answered 200, logged once).
links=$(( 25000 * SECONDS_ ))
python3 - "$links" > "$work/links.txt" <<'PY'
import base64, hashlib, hmac, os, sys
secret = os.environ["BENCH_SECRET"].encode()
for i in range(int(sys.argv[1])):
    email = f"c{i % 10**7:07d}@bench.mailpipe.test"
    campaign = f"bench-{i // 10**7}"
    mac = hmac.new(secret, f"sos-expat\0{email}\0{campaign}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    print(f"/unsubscribe?t=sos-expat&c={campaign}&e={email.replace('@', '%40')}&s={token}")
PY
cat > "$work/post.lua" <<'LUA'
-- Each wrk thread takes every T-th link from its own offset: no link is sent twice.
local threads, counter = {}, 0
function setup(thread) thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread) end
function init(args)
  paths = {}
  for line in io.lines(os.getenv("LINKS")) do paths[#paths + 1] = line end
  step = tonumber(os.getenv("THREADS")); i = tid + 1
end
function request()
  local p = paths[i]; i = i + step
  if p == nil then p = paths[1] end
  return wrk.format("POST", p, {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
LUA

# The peer: each POST appended to a file and fsynced before the 200.
cat > "$work/peer.py" <<'PY'
import os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        line = (self.path + "\n").encode()
        with lock:
            os.write(fd, line); os.fsync(fd)
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
s = S(("127.0.0.1", int(sys.argv[1])), H)
s.serve_forever()
PY

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
load() { LINKS=$work/links.txt THREADS=$T wrk -t"$T" -c"$C" -d"${SECONDS_}s" --timeout 10s -s "$work/post.lua" "$1" | awk '/^RESULT/ { print $2, $3, $4, $5, $6 }'; }

ours_rps=(); ours_p99=(); ours_p50=(); peer_rps=(); peer_p99=(); load0=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$RUNS"); do
  # mailpipe: a fresh event log each run (the store stays), access log to a file.
  rm -f "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" "$MAILPIPE_STATE/sos-expat/events.ids" "$MAILPIPE_STATE/sos-expat/ledger.json" \
    "$MAILPIPE_STATE/sos-expat/suppression.ndjson.gz"
  port=$(free_port)
  "$BIN/account" serve --tenant sos-expat --listen "127.0.0.1:$port" --client-rate 0 2> "$work/serve.log" &
  pids+=($!); spid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  read -r n errors p50 p99 dur < <(load "http://127.0.0.1:$port")
  kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
  answered=$(grep -c '"route":"unsubscribe","status":200' "$work/serve.log" || true)
  logged=$(zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | wc -l)
  [ "$n" -le "$links" ] || { echo "FAIL: $n requests but only $links distinct links: raise links in bench/serve.sh" >&2; exit 1; }
  [ "$logged" -ge "$answered" ] || { echo "FAIL: $answered answered 200 but $logged in the log" >&2; exit 1; }
  ours_rps+=("$(awk -v n="$n" -v e="$errors" -v d="$dur" 'BEGIN { printf "%.0f", (n - e) / d }')"); ours_p99+=("$p99"); ours_p50+=("$p50")
  echo "run $run mailpipe: $n requests ($errors errors) in ${dur}s, p50 ${p50} ms, p99 ${p99} ms; 200s $answered, logged $logged, $(grep -o '[0-9]* groups' "$work/serve.log" | tail -1)"

  port=$(free_port)
  rm -f "$work/peer.log"
  python3 "$work/peer.py" "$port" "$work/peer.log" & pids+=($!); ppid=$!
  for _ in $(seq 1 100); do curl -sf -X POST "http://127.0.0.1:$port/x" >/dev/null && break; sleep 0.1; done
  read -r n errors p50 p99 dur < <(load "http://127.0.0.1:$port")
  kill "$ppid"; wait "$ppid" 2>/dev/null || true
  peer_rps+=("$(awk -v n="$n" -v e="$errors" -v d="$dur" 'BEGIN { printf "%.0f", (n - e) / d }')"); peer_p99+=("$p99")
  echo "run $run peer (python, fsync per request): $n requests ($errors errors) in ${dur}s, p50 ${p50} ms, p99 ${p99} ms"
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
m=$(median "${ours_rps[@]}"); p=$(median "${peer_rps[@]}")
echo "account serve one-click: $m req/s (median of $RUNS), p50 $(median "${ours_p50[@]}") ms, p99 $(median "${ours_p99[@]}") ms"
echo "peer: $p req/s, p99 $(median "${peer_p99[@]}") ms; ratio $(awk -v a="$m" -v b="$p" 'BEGIN { printf "%.2fx", a / b }')"
echo "load average before/after: $load0 / $load1 (2 shared cores); $C connections, $T wrk threads, ${SECONDS_}s per run, $CONTACTS contacts"

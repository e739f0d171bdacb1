# bench/lib.sh — helpers for the mailpipe benchmark scripts. Source it, don't run it:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_header "validate vs jq"
#   data=$(dataset "$BENCH_N")                 # cached NDJSON of BENCH_N contacts
#   bench_input "$data"                         # sets the volume for MB/s and records/s
#   timeit "jq select"            "jq -c 'select(.status==\"validated\")' < $data"
#   timeit --peer "jq select" "validate" "$MAILPIPE_BIN/validate < $data"
#   results_table
#
# Environment (all optional):
#   BENCH_N      records per dataset, default 1000000; accepts 10k, 1M, 10M
#   BENCH_SEED   generator seed, default 1
#   BENCH_RUNS   timed runs per command, default 3 (the median is reported)
#   BENCH_OUT    build and cache folder, default bench/.out (git-ignored)
#   BENCH_TSV    if set, every result is also appended to this file as a TSV row
#
# Nothing here sets shell options (-e, -u, pipefail): the sourcing script decides.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/.out}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_GEN="$BENCH_OUT/gen-contacts"

# --- small utilities ---------------------------------------------------------------------

bench_die() { echo "bench: $*" >&2; return 1; }

# count_of 10k|1M|1000000 → 1000000 (k = 1,000, M = 1,000,000: record counts, not bytes)
count_of() {
  local v=$1
  case $v in
    *[kK]) echo $(( ${v%[kK]} * 1000 )) ;;
    *[mM]) echo $(( ${v%[mM]} * 1000000 )) ;;
    *[!0-9]* | '') bench_die "not a count: '$v'" ;;
    *) echo "$v" ;;
  esac
}

BENCH_N=$(count_of "${BENCH_N:-1000000}")

# now_s → seconds since the epoch with nanoseconds (GNU date)
now_s() { date +%s.%N; }

# secs CMD ARGS… → wall seconds of one run, output discarded.
secs() { local s e; s=$(now_s); "$@" >/dev/null 2>&1; e=$(now_s); echo "$e - $s" | bc -l | xargs printf '%.3f'; }

# ratio A B → A/B as "1.83x" (e.g. ratio "$peer_seconds" "$our_seconds" = our speed-up)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2fx\n", a / b }'; }

# median of the numbers given as arguments (lower middle for an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# human 1234567 → 1.23M ; 12345 → 12.3k (for record rates)
human() { awk -v x="$1" 'BEGIN {
  if (x >= 1e9) printf "%.2fG", x / 1e9; else if (x >= 1e6) printf "%.2fM", x / 1e6;
  else if (x >= 1e3) printf "%.1fk", x / 1e3; else printf "%.0f", x }'; }

# file_size PATH → bytes (of the file a symlink names)
file_size() { stat -L -c %s "$1"; }

# --- the generator and cached datasets ---------------------------------------------------

# gen_build → builds bench/.out/gen-contacts once (again when the source is newer); a lock
# keeps two bench scripts started together from compiling over each other.
gen_build() {
  mkdir -p "$BENCH_OUT" || return 1
  local src="$BENCH_DIR/gen-contacts.swift"
  [[ -x $BENCH_GEN && $BENCH_GEN -nt $src ]] && return 0
  command -v swiftc >/dev/null || { bench_die "swiftc not found: needed to build the contact generator"; return 1; }
  (
    flock 9
    if [[ ! -x $BENCH_GEN || $src -nt $BENCH_GEN ]]; then
      echo "bench: building gen-contacts" >&2
      swiftc -O "$src" -o "$BENCH_GEN.tmp.$$" && mv -f "$BENCH_GEN.tmp.$$" "$BENCH_GEN"
    fi
  ) 9>"$BENCH_OUT/.build.lock"
}

# gen_contacts ARGS… → runs the generator (see bench/gen-contacts.swift for its options)
gen_contacts() { gen_build && "$BENCH_GEN" "$@"; }

# _dataset EXT FORMAT N [GEN_ARGS…] → path of a cached file, generated on first use.
# The file name spells out every argument, so different variants never share a cache entry.
_dataset() {
  local ext=$1 format=$2 n
  n=$(count_of "$3") || return 1
  shift 3
  local tag="" arg
  for arg in "$@"; do tag+="-${arg#--}"; done
  tag=${tag//[^A-Za-z0-9._-]/_}
  local dir="$BENCH_OUT/data"
  local path="$dir/contacts-$n-s$BENCH_SEED$tag.$ext"
  if [[ ! -s $path ]]; then
    gen_build || return 1
    mkdir -p "$dir" || return 1
    echo "bench: generating $(basename "$path")" >&2
    "$BENCH_GEN" --count "$n" --seed "$BENCH_SEED" --format "$format" "$@" > "$path.tmp.$$" \
      && mv -f "$path.tmp.$$" "$path" || { rm -f "$path.tmp.$$"; return 1; }
  fi
  echo "$path"
}

# dataset N [GEN_ARGS…]     → cached NDJSON of N contacts, e.g. dataset 1M --duplicates 5
# dataset_csv N [GEN_ARGS…] → the same contacts as a CSV export (header + 11 columns)
# dataset_csv_export N [GEN_ARGS…] → the same columns as real exports write them (national
#                             phone numbers, country and language names in the contact's language)
# dataset_gz N [GEN_ARGS…]  → the NDJSON, gzip-compressed (level 6, as gzip does by default)
dataset() { _dataset ndjson ndjson "$@"; }
dataset_csv() { _dataset csv csv "$@"; }
dataset_csv_export() { _dataset export.csv csv-export "$@"; }
dataset_gz() {
  local src path
  src=$(dataset "$@") || return 1
  path="$src.gz"
  if [[ ! -s $path ]]; then
    echo "bench: compressing $(basename "$src")" >&2
    gzip -c "$src" > "$path.tmp.$$" && mv -f "$path.tmp.$$" "$path" || { rm -f "$path.tmp.$$"; return 1; }
  fi
  echo "$path"
}

# --- timing ------------------------------------------------------------------------------

# bench_input PATH [RECORDS] → the data volume that the following timeit calls process, for
# their MB/s and records/s columns. RECORDS defaults to the file's line count (less the
# header for .csv). Reading the file also brings it into the page cache before timing.
BENCH_INPUT_BYTES=0
BENCH_INPUT_RECORDS=0
bench_input() {
  local path=$1
  [[ -r $path ]] || { bench_die "bench_input: cannot read $path"; return 1; }
  BENCH_INPUT_BYTES=$(file_size "$path")
  if [[ -n ${2:-} ]]; then
    BENCH_INPUT_RECORDS=$2
  else
    BENCH_INPUT_RECORDS=$(wc -l < "$path")
    [[ $path == *.csv ]] && BENCH_INPUT_RECORDS=$((BENCH_INPUT_RECORDS - 1))
  fi
  cat "$path" > /dev/null
}

# Results recorded by timeit, in order.
RESULT_LABELS=() RESULT_SECONDS=() RESULT_RSS_KB=() RESULT_BYTES=() RESULT_RECORDS=() RESULT_PEERS=()
declare -A RESULT_BY_LABEL=()
_RESULT_HEADER_SHOWN=0

# timeit [--peer LABEL] [--runs N] LABEL CMD…
# Runs CMD (a shell command line, given as one string or as words) BENCH_RUNS times with
# bash -o pipefail, stdout to /dev/null unless CMD redirects it, and records the median wall
# time and the peak RSS (KB, largest single process of the command, max over the runs).
# --peer names an earlier label: the table then shows peer seconds / these seconds.
# Sets TIMEIT_SECONDS and TIMEIT_RSS_KB; returns 1 (and records nothing) if CMD fails.
# Trap: GNU grep stops at the first match when its stdout is /dev/null; time it as
# "grep … | cat" (or with -c) to make it read everything.
timeit() {
  local peer="" runs=$BENCH_RUNS
  while [[ $# -gt 0 ]]; do
    case $1 in
      --peer) peer=$2; shift 2 ;;
      --runs) runs=$2; shift 2 ;;
      *) break ;;
    esac
  done
  local label=$1
  shift
  local cmd="$*"
  local times=() rss=0 i t0 t1 r err
  err=$(mktemp) || return 1
  # GNU time reports the peak RSS; without it the RSS column shows 0.
  local _timer=()
  [[ -x /usr/bin/time ]] && _timer=(/usr/bin/time -f %M -o "$err.rss")
  for ((i = 0; i < runs; i++)); do
    t0=$(now_s)
    if ! "${_timer[@]}" bash -o pipefail -c "$cmd" > /dev/null 2> "$err"; then
      printf '  %-34s FAILED (run %d)\n' "$label" $((i + 1)) >&2
      tail -n 5 "$err" | sed 's/^/    /' >&2
      rm -f "$err" "$err.rss"
      return 1
    fi
    t1=$(now_s)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
    r=$(tail -n 1 "$err.rss" 2>/dev/null)
    [[ $r =~ ^[0-9]+$ ]] && ((r > rss)) && rss=$r
  done
  rm -f "$err" "$err.rss"
  if [[ $_RESULT_HEADER_SHOWN == 0 ]]; then _result_header; _RESULT_HEADER_SHOWN=1; fi
  TIMEIT_SECONDS=$(median "${times[@]}")
  TIMEIT_RSS_KB=$rss
  RESULT_LABELS+=("$label")
  RESULT_SECONDS+=("$TIMEIT_SECONDS")
  RESULT_RSS_KB+=("$rss")
  RESULT_BYTES+=("$BENCH_INPUT_BYTES")
  RESULT_RECORDS+=("$BENCH_INPUT_RECORDS")
  RESULT_PEERS+=("$peer")
  RESULT_BY_LABEL[$label]=$TIMEIT_SECONDS
  _result_row "$label" "$TIMEIT_SECONDS" "$BENCH_INPUT_BYTES" "$BENCH_INPUT_RECORDS" "$rss" "$peer"
  if [[ -n ${BENCH_TSV:-} ]]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$TIMEIT_SECONDS" "$BENCH_INPUT_BYTES" \
      "$BENCH_INPUT_RECORDS" "$rss" "$peer" >> "$BENCH_TSV"
  fi
}

# One formatted line: label, seconds, MB/s, records/s, peak RSS, ratio vs peer.
_result_row() {
  local label=$1 secs=$2 bytes=$3 records=$4 rss=$5 peer=$6 mbs="-" rps="-" vs=""
  if [[ $bytes -gt 0 ]]; then mbs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1e6 / s }'); fi
  if [[ $records -gt 0 ]]; then rps=$(human "$(awk -v r="$records" -v s="$secs" 'BEGIN { print r / s }')"); fi
  if [[ -n $peer && -n ${RESULT_BY_LABEL[$peer]:-} ]]; then
    vs="$(ratio "${RESULT_BY_LABEL[$peer]}" "$secs") vs $peer"
  fi
  printf '  %-34s %9.3f %9s %9s %9s  %s\n' "$label" "$secs" "$mbs" "$rps" \
    "$(awk -v k="$rss" 'BEGIN { printf "%.1f MB", k / 1024 }')" "$vs"
}

_result_header() {
  printf '  %-34s %9s %9s %9s %9s  %s\n' "command" "seconds" "MB/s" "rec/s" "peak RSS" "vs peer"
  printf '  %-34s %9s %9s %9s %9s  %s\n' "-------" "-------" "----" "-----" "--------" "-------"
}

# results_table [TITLE] → every result recorded so far, as one aligned table
results_table() {
  [[ -n ${1:-} ]] && printf '\n%s\n' "$1"
  echo
  _result_header
  local i
  for i in "${!RESULT_LABELS[@]}"; do
    _result_row "${RESULT_LABELS[$i]}" "${RESULT_SECONDS[$i]}" "${RESULT_BYTES[$i]}" \
      "${RESULT_RECORDS[$i]}" "${RESULT_RSS_KB[$i]}" "${RESULT_PEERS[$i]}"
  done
  echo
}

# results_reset → forget the recorded results (e.g. between sections of one script)
results_reset() {
  RESULT_LABELS=() RESULT_SECONDS=() RESULT_RSS_KB=() RESULT_BYTES=() RESULT_RECORDS=() RESULT_PEERS=()
  RESULT_BY_LABEL=()
  _RESULT_HEADER_SHOWN=0
}

# bench_header TITLE → what was measured, where and how: printed once at the top of a run.
bench_header() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  echo "== ${1:-mailpipe bench} =="
  echo "   $(date -u +%Y-%m-%dT%H:%M:%SZ)  ${cpu:-unknown cpu}, $(nproc) cores"
  echo "   $(swiftc --version 2>/dev/null | head -n 1)"
  echo "   N=$BENCH_N  seed=$BENCH_SEED  runs=$BENCH_RUNS (median wall time; RSS = largest process)"
}

# --- account serve over HTTP -------------------------------------------------------------

# serve_bench unsubscribe|click → requests per second through `account serve`, each answered
# only once its event is durable, against a peer in the same run: a Python server that appends
# each request to a file and fsyncs before answering (what a small durable receiver does).
#   unsubscribe: one-click POSTs (RFC 8058), each a distinct signed link, answered 200;
#   click:       tracked clicks, each a distinct link `render --track` wrote, answered 302.
# wrk on loopback, bounded by BENCH_SECONDS; a tenant with BENCH_CONTACTS contacts in its store.
# Prints requests/s, p50/p99 latency (medians of BENCH_RUNS), the ratio to the peer, the load
# average before and after, and fails when an answered request is not in the books.
# Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS, BENCH_THREADS (2), BENCH_CONTACTS
# (100000), BENCH_RUNS (3), MAILPIPE_BIN (default .build/release). Needs wrk, jq, python3.
serve_bench() {
  local mode=$1
  case $mode in unsubscribe | click) ;; *) bench_die "serve_bench: unsubscribe or click, not '$mode'"; return 1 ;; esac
  command -v wrk >/dev/null || { bench_die "wrk is needed: apt-get install wrk (scripts/install-deps --bench)"; return 1; }
  local bin=${MAILPIPE_BIN:-$BENCH_ROOT/.build/release}
  [ -x "$bin/account" ] || (cd "$BENCH_ROOT" && swift build -c release --product account --product render --product segment >/dev/null)
  local seconds=${BENCH_SECONDS:-10} conns=${BENCH_CONNECTIONS:-32} threads=${BENCH_THREADS:-2} contacts=${BENCH_CONTACTS:-100000}
  local work
  work=$(mktemp -d)
  SERVE_BENCH_PIDS=()
  SERVE_BENCH_WORK=$work
  trap 'for p in "${SERVE_BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$SERVE_BENCH_WORK"' EXIT
  export MAILPIPE_STATE=$work/state BENCH_SECRET="bench-secret-$$"

  # The tenant and its store (the books look each event's address up).
  jq '.unsubscribe.secret_env = "BENCH_SECRET" | .tracking = {"url": "https://t.bench.test/t", "enabled": true}' \
    "$BENCH_ROOT/samples/sos-expat/tenant.json" > "$work/tenant.json"
  "$bin/account" init --tenant sos-expat --config "$work/tenant.json" 2>/dev/null
  python3 - "$contacts" > "$work/contacts.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"tenant": "sos-expat", "email": f"c{i:07d}@bench.mailpipe.test", "first_name": "C", "language": "en",
                      "status": "validated"}))
PY
  "$bin/account" commit --tenant sos-expat "$work/contacts.ndjson" 2>/dev/null

  # Distinct links (a repeated one would be a duplicate: answered, logged once).
  local links method answered_pattern logged_pattern
  if [ "$mode" = unsubscribe ]; then
    # Signed as render signs them, more than a run can use.
    links=$(( 25000 * seconds ))
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
    method=POST answered_pattern='"route":"unsubscribe","status":200' logged_pattern='"type":"unsubscribed"'
  else
    # One click link per contact, by render --track, signed a day ago (no click is taken for a
    # scanner's by its timing).
    mkdir -p "$work/tpl/bench"
    echo "Bench" > "$work/tpl/bench/en.subject"
    echo '<html><body><a href="https://www.example.com/offer?id=42">Offer</a> <a href="{unsubscribe_url}">Unsubscribe</a></body></html>' > "$work/tpl/bench/en.html"
    "$bin/segment" --tenant sos-expat --contacts store 2>/dev/null \
      | "$bin/render" --campaign bench --templates "$work/tpl" --tenant sos-expat --now "$(date -u -d '1 day ago' +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null \
      | jq -r .html | grep -o 'https://t\.bench\.test/t/click?[^"]*' | sed 's/&amp;/\&/g; s|^https://t\.bench\.test||' > "$work/links.txt"
    links=$(wc -l < "$work/links.txt")
    method=GET answered_pattern='"route":"click","status":302,"outcome":"recorded"' logged_pattern='"type":"clicked"'
  fi
  echo "links: $links distinct"
  cat > "$work/load.lua" <<'LUA'
-- Each wrk thread takes every T-th link from its own offset: no link is sent twice in a run.
local threads, counter = {}, 0
function setup(thread) thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread) end
function init(args)
  paths = {}
  for line in io.lines(os.getenv("LINKS")) do paths[#paths + 1] = line end
  step = tonumber(os.getenv("THREADS")); i = tid + 1; post = os.getenv("METHOD") == "POST"
end
function request()
  local p = paths[i]; i = i + step
  if p == nil then p = paths[1] end
  if post then
    return wrk.format("POST", p, {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
  end
  return wrk.format("GET", p, {["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"})
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
LUA
  # The peer: each request appended to a file and fsynced, then a POST is answered 200 and a
  # click 302 to its `u`.
  cat > "$work/peer.py" <<'PY'
import os, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def durable(self):
        with lock:
            os.write(fd, (self.path + "\n").encode()); os.fsync(fd)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.durable()
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        self.durable()
        self.send_response(302); self.send_header("Location", (q.get("u") or ["/"])[0])
        self.send_header("Content-Length", "0"); self.end_headers()
class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY

  _free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  # wrk counts 3xx as non-errors (errors.status is for >= 400).
  _load() { LINKS=$work/links.txt THREADS=$threads METHOD=$method wrk -t"$threads" -c"$conns" -d"${seconds}s" --timeout 10s -s "$work/load.lua" "$1" | awk '/^RESULT/ { print $2, $3, $4, $5, $6 }'; }
  _rate() { awk -v n="$1" -v e="$2" -v d="$3" 'BEGIN { printf "%.0f", (n - e) / d }'; }

  local ours_rps=() ours_p99=() ours_p50=() peer_rps=() peer_p99=() load0 load1 run port spid ppid n errors p50 p99 dur answered logged
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  for run in $(seq 1 "$BENCH_RUNS"); do
    # mailpipe: fresh books each run (the store stays), the access log to a file.
    rm -f "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" "$MAILPIPE_STATE/sos-expat/events.ids" \
      "$MAILPIPE_STATE/sos-expat/ledger.json" "$MAILPIPE_STATE/sos-expat/suppression.ndjson.gz"
    port=$(_free_port)
    "$bin/account" serve --tenant sos-expat --listen "127.0.0.1:$port" --client-rate 0 2> "$work/serve.log" &
    spid=$!; SERVE_BENCH_PIDS+=("$spid")
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    read -r n errors p50 p99 dur < <(_load "http://127.0.0.1:$port")
    kill -TERM "$spid"; wait "$spid" 2>/dev/null || true
    answered=$(grep -c "$answered_pattern" "$work/serve.log" || true)
    logged=$(zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | grep -c "$logged_pattern" || true)
    [ "$n" -le "$links" ] || { bench_die "$n requests but only $links distinct links: raise the links of serve_bench"; return 1; }
    [ "$logged" -ge "$answered" ] || { bench_die "FAIL: $answered answered as recorded but $logged in the log"; return 1; }
    ours_rps+=("$(_rate "$n" "$errors" "$dur")"); ours_p99+=("$p99"); ours_p50+=("$p50")
    echo "run $run mailpipe: $n requests ($errors errors) in ${dur}s, p50 ${p50} ms, p99 ${p99} ms; answered $answered, logged $logged, $(grep -o '[0-9]* groups' "$work/serve.log" | tail -1)"

    port=$(_free_port)
    rm -f "$work/peer.log"
    python3 "$work/peer.py" "$port" "$work/peer.log" &
    ppid=$!; SERVE_BENCH_PIDS+=("$ppid")
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/x" && break; sleep 0.1; done
    read -r n errors p50 p99 dur < <(_load "http://127.0.0.1:$port")
    kill "$ppid"; wait "$ppid" 2>/dev/null || true
    peer_rps+=("$(_rate "$n" "$errors" "$dur")"); peer_p99+=("$p99")
    echo "run $run peer (python, fsync per request): $n requests ($errors errors) in ${dur}s, p50 ${p50} ms, p99 ${p99} ms"
  done
  load1=$(cut -d' ' -f1-3 /proc/loadavg)
  local m p
  m=$(median "${ours_rps[@]}"); p=$(median "${peer_rps[@]}")
  echo "account serve $mode: $m req/s (median of $BENCH_RUNS), p50 $(median "${ours_p50[@]}") ms, p99 $(median "${ours_p99[@]}") ms"
  echo "peer: $p req/s, p99 $(median "${peer_p99[@]}") ms; ratio $(ratio "$m" "$p")"
  echo "load average before/after: $load0 / $load1 ($(nproc) cores); $conns connections, $threads wrk threads, ${seconds}s per run, $contacts contacts"
}

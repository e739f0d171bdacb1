# Sourced by the account-serve tests after lib.sh: start and stop `account serve` on a free
# loopback port, and a tenant whose contacts and messages come from the samples.

SERVE_PID=""
trap 'stop_serve; rm -rf "$WORK"' EXIT

# start_serve LOG ARG… — account serve in the background on 127.0.0.1 (a free port); sets
# SERVE_PID and BASE (http://127.0.0.1:PORT) once it listens.
start_serve() {
  local log=$1; shift
  account serve "$@" --listen 127.0.0.1:0 2> "$log" &
  SERVE_PID=$!
  local port=""
  for _ in $(seq 1 200); do
    # The log is created by the background job: it may not exist yet.
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$log" 2>/dev/null | head -1 || true)
    [ -n "$port" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "account serve exited: $(cat "$log")"
    sleep 0.05
  done
  [ -n "$port" ] || fail "account serve did not listen: $(cat "$log")"
  BASE="http://127.0.0.1:$port"
}

# stop_serve [SIGNAL] — stops the server (TERM by default) and waits for it.
stop_serve() {
  [ -n "$SERVE_PID" ] || return 0
  kill "-${1:-TERM}" "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=""
}

# serve_tenant — the sample tenant sos-expat with its twelve contacts, and render's messages
# for them in $WORK/messages.ndjson (the unsubscribe secret is set here, as an operator would).
serve_tenant() {
  export SOS_EXPAT_UNSUB_SECRET="serve-test-secret-$$"
  account init --tenant sos-expat --config "${1:-$REPO/samples/sos-expat/tenant.json}" 2>/dev/null
  account commit --tenant sos-expat "$REPO/samples/contacts.ndjson" 2>/dev/null
  segment --tenant sos-expat --contacts store 2>/dev/null \
    | render --campaign welcome-nov --templates "$REPO/samples/templates" --tenant sos-expat 2>/dev/null \
    > "$WORK/messages.ndjson"
}

# link_of EMAIL — the path and query of the https link in that message's List-Unsubscribe.
link_of() {
  jq -r --arg e "$1" 'select(.email == $e) | .headers["List-Unsubscribe"]' "$WORK/messages.ndjson" \
    | sed -n 's|.*<https://[^/]*\(/[^>]*\)>.*|\1|p'
}

# events_of TYPE — the logged events of that type (NDJSON).
events_of() {
  local log="$MAILPIPE_STATE/sos-expat/events.ndjson.gz"
  [ -f "$log" ] || return 0
  zcat "$log" | jq -c --arg t "$1" 'select(.type == $t)'
}

#!/usr/bin/env bash
# inject http: JSON bodies from the template, a secret header from the environment (never in
# outputs), remote ids from the reply, 5xx retried, 4xx failed.
source "$(dirname "$0")/lib.sh"
TOKEN="tok-$RANDOM-$RANDOM-secret"
cat > "$WORK/server.py" <<'PY'
import json, sys, http.server, threading
hits = {}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"auth": self.headers.get("Authorization"), "body": body}) + "\n")
        to = body["to"]; hits[to] = hits.get(to, 0) + 1
        if to.startswith("flaky") and hits[to] < 3: code, out = 503, {"error": "busy"}
        elif to.startswith("bad"): code, out = 422, {"error": "invalid recipient"}
        else: code, out = 202, {"data": {"id": "msg-" + to.split("@")[0]}}
        raw = json.dumps(out).encode()
        self.send_response(code); self.send_header("Content-Length", str(len(raw))); self.end_headers(); self.wfile.write(raw)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$WORK/server.py" "$WORK/port" "$WORK/requests.ndjson" & spid=$!
trap 'kill $spid 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
mkdir -p "$MAILPIPE_STATE/acme"; echo '{"slug":"acme"}' > "$MAILPIPE_STATE/acme/tenant.json"
echo '{"to": {{email}}, "subject": {{subject}}, "name": {{contact.first_name}}, "missing": {{nope}}}' > "$WORK/body.json"
printf '%s\n' '{"tenant":"acme","email":"ok@x.test","campaign":"h1","subject":"Héllo \"q\"","contact":{"first_name":"Zoé"}}' \
  '{"tenant":"acme","email":"flaky@x.test","campaign":"h1","subject":"s"}' \
  '{"tenant":"acme","email":"bad@x.test","campaign":"h1","subject":"s"}' > "$WORK/in.ndjson"
HTTP_TOKEN="Bearer $TOKEN" inject http --url "http://127.0.0.1:$(cat "$WORK/port")/send" --template "$WORK/body.json" \
  --header-env "Authorization=HTTP_TOKEN" --id-field data.id --backoff 0.01 --now 2026-11-23T09:00:00Z \
  < "$WORK/in.ndjson" > "$WORK/out.ndjson" 2> "$WORK/err"
assert_eq "$(jq -r '[.email,.outcome,(.code|tostring),(.remote_id|tostring),(.attempts|tostring)]|join(" ")' "$WORK/out.ndjson" | xargs)" \
  "ok@x.test sent 202 msg-ok 1 flaky@x.test sent 202 msg-flaky 3 bad@x.test failed 422 null 1" "outcomes"
# Requests run concurrently: find the one for ok@x.test rather than the first to arrive.
first=$(jq -c 'select(.body.to == "ok@x.test")' "$WORK/requests.ndjson" | head -1)
assert_eq "$(echo "$first" | jq -c .body)" '{"to":"ok@x.test","subject":"Héllo \"q\"","name":"Zoé","missing":null}' "body from the template"
assert_eq "$(echo "$first" | jq -r .auth)" "Bearer $TOKEN" "secret header sent"
if grep -r -F -- "$TOKEN" "$WORK/out.ndjson" "$WORK/err" "$MAILPIPE_STATE" >/dev/null; then fail "token leaked"; fi
checks=$((checks + 1))
done_ok

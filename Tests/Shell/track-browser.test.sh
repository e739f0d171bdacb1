#!/usr/bin/env bash
# A tracked link followed in a real browser: headless Chromium opens the click link render
# --track wrote, account serve records the click and redirects, and the browser lands on the
# target page (served on 127.0.0.1), which sees no Referer carrying the token.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed (scripts/install-deps --test)"
export SOS_EXPAT_UNSUB_SECRET="track-browser-secret-$$"
T=sos-expat

# The target: a page on 127.0.0.1 that logs each request's path and Referer.
cat > "$WORK/target.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
log = open(sys.argv[2], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        log.write(f"{self.path}\t{self.headers.get('Referer') or '-'}\n")
        body = b"<!doctype html><html><head><title>Target</title></head><body><h1 id=landed>Landed on the target</h1></body></html>"
        code = 200 if self.path.startswith("/landing") else 404
        self.send_response(code); self.send_header("Content-Type", "text/html"); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
s = HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$WORK/target.py" "$WORK/target.port" "$WORK/target.log" > "$WORK/target.port" &
TARGET_PID=$!
trap 'kill $TARGET_PID 2>/dev/null; stop_serve; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -s "$WORK/target.port" ] && break; sleep 0.05; done
target="http://127.0.0.1:$(cat "$WORK/target.port")/landing?from=mail&x=1"

# A campaign whose one link is the target; the tenant tracks (its links point at the server
# started below: render's base is replaced by the server's address, which the token does not sign).
mkdir -p "$WORK/tpl/visit"
echo "Visit" > "$WORK/tpl/visit/en.subject"
echo "<html><body><p><a href=\"${target//&/&amp;}\">Our page</a></p><p><a href=\"{unsubscribe_url}\">Unsubscribe</a></p></body></html>" > "$WORK/tpl/visit/en.html"
jq '. + {tracking: {url: "https://t.sos-expat.com/t", enabled: true}}' "$REPO/samples/sos-expat/tenant.json" > "$WORK/tenant.json"
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
account commit --tenant $T "$REPO/samples/contacts.ndjson" 2>/dev/null
email=$(segment --tenant $T --contacts store 2>/dev/null | head -1 | jq -r .email)
segment --tenant $T --contacts store 2>/dev/null | head -1 \
  | render --campaign visit --templates "$WORK/tpl" --tenant $T --fallback-language en --now "$(date -u -d '1 day ago' +%Y-%m-%dT%H:%M:%SZ)" \
  > "$WORK/message.ndjson" 2>/dev/null
link=$(jq -r .html "$WORK/message.ndjson" | grep -o 'https://t\.sos-expat\.com/t/click?[^"]*' | head -1 | sed 's/&amp;/\&/g')
[ -n "$link" ] || fail "render wrote no tracked link: $(jq -r .html "$WORK/message.ndjson")"

start_serve "$WORK/serve.log" --tenant $T
link="$BASE${link#https://t.sos-expat.com}"
agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
timeout 60 "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir="$WORK/chromium" \
  --user-agent="$agent" --dump-dom "$link" > "$WORK/dom.html" 2> "$WORK/chromium.err" || true
assert_contains "$(cat "$WORK/dom.html")" '<h1 id="landed">Landed on the target</h1>' "the browser landed on the target page"
assert_eq "$(cut -f1 "$WORK/target.log" | head -1)" "/landing?from=mail&x=1" "the target got its own path and query"
assert_eq "$(cut -f2 "$WORK/target.log" | head -1)" "-" "no Referer (it would carry the token)"
stop_serve TERM
assert_eq "$(zcat "$MAILPIPE_STATE/$T/events.ndjson.gz" | jq -r 'select(.type == "clicked") | [.email, .campaign, .url, (.machine // false)] | @tsv')" \
  "$email	visit	$target	false" "the click is recorded, a person's"
done_ok

#!/usr/bin/env bash
# A campaign over SMTP against a local Postfix (started here, delivering to a Maildir):
# message records (as `render` writes them) → inject smtp → outcomes, then a re-run that the
# journal turns into 'skipped'. Needs root (Postfix). Usage: pipelines/send-smtp.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MAILPIPE_BIN:-$root/.build/release}
[ -x "$bin/inject" ] || (cd "$root" && swift build -c release --product inject >/dev/null)
work=$(mktemp -d); chmod 755 "$work"
trap 'bash "$root/Tests/Servers/stop-postfix.sh" "$work/postfix" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
url=$(bash "$root/Tests/Servers/start-postfix.sh" "$work/postfix" 0)
export MAILPIPE_STATE=$work/state
mkdir -p "$MAILPIPE_STATE/demo"
cat > "$MAILPIPE_STATE/demo/tenant.json" <<JSON
{"slug":"demo","sending_domain":"demo.test","smtp":{"url":"$url","from":"Demo <hello@demo.test>"},
 "vmtas":[{"name":"mta1","weight":3,"warmup_start":"2026-01-01"},{"name":"mta2","weight":1,"warmup_start":"2026-11-01"}]}
JSON
python3 "$root/Tests/Shell/inject-fixtures.py" messages "${1:-200}" --tenant demo --campaign demo-nov > "$work/messages.ndjson"
"$bin/inject" smtp --tenant demo --concurrency 8 < "$work/messages.ndjson" > "$work/outcomes.ndjson"
echo "outcomes by vmta:"; jq -r '[.outcome, .vmta] | join(" ")' "$work/outcomes.ndjson" | sort | uniq -c
"$bin/inject" smtp --tenant demo < "$work/messages.ndjson" | jq -r .outcome | sort | uniq -c
sleep 2
echo "Maildir: $(find "$work/postfix/Maildir/new" -type f | wc -l) messages delivered"

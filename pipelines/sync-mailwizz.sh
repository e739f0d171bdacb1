#!/usr/bin/env bash
# Contacts → subscribers of a MailWizz list, against the local MailWizz double (started here,
# with some 503s and slow replies): bulk calls, suppressed contacts unsubscribed, uids in
# remote_id. The API key only travels through the environment. Usage: pipelines/sync-mailwizz.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MAILPIPE_BIN:-$root/.build/release}
[ -x "$bin/inject" ] || (cd "$root" && swift build -c release --product inject >/dev/null)
work=$(mktemp -d)
trap 'bash "$root/Tests/Servers/stop-mailwizz-double.sh" "$work/mw" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export MAILWIZZ_DOUBLE_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
url=$(bash "$root/Tests/Servers/start-mailwizz-double.sh" "$work/mw" --p503 0.05 --delay 0.01)
export MAILPIPE_STATE=$work/state
mkdir -p "$MAILPIPE_STATE/demo"
printf '{"slug":"demo","mailwizz":{"url":"%s","list_uid":"testlist00001","api_key_env":"DEMO_MW_KEY"}}\n' "$url" \
  > "$MAILPIPE_STATE/demo/tenant.json"
python3 "$root/Tests/Shell/inject-fixtures.py" contacts "${1:-1000}" --tenant demo --suppressed 5 > "$work/contacts.ndjson"
DEMO_MW_KEY=$MAILWIZZ_DOUBLE_KEY "$bin/inject" mailwizz --tenant demo --batch 150 --concurrency 4 --backoff 0.05 \
  < "$work/contacts.ndjson" > "$work/outcomes.ndjson"
jq -r '[.outcome, (.code|tostring)] | join(" ")' "$work/outcomes.ndjson" | sort | uniq -c
head -2 "$work/outcomes.ndjson"
curl -s "${url%/api}/__state" | jq -c '{requests, responses}'

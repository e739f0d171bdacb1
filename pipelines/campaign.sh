#!/usr/bin/env bash
# A campaign on the samples: a tenant from samples/campaign, its audience chosen by `segment`,
# messages made by `render` with the nine-language templates of samples/templates/welcome-nov.
#
#   pipelines/campaign.sh [OUT_DIR]     (binaries on PATH, or MAILPIPE_BIN=.build/release)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
samples="$root/samples"
[ -n "${MAILPIPE_BIN:-}" ] && export PATH="$MAILPIPE_BIN:$PATH"
out=${1:-$(mktemp -d)}
mkdir -p "$out"
export MAILPIPE_STATE="$out/state"
# The unsubscribe token secret comes from the environment (never from arguments).
export MAILPIPE_UNSUB_SECRET="${MAILPIPE_UNSUB_SECRET:-demo-secret-change-me}"
now=2026-11-23T09:00:00Z

account init --tenant sos-expat --config "$samples/campaign/tenant.json"
account commit --tenant sos-expat --now "$now" "$samples/campaign/contacts.ndjson"

echo "== audience by language"
segment --tenant sos-expat --contacts store --breakdown language

echo "== lawyers, seeds' campaign criteria, rendered"
segment --tenant sos-expat --contacts store --segment "$samples/campaign/segment-avocats.json" \
  | render --campaign welcome-nov --templates "$samples/templates" --tenant sos-expat \
  > "$out/messages.ndjson"
jq -r '[.email, .template, .language, .subject] | @tsv' "$out/messages.ndjson" | head -n 12

echo "== many segments in one pass → $out/segments"
segment --tenant sos-expat --contacts store --segments "$samples/campaign/segments.json" --out-dir "$out/segments" --gzip
ls -l "$out/segments"

echo "== one message, as a person reads it"
render --campaign welcome-nov --templates "$samples/templates" --tenant sos-expat --preview karim.haddad@example.ae </dev/null | head -n 12
echo "messages: $(wc -l < "$out/messages.ndjson") in $out/messages.ndjson"

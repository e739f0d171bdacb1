#!/usr/bin/env bash
# Demo: initialise the two reference tenants from samples/ and commit the sample contacts.
# Runs from anywhere; state goes to $MAILPIPE_STATE (default: <repo>/state).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${MAILPIPE_BIN:-$repo/.build/release}
export PATH="$bin:$PATH"
export MAILPIPE_STATE=${MAILPIPE_STATE:-$repo/state}

for tenant in sos-expat ulixai; do
  account init --tenant "$tenant" --config "$repo/samples/$tenant/tenant.json"
  # Each tenant takes its own records; the other tenant's lines are refused, not lost.
  jq -c --arg t "$tenant" 'select(.tenant == $t)' "$repo/samples/contacts.ndjson" \
    | account commit --tenant "$tenant"
  echo "$tenant: $(account export --tenant "$tenant" 2>/dev/null | wc -l) contacts in $MAILPIPE_STATE/$tenant"
done
account export --tenant sos-expat 2>/dev/null | jq -c '{email, language, tags, status}'

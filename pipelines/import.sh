#!/usr/bin/env bash
# Import the sample exports of samples/import/ into a tenant: ingest | dedupe | account commit.
# Run twice: the second run finds every contact already in the store (0 new).
#
#   pipelines/import.sh              # scratch state in a temporary folder
#   MAILPIPE_STATE=./state pipelines/import.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
samples="$root/samples/import"
bin="${MAILPIPE_BIN:-$root/.build/release}"
[ -x "$bin/ingest" ] || bin="$root/.build/debug"
export PATH="$bin:$PATH"
export MAILPIPE_STATE="${MAILPIPE_STATE:-$(mktemp -d)/state}"
out=$(mktemp -d)
now=2026-11-23T09:00:00Z
tenant=sos-expat

[ -f "$MAILPIPE_STATE/$tenant/tenant.json" ] || account init --tenant "$tenant"

echo "== a CSV export (semicolons, multi-line notes, aliases in French, bad rows and a duplicate)"
ingest --tenant "$tenant" --source csv-2026-11 --now "$now" --rejects "$out/ingest-rejects.ndjson" "$samples/contacts.csv" \
  | dedupe --rejects "$out/dedupe-rejects.ndjson" \
  | account commit --tenant "$tenant" --now "$now"
echo "   rejects: $(jq -r '"line \(.line): \(.reason)"' "$out/ingest-rejects.ndjson" "$out/dedupe-rejects.ndjson" | paste -sd ';' -)"

echo "== the same export again: nothing new"
ingest --tenant "$tenant" --source csv-2026-11 --now "$now" --rejects /dev/null "$samples/contacts.csv" \
  | dedupe --rejects /dev/null | account commit --tenant "$tenant" --now "$now"

echo "== a scraper NDJSON and a seed envelope; repeats pass on to merge their extra fields"
ingest --tenant "$tenant" --now "$now" --rejects "$out/ingest-rejects-2.ndjson" "$samples/more-contacts.ndjson" "$samples/envelope.json" \
  | dedupe --keep-repeats \
  | account commit --tenant "$tenant" --now "$now"

echo "== the store"
account export --tenant "$tenant" | jq -c '{email, language, country, tags}'
echo "(state: $MAILPIPE_STATE, rejects: $out)"

#!/usr/bin/env bash
# End to end: ingest | dedupe | validate | tag | account commit on samples/, through real pipes.
source "$(dirname "$0")/lib.sh"
for stage in ingest dedupe; do
  if ! command -v "$stage" >/dev/null 2>&1; then
    skip "'$stage' is not built (not on PATH: $MAILPIPE_BIN); the import pipeline needs it"
  fi
done
samples="$REPO/samples"
[ -f "$samples/contacts.ndjson" ] || fail "samples/contacts.ndjson is missing"
account init --tenant sos-expat --config "$samples/sos-expat/tenant.json" >/dev/null 2>&1
cat > "$WORK/rules.yaml" <<'Y'
rules:
  - name: lawyers
    when: { field: category, equals: avocat }
    add: avocat
  - name: risky
    when: { verdict: risky }
    add: a-verifier
Y
jq -c 'select(.tenant == "sos-expat") | del(.status, .tags)' "$samples/contacts.ndjson" > "$WORK/in.ndjson"
n=$(wc -l < "$WORK/in.ndjson")
ingest --tenant sos-expat --source e2e --format ndjson "$WORK/in.ndjson" 2>"$WORK/ingest.err" \
  | dedupe --tenant sos-expat 2>"$WORK/dedupe.err" \
  | validate --stats "$WORK/validate.stats" \
  | tag --tenant sos-expat --rules "$WORK/rules.yaml" --stats "$WORK/tag.stats" \
  | account commit --tenant sos-expat --now 2026-11-23T09:00:00Z 2>"$WORK/commit.err"
stored=$(account export --tenant sos-expat 2>/dev/null)
assert_eq "$(echo "$stored" | wc -l)" "$(jq -r .email "$WORK/in.ndjson" | sort -u | wc -l)" "every distinct contact stored"
assert_eq "$(echo "$stored" | jq -r 'select(.validation == null) | .email')" "" "every stored contact validated"
assert_eq "$(echo "$stored" | jq -r 'select(.category == "avocat") | .tags | index("prestataire") != null' | sort -u)" "true" "taxonomy parent stored"
assert_eq "$(jq -r .in "$WORK/validate.stats")" "$(jq -r .in "$WORK/tag.stats")" "validate → tag"
assert_eq "$(echo "$stored" | jq -r '.status' | sort -u | grep -cv '^\(validated\|risky\|invalid\|bounced\|unsubscribed\|complained\|blacklisted\)$' || true)" 0 "statuses"
echo "pipeline: $n lines in, $(echo "$stored" | wc -l) contacts stored"
done_ok

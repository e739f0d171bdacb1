#!/usr/bin/env bash
# The corpus of real export layouts (Tests/IngestCorpus: Mailchimp, MailWizz, Brevo, HubSpot,
# Google Contacts in both layouts, Outlook, a French Excel CSV, LinkedIn, listmonk, a scraper's
# nested NDJSON, an .xlsx) read by ingest with no hints but the tenant: every address found,
# no secondary address a contact of its own, ≥ 98 % of the fields as the documentation says.
source "$(dirname "$0")/lib.sh"
corpus="$REPO/Tests/IngestCorpus"
NOW=2026-11-23T09:00:00Z
layouts="$WORK/layouts"
mkdir -p "$layouts" "$WORK/out"
cp "$corpus"/layouts/* "$layouts/"
python3 "$corpus/make-layouts.py" "$layouts"

# The tenant's default country is France: national numbers of rows without a country are French.
printf '{"slug":"sos-expat","languages":["fr","en","es","de","pt","ru","zh","hi","ar"],"fallback_language":"en","default_country":"FR"}\n' > "$WORK/tenant.json"
account init --tenant sos-expat --config "$WORK/tenant.json" 2>/dev/null

for f in "$layouts"/*; do
  name=$(basename "$f")
  ingest --tenant sos-expat --now $NOW --rejects "$WORK/out/$name.rejects" --stats "$WORK/out/$name.stats" "$f" > "$WORK/out/$name.ndjson"
done
score=$(python3 "$corpus/score.py" "$corpus/expected.ndjson" "$WORK/out") || { echo "$score" >&2; fail "an address is missing or a secondary address became a contact"; }
echo "$score" | sed 's/^/  /'
percent=$(echo "$score" | tail -1 | sed -E 's/.*\(([0-9.]+) %\)/\1/')
checks=$((checks + 1))
awk -v p="$percent" 'BEGIN { exit !(p >= 98.0) }' || fail "fields right: $percent % (< 98 %)"

# What was detected is in the stats: encoding, delimiter, header row, mapped and unmapped columns.
assert_eq "$(jq -r '.detected[0] | [.encoding, .encoding_from] | join(",")' "$WORK/out/google-csv-utf16.csv.stats")" "utf-16le,byte-order mark" "UTF-16 found by its mark"
assert_eq "$(jq -r '.detected[0] | [.encoding, .delimiter, .delimiter_from, .header_line] | join(",")' "$WORK/out/excel-fr-cp1252.csv.stats")" "cp1252,;,sep= line,2" "cp1252, sep=, header after it"
assert_eq "$(jq -r '.detected[0] | [.header_line, .preamble_lines] | join(",")' "$WORK/out/linkedin-Connections.csv.stats")" "4,3" "LinkedIn's Notes preamble skipped"
assert_eq "$(jq -r '.detected[0].mapped["E-mail 1 - Value"]' "$WORK/out/google-contacts.csv.stats")" "email" "numbered multi-value column"
assert_eq "$(jq -r '.detected[0].unmapped | index("Connected On") != null' "$WORK/out/linkedin-Connections.csv.stats")" "true" "unmapped columns listed"
assert_eq "$(jq -r '.detected[0].sheet' "$WORK/out/excel-contacts.xlsx.stats")" "Contacts" "first sheet of the workbook"
# LinkedIn's connection without an address is a reject with its line, not a silent drop.
assert_eq "$(jq -r '[.reason, .line] | join(",")' "$WORK/out/linkedin-Connections.csv.rejects")" "missing_email,7" "row without an address"
# The summary line names what was found, without --stats.
summary=$(ingest --tenant sos-expat --now $NOW "$layouts/excel-fr-cp1252.csv" 2>&1 >/dev/null)
assert_contains "$summary" "is not UTF-8 and has no byte-order mark: read as Windows-1252" "notice naming the file"
assert_contains "$summary" "Adresse e-mail → email" "mapped columns in the summary"
assert_contains "$summary" "kept under custom: Civilité" "unmapped columns in the summary"
# --sheet picks another worksheet; an unknown one is a usage error naming the sheets.
assert_eq "$(ingest --tenant sos-expat --sheet Archive "$layouts/excel-contacts.xlsx" 2>/dev/null | jq -r .email)" "not.this.one@example.org" "--sheet"
assert_contains "$(ingest --tenant sos-expat --sheet Nope "$layouts/excel-contacts.xlsx" 2>&1 >/dev/null || true)" "sheets: Contacts, Archive" "unknown sheet"
done_ok

#!/usr/bin/env bash
# MailWizz both ways, against the double: `inject mailwizz-campaign` creates one campaign per
# language of a list split by language, with merge tags and send_at in the tenant's time zone
# (the double reads it in its customer's zone and stores UTC), and a re-run creates nothing;
# `account events --mailwizz-pull` records the list's unsubscribed subscribers and the
# campaigns' unsubscribes and bounces, only the tenant's (by list), each once, with a cursor
# in the ledger that keeps later pulls to the new records; a pull cut short records nothing,
# and one whose ledger write was lost records nothing twice.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
export MAILWIZZ_DOUBLE_KEY="k3y-$$-$RANDOM"
export SOS_EXPAT_MAILWIZZ_KEY=$MAILWIZZ_DOUBLE_KEY SOS_EXPAT_UNSUB_SECRET=pull-test-secret
MW="$WORK/mw"
trap 'bash "$SERVERS/stop-mailwizz-double.sh" "$MW" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -p "$MW"
URL=$(bash "$SERVERS/start-mailwizz-double.sh" "$MW" --single-opt-in --customer-timezone Europe/Paris --fixed-time '2026-11-20 08:00:00')
ctl() { curl -s -X POST -d "$1" "${URL%/api}/__control" > /dev/null; }
state() { curl -s "${URL%/api}/__state"; }
ctl '{"lists":[{"list_uid":"sxfr0001"},{"list_uid":"sxen0001"},{"list_uid":"otherlist01"}]}'
jq --arg u "$URL" '.mailwizz.url = $u | .mailwizz.list_uid = "sxfr0001" | .mailwizz.language_lists = {"fr": "sxfr0001", "en": "sxen0001"}' \
  "$REPO/samples/sos-expat/tenant.json" > "$WORK/tenant.json"
account init --tenant sos-expat --config "$WORK/tenant.json" 2>/dev/null
account commit --tenant sos-expat "$REPO/samples/contacts.ndjson" 2>/dev/null
ctl '{"subscribers":[
  {"list_uid":"sxfr0001","email":"claire.martin@cabinet-martin-avocats.fr","status":"confirmed","fields":{"FNAME":"Claire"}},
  {"list_uid":"sxfr0001","email":"lea.dubois@studio-dubois.fr","status":"unsubscribed"},
  {"list_uid":"sxen0001","email":"juergen.mueller@notar-mueller.de","status":"confirmed"},
  {"list_uid":"sxen0001","email":"marco.rossi@libero.it","status":"confirmed"},
  {"list_uid":"otherlist01","email":"someone@elsewhere.test","status":"unsubscribed"}]}'

# 1. Campaigns from render's templates, one per language list.
campaign() { inject mailwizz-campaign --tenant sos-expat --campaign welcome-nov --templates "$REPO/samples/templates" \
  --send-at '2026-12-01 09:00' "$@"; }
campaign > "$WORK/created.ndjson" 2> "$WORK/created.err"
assert_eq "$(jq -r '[.campaign, .outcome, .list_uid, .send_at] | @tsv' "$WORK/created.ndjson" | sort | tr '\t\n' ' |')" \
  "welcome-nov-en sent sxen0001 2026-12-01 09:00:00|welcome-nov-fr sent sxfr0001 2026-12-01 09:00:00|" "one campaign per language list"
fr=$(jq -r 'select(.language == "fr") | .remote_id' "$WORK/created.ndjson")
en=$(jq -r 'select(.language == "en") | .remote_id' "$WORK/created.ndjson")
c() { state | jq -r --arg c "$1" ".campaigns[\$c].$2"; }
assert_eq "$(c "$fr" send_at_utc)" "2026-12-01 08:00:00" "send_at read in Europe/Paris (UTC+1 in December)"
assert_eq "$(c "$fr" status)" "pending-sending" "scheduled"
[ -n "$(c "$fr" subject)" ] && [ "$(c "$fr" subject)" != "$(c "$en" subject)" ] || fail "each campaign has its language's subject"
assert_contains "$(c "$fr" template.content)" "[UNSUBSCRIBE_URL]" "unsubscribe merge tag"
assert_contains "$(c "$fr" template.content)" 'lang="fr"' "the French template"
assert_contains "$(c "$en" template.content)" 'lang="en"' "the English template"
assert_eq "$(c "$fr" from_email)" "hello@mail.sos-expat.com" "sender from tenant.json"
grep -q '{' <<< "$(c "$fr" template.content | grep -o '{[a-zA-Z_]*}' || true)" && fail "a mailpipe variable left in the content"
campaign > "$WORK/again.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/again.ndjson" | sort -u)" "skipped" "a re-run creates nothing"
assert_eq "$(state | jq '.campaigns | length')" "2" "still two campaigns"
assert_eq "$(run_status campaign --send-at 'next tuesday' 2>/dev/null)" "2" "a bad --send-at is a usage error"

# 2. MailWizz records unsubscribes and bounces (as its tracking and bounce processor would).
ctl '{"campaigns":[{"list_uid":"otherlist01","name":"not-ours","campaign_uid":"notours000001"}]}'
ctl "{\"campaign_unsubscribes\":[{\"campaign_uid\":\"$fr\",\"email\":\"claire.martin@cabinet-martin-avocats.fr\",\"reason\":\"too many\",\"date_added\":\"2026-12-01 10:00:00\"}],
      \"campaign_bounces\":[{\"campaign_uid\":\"$en\",\"email\":\"marco.rossi@libero.it\",\"bounce_type\":\"hard\",\"message\":\"550 5.1.1 unknown\"},
                            {\"campaign_uid\":\"$en\",\"email\":\"juergen.mueller@notar-mueller.de\",\"bounce_type\":\"soft\",\"message\":\"452 mailbox full\"}]}"
ctl '{"subscribers":[{"list_uid":"otherlist01","email":"x@elsewhere.test","status":"confirmed"}]}'
ctl '{"campaign_unsubscribes":[{"campaign_uid":"notours000001","email":"x@elsewhere.test"}]}'
pull() { account events --tenant sos-expat --mailwizz-pull --now 2026-12-02T06:00:00Z --stats "$WORK/$1.stats" 2>/dev/null; }
pull first
assert_eq "$(jq -c '[.in, .new, .duplicates]' "$WORK/first.stats")" "[5,4,1]" "first pull: 4 events (a campaign unsubscribe shows in its list too: once)"
ev() { zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | jq -r 'select(.source == "mailwizz") | [.email, .type, .bounce_class // "-", .campaign // "-"] | @tsv' | sort | tr '\t\n' ' |'; }
assert_eq "$(ev)" "claire.martin@cabinet-martin-avocats.fr unsubscribed - welcome-nov-fr|juergen.mueller@notar-mueller.de bounced soft welcome-nov-en|lea.dubois@studio-dubois.fr unsubscribed - -|marco.rossi@libero.it bounced hard welcome-nov-en|" "the tenant's unsubscribes and bounces, nothing of other lists"
assert_eq "$(account suppress --tenant sos-expat --list 2>/dev/null | jq -r .email | sort | tr '\n' ' ')" \
  "claire.martin@cabinet-martin-avocats.fr lea.dubois@studio-dubois.fr marco.rossi@libero.it sarah.jones@jones-relocation.co.uk " \
  "suppressed: the pulled unsubscribes and hard bounce beside the imported status (the soft bounce counts, no more)"
assert_eq "$(jq -r --arg c "$en" '.mailwizz_pull.campaigns[$c].bounces.count' "$MAILPIPE_STATE/sos-expat/ledger.json")" "2" "the cursor is in the ledger"
assert_eq "$(account events --tenant sos-expat --mailwizz-pull 2>&1 >/dev/null | grep -c "$MAILWIZZ_DOUBLE_KEY" || true)" "0" "no key on stderr"

# 3. Again: nothing new; then one more unsubscribe: only it.
pull second
assert_eq "$(jq -c '[.new]' "$WORK/second.stats")" "[0]" "a second pull adds nothing"
ctl "{\"subscribers\":[{\"list_uid\":\"sxen0001\",\"email\":\"hannah.schmidt@web.de\",\"status\":\"confirmed\"}]}"
ctl "{\"campaign_unsubscribes\":[{\"campaign_uid\":\"$en\",\"email\":\"hannah.schmidt@web.de\",\"date_added\":\"2026-12-02 07:00:00\"}]}"
# A pull cut short (MailWizz fails on the last campaign log) records nothing and keeps its cursor.
cp "$MAILPIPE_STATE/sos-expat/ledger.json" "$WORK/ledger.before"
ctl '{"fail_next":{"count":1,"code":404,"endpoints":["campaign_bounces/index"]}}'
assert_eq "$(run_status account events --tenant sos-expat --mailwizz-pull --now 2026-12-02T06:30:00Z 2>"$WORK/err")" "1" "a failed pull: exit 1"
assert_contains "$(cat "$WORK/err")" "HTTP 404" "the failing call named"
assert_eq "$(zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | grep -c hannah.schmidt || true)" "0" "nothing recorded"
assert_eq "$(jq -c .mailwizz_pull "$MAILPIPE_STATE/sos-expat/ledger.json")" "$(jq -c .mailwizz_pull "$WORK/ledger.before")" "cursor unchanged"
before=$(state | jq '.requests["campaign_unsubscribes/index"]')
pull third
assert_eq "$(jq -c '[.new]' "$WORK/third.stats")" "[1]" "only the new unsubscribe"
assert_eq "$(( $(state | jq '.requests["campaign_unsubscribes/index"]') - before ))" "2" "one page per campaign: the cursor keeps the read short"
assert_eq "$(zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | jq -r 'select(.email == "hannah.schmidt@web.de") | .at')" "2026-12-02T07:00:00Z" "the unsubscribe's own date"

# A pull whose ledger write was lost (a crash after the events' append): the books recover the
# events, the old cursor reads the same records again, and nothing counts twice.
cp "$WORK/ledger.before" "$MAILPIPE_STATE/sos-expat/ledger.json"
pull fourth
assert_eq "$(jq -c '[.new]' "$WORK/fourth.stats")" "[0]" "nothing twice after a lost ledger write"
assert_eq "$(zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | grep -c hannah.schmidt)" "1" "one event"
assert_eq "$(jq -r --arg c "$en" '.mailwizz_pull.campaigns[$c].unsubscribes.count' "$MAILPIPE_STATE/sos-expat/ledger.json")" "1" "the cursor moved on"

# A log that lost records meanwhile (a subscriber deleted in MailWizz takes its rows along) and
# gained as many: the count alone would hide the new one; the boundary tells, the log is read again.
sub=$(state | jq -r '.lists.sxen0001.subscribers[] | select(.email == "hannah.schmidt@web.de") | .subscriber_uid')
curl -s -X DELETE -H "X-API-KEY: $MAILWIZZ_DOUBLE_KEY" "$URL/lists/sxen0001/subscribers/$sub" > /dev/null
ctl "{\"campaign_unsubscribes\":[{\"campaign_uid\":\"$en\",\"email\":\"juergen.mueller@notar-mueller.de\",\"date_added\":\"2026-12-02 08:00:00\"}]}"
pull fifth
assert_eq "$(jq -c '[.new, .mailwizz_logs_reread]' "$WORK/fifth.stats")" "[1,1]" "the new unsubscribe, the log read again"
assert_eq "$(zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" | jq -r 'select(.source == "mailwizz" and .type == "unsubscribed" and .email == "juergen.mueller@notar-mueller.de") | .campaign')" "welcome-nov-en" "recorded once, with its campaign"

# 4. Refusals: a wrong key is an error naming the HTTP status, and nothing is recorded.
assert_eq "$(SOS_EXPAT_MAILWIZZ_KEY=wrong run_status account events --tenant sos-expat --mailwizz-pull 2>"$WORK/err")" "1" "wrong key: exit 1"
assert_contains "$(cat "$WORK/err")" "HTTP 400" "the server's answer"
done_ok

#!/usr/bin/env bash
# account record / account events: every PowerMTA record type and bounce category, MailWizz
# webhooks, event NDJSON, idempotent re-import, the soft-bounce rule, unknown contacts.
source "$(dirname "$0")/lib.sh"
S="$REPO/samples"
T=books-demo
ev() { zcat "$MAILPIPE_STATE/$T/events.ndjson.gz"; }

account init --tenant $T --config "$S/account/tenant.json" 2>/dev/null
account commit --tenant $T "$S/account/contacts.ndjson" 2>/dev/null

# Outcomes: 8 sent, 1 failed (unknown contact), 1 skipped.
account record --tenant $T --now 2026-11-23T10:00:00Z --stats "$WORK/rec.json" "$S/account/outcomes.ndjson"
assert_eq "$(jq -c '[.in,.sent,.failed,.skipped,.unknown_contacts]' "$WORK/rec.json")" "[10,8,1,1,1]" "record summary"
assert_eq "$(account export --tenant $T | jq -r 'select(.email=="ana@example.org") | [.status,.last_campaign] | join(" ")')" "injected nov-fr" "sent → injected"
assert_eq "$(jq -c '.vmtas["vmta-a"].sent, .vmtas["vmta-b"].sent' "$MAILPIPE_STATE/$T/ledger.json" | tr -d '\n')" \
  '{"2026-11-23":4}{"2026-11-23":4}' "per-vmta daily sends"
assert_eq "$(jq -c '.campaigns["nov-fr"] | [.sent,.failed]' "$MAILPIPE_STATE/$T/ledger.json")" "[8,1]" "per-campaign counters"
# Recording the same outcomes again counts nothing.
account record --tenant $T --now 2026-11-23T10:05:00Z --stats "$WORK/rec2.json" "$S/account/outcomes.ndjson"
assert_eq "$(jq -c '[.sent,.duplicates]' "$WORK/rec2.json")" "[0,9]" "outcomes re-recorded"
assert_eq "$(jq '.campaigns["nov-fr"].sent' "$MAILPIPE_STATE/$T/ledger.json")" "8" "ledger unchanged by re-record"

# PowerMTA file 1: d d d(unix time) b(hard) b(soft) t tq f rb(policy) rs(delivered, unknown) r(ignored), CRLF, quoted CRLF.
account events --tenant $T --now 2026-11-23T12:00:00Z --pmta "$S/pmta/acct-2026-11-23.csv" --stats "$WORK/e1.json"
assert_eq "$(jq -c '[.in,.new,.unknown_contacts,.suppressed,.ignored,.rejected]' "$WORK/e1.json")" "[11,10,1,2,1,0]" "pmta file 1 summary"
assert_eq "$(jq -cS '.types' "$WORK/e1.json")" '{"bounced_hard":1,"bounced_policy":1,"bounced_soft":1,"complained":1,"deferred":2,"delivered":4}' "types of file 1"
assert_eq "$(ev | jq -r 'select(.email=="carla@example.es" and .type=="delivered") | .at')" "2026-11-23T09:01:10Z" "unix timeLogged"
assert_eq "$(ev | jq -r 'select(.email=="ana@example.org" and .type=="delivered") | .at')" "2026-11-23T09:01:00Z" "+0100 timeLogged"
assert_eq "$(ev | jq -r 'select(.email=="eva@example.org" and .type=="bounced") | .bounce_class')" "soft" "quota-issues is soft (address lower-cased)"
assert_eq "$(ev | jq -r 'select(.email=="zoe@unknown.example") | [.type,.contact] | join(" ")')" "delivered unknown" "rs + unknown contact kept"
assert_eq "$(ev | jq -r 'select(.email=="hugo@example.org" and .source=="pmta") | .bounce_class')" "policy" "rb spam-related is policy"
assert_eq "$(account export --tenant $T | jq -r 'select(.email=="dieter@example.de" or .email=="gina@example.org") | .status' | tr '\n' ' ')" \
  "bounced complained " "hard bounce and complaint set statuses"

# File 2 (other column order, unix times): eva's 2nd and 3rd soft bounce → suppressed; hugo "other" + 5.1.1 → hard.
account events --tenant $T --now 2026-11-24T12:00:00Z --pmta "$S/pmta/acct-2026-11-24.csv" --mailwizz "$S/account/mailwizz-webhooks.json" --stats "$WORK/e2.json"
assert_eq "$(jq -c '[.in,.new,.suppressed]' "$WORK/e2.json")" "[6,6,2]" "file 2 + webhooks"
assert_eq "$(zcat "$MAILPIPE_STATE/$T/suppression.ndjson.gz" | jq -r 'select(.email=="eva@example.org") | .reason')" "soft-bounces: 3 in 15 days" "soft rule"
assert_eq "$(ev | jq -r 'select(.source=="mailwizz") | .type' | sort | uniq -c | tr -s ' ' | tr '\n' ';')" " 1 clicked; 2 opened;" "webhook opens/clicks"

# Event NDJSON on stdin: an unsubscribe.
account events --tenant $T --now 2026-11-24T12:00:00Z --stats "$WORK/e3.json" < "$S/account/events.ndjson"
assert_eq "$(account export --tenant $T | jq -r 'select(.email=="ben@example.org") | .status')" "unsubscribed" "unsubscribe sets status"

# Re-importing everything counts nothing twice.
before=$(cat "$MAILPIPE_STATE/$T/ledger.json")
account events --tenant $T --now 2026-11-25T12:00:00Z --pmta "$S"/pmta/*.csv --mailwizz "$S/account/mailwizz-webhooks.json" --stats "$WORK/e4.json"
account events --tenant $T --now 2026-11-25T12:00:00Z --stats "$WORK/e5.json" < "$S/account/events.ndjson"
assert_eq "$(jq -c '[.new,.duplicates]' "$WORK/e4.json")" "[0,16]" "re-import: all duplicates"
assert_eq "$(jq -c '[.new,.duplicates]' "$WORK/e5.json")" "[0,1]" "re-import ndjson: duplicate"
assert_eq "$(cat "$MAILPIPE_STATE/$T/ledger.json")" "$before" "ledger unchanged by re-import"
assert_eq "$(zcat "$MAILPIPE_STATE/$T/suppression.ndjson.gz" | wc -l)" "5" "suppression unchanged by re-import"

# Every bounce category → its class; DSN status decides for empty/other categories.
{
  echo "type,timeLogged,rcpt,bounceCat,dsnStatus,vmta,jobId"
  i=0
  for cat in bad-mailbox bad-domain inactive-mailbox quota-issues no-answer-from-host relaying-issues bad-connection \
             message-expired routing-errors spam-related policy-related content-related virus-related invalid-sender \
             bad-configuration protocol-errors; do
    i=$((i + 1)); echo "b,2026-11-25 08:00:00+0000,cat$i-$cat@cats.example,$cat,5.0.0 (x),vmta-a,cats"
  done
  echo "b,2026-11-25 08:00:00+0000,dsn1@cats.example,other,5.1.1 (bad destination mailbox address),vmta-a,cats"
  echo "b,2026-11-25 08:00:00+0000,dsn2@cats.example,,5.2.1 (mailbox disabled),vmta-a,cats"
  echo "b,2026-11-25 08:00:00+0000,dsn3@cats.example,other,4.7.0 (try later),vmta-a,cats"
  echo "b,2026-11-25 08:00:00+0000,dsn4@cats.example,other,5.7.1 (refused),vmta-a,cats"
  echo "b,not-a-time,bad@cats.example,bad-mailbox,5.1.1,vmta-a,cats"
  echo "b,2026-11-25 08:00:00+0000,,bad-mailbox,5.1.1,vmta-a,cats"
} > "$WORK/cats.csv"
account events --tenant $T --now 2026-11-25T12:00:00Z --pmta "$WORK/cats.csv" --rejects "$WORK/rej.ndjson" --stats "$WORK/e6.json"
classes=$(ev | jq -r 'select(.campaign=="cats") | "\(.email|split("@")[0]) \(.bounce_class)"' | sort | tr '\n' ';')
expected="cat1-bad-mailbox hard;cat10-spam-related policy;cat11-policy-related policy;cat12-content-related policy;cat13-virus-related policy;cat14-invalid-sender policy;cat15-bad-configuration policy;cat16-protocol-errors policy;cat2-bad-domain hard;cat3-inactive-mailbox hard;cat4-quota-issues soft;cat5-no-answer-from-host soft;cat6-relaying-issues soft;cat7-bad-connection soft;cat8-message-expired soft;cat9-routing-errors soft;dsn1 hard;dsn2 hard;dsn3 soft;dsn4 policy;"
assert_eq "$classes" "$expected" "bounce categories"
assert_eq "$(jq -r '.reason' "$WORK/rej.ndjson" | sort | tr '\n' ' ')" "invalid_time missing_email " "bad rows rejected with reasons"
assert_eq "$(jq -r '.line' "$WORK/rej.ndjson" | tr '\n' ' ')" "22 23 " "reject line numbers"
assert_eq "$(jq '.suppressed' "$WORK/e6.json")" "5" "hard bounces suppressed (3 categories + 2 DSN)"

# The soft-bounce rule honours the window: 3 soft bounces spread over more than 15 days do not suppress.
printf '%s\n' '{"email":"slow@x.example","type":"bounced","bounce_class":"soft","at":"2026-10-01T00:00:00Z"}' \
  '{"email":"slow@x.example","type":"bounced","bounce_class":"soft","at":"2026-10-10T00:00:00Z"}' \
  '{"email":"slow@x.example","type":"bounced","bounce_class":"soft","at":"2026-10-20T00:00:00Z"}' \
  '{"email":"fast@x.example","type":"bounced","bounce_class":"soft","at":"2026-10-21T00:00:00Z"}' \
  '{"email":"fast@x.example","type":"bounced","bounce_class":"soft","at":"2026-10-22T00:00:00Z"}' \
  | account events --tenant $T --now 2026-11-25T12:00:00Z 2>/dev/null
echo '{"email":"fast@x.example","type":"bounced","bounce_class":"soft","at":"2026-10-23T00:00:00Z"}' | account events --tenant $T --now 2026-11-25T12:00:00Z 2>/dev/null
assert_eq "$(zcat "$MAILPIPE_STATE/$T/suppression.ndjson.gz" | jq -r 'select(.email|endswith("x.example")) | .email')" "fast@x.example" "soft rule window"

# Bad NDJSON events are rejected, not dropped.
status=$(run_status account events --tenant $T --strict --rejects "$WORK/rej2.ndjson" <<< '{"email":"a@b.c","type":"exploded","at":"2026-11-25T00:00:00Z"}')
assert_eq "$status" "3" "--strict with rejects"
assert_eq "$(jq -r .reason "$WORK/rej2.ndjson")" "invalid_type" "invalid event type"
done_ok

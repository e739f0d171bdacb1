#!/usr/bin/env bash
# One answer to "may this address be mailed", through the built binaries: imported do-not-contact
# statuses (any spelling) reach the suppression list; segment holds them back from the store and
# from a stream that carries no status; inject checks at send time on every channel (an address
# suppressed after rendering is `skipped`, reason `suppressed`, never delivered); MailWizz gets
# the unsubscribe pushed under the same campaign; a permanent failure is final (journalled,
# dead-lettered, recorded as a bounce), skipped on re-runs unless --retry-failed, and
# `inject --replay` sends the dead letters again after a fix; a MailWizz sync is not a send.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
[ "$(id -u)" = 0 ] || skip "the private Postfix instance needs root"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
chmod 755 "$WORK"
PF="$WORK/postfix"; MW="$WORK/mw"
KEY="k3y-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
export MAILWIZZ_DOUBLE_KEY=$KEY MW_KEY=$KEY
SMTP=$(bash "$SERVERS/start-postfix.sh" "$PF" 0)
MWURL=$(bash "$SERVERS/start-mailwizz-double.sh" "$MW" --single-opt-in)
trap 'bash "$SERVERS/stop-postfix.sh" "$PF" >/dev/null 2>&1 || true; bash "$SERVERS/stop-mailwizz-double.sh" "$MW" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
NOW=2026-11-23T09:00:00Z
T=acme
cat > "$WORK/tenant.json" <<JSON
{"slug":"acme","sending_domain":"acme.test","smtp":{"url":"$SMTP","from":"hello@acme.test"},
 "mailwizz":{"url":"$MWURL","list_uid":"testlist00001","api_key_env":"MW_KEY"}}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
maildir_to() { grep -l "^X-Original-To: $1\$" "$PF"/Maildir/new/* "$PF"/Maildir/cur/* 2>/dev/null | wc -l; }
supp() { zcat "$MAILPIPE_STATE/$T/suppression.ndjson.gz" 2>/dev/null | jq -r .email | sort | tr '\n' ' '; }

# 1. Import: contacts already unsubscribed or blocklisted, in the spellings exports carry.
python3 "$FIX" contacts 10 > "$WORK/c.ndjson"
{ cat "$WORK/c.ndjson"
  echo '{"email":"unsub@example.test","status":"unsubscribed","tags":["avocat"]}'
  echo '{"email":"block@example.test","status":"blocklisted","tags":["avocat"]}'
  echo '{"email":"optout@example.test","status":"Opted-Out","tags":["avocat"]}'
  echo '{"email":"odd@example.test","status":"customer","tags":["avocat"]}'
} > "$WORK/import.ndjson"
account commit --tenant $T --now $NOW --stats "$WORK/commit.json" "$WORK/import.ndjson" 2>/dev/null
assert_eq "$(jq -c '[.new,.suppressed]' "$WORK/commit.json")" "[14,3]" "3 imported do-not-contact statuses suppressed"
assert_eq "$(supp)" "block@example.test optout@example.test unsub@example.test " "suppression list after import"
assert_eq "$(zcat "$MAILPIPE_STATE/$T/suppression.ndjson.gz" | jq -r 'select(.email=="block@example.test") | [.source,.reason] | join(" ")')" \
  "import imported status: blocklisted" "entry says where it came from"
# A re-import of the same file adds nothing; a re-import saying validated lifts nothing.
echo '{"email":"unsub@example.test","status":"validated"}' >> "$WORK/import.ndjson"
account commit --tenant $T --now 2026-11-23T09:05:00Z --stats "$WORK/commit2.json" "$WORK/import.ndjson" 2>/dev/null
assert_eq "$(jq -c '[.new,.suppressed // 0]' "$WORK/commit2.json")" "[0,0]" "re-import: nothing new"
assert_eq "$(account export --tenant $T | jq -r 'select(.email=="unsub@example.test") | .status')" "unsubscribed" "sticky status kept"

# 2. segment: from the store, and from a stream whose records carry no status.
segment --tenant $T --all avocat --stats "$WORK/seg.json" > "$WORK/seg.ndjson" 2>/dev/null
assert_eq "$(jq -r .email "$WORK/seg.ndjson" | grep -c -v '^contact' || true)" "0" "none of the four selected from the store"
assert_eq "$(jq -cS '.held_back_reasons' "$WORK/seg.json")" '{"status blacklisted":1,"status unknown":1,"status unsubscribed":2}' "held back by reason"
printf '%s\n' '{"tenant":"acme","email":"UNSUB@example.test"}' '{"tenant":"acme","email":"block@example.test"}' '{"tenant":"acme","email":"new@example.test"}' \
  | segment --tenant $T --contacts stdin --stats "$WORK/seg2.json" > "$WORK/seg2.ndjson" 2>/dev/null
assert_eq "$(jq -r .email "$WORK/seg2.ndjson")" "new@example.test" "stream without statuses: the list holds them back"
assert_eq "$(jq -cS '.held_back_reasons' "$WORK/seg2.json")" '{"suppression list":2}' "held by the suppression list"

# 3. inject smtp checks at send time: an address suppressed after its message was rendered is
#    skipped (reason suppressed) and never delivered; so is one whose record says unsubscribed.
python3 "$FIX" messages 6 --tenant $T --campaign nov > "$WORK/m.ndjson"
jq -c 'if .email == "user000005@example.test" then .contact.status = "unsubscribed" else . end' "$WORK/m.ndjson" > "$WORK/m2.ndjson"
account suppress --tenant $T --add user000001@example.test --reason "unsubscribed by e-mail" --now $NOW 2>/dev/null
inject smtp --tenant $T --now $NOW < "$WORK/m2.ndjson" > "$WORK/o1.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.email,.outcome,(.reason//"")] | join(" ")' "$WORK/o1.ndjson" | grep -v " sent " | tr '\n' ';')" \
  "user000001@example.test skipped suppressed;user000005@example.test skipped suppressed;" "suppressed at send time"
sleep 1
assert_eq "$(maildir_to user000001@example.test)" "0" "suppressed address never delivered"
assert_eq "$(maildir_to user000002@example.test)" "1" "others delivered"
account record --tenant $T --now $NOW --stats "$WORK/rec1.json" < "$WORK/o1.ndjson" 2>/dev/null
assert_eq "$(jq -c '[.sent,.skipped,.skipped_suppressed]' "$WORK/rec1.json")" "[4,2,2]" "record counts the suppressed skips"

# 4. Permanent failures end: 550 5.1.1 (hard) and 550 5.7.1 (policy) are final; a 450 is not.
# (Sessions run in parallel: the journal and the dead letters are in the order sends end.)
postconf -c "$PF/conf" -e 'smtpd_recipient_restrictions = check_recipient_access inline:{ {gone@example.test=550 5.1.1 no such user} {spam@example.test=550 5.7.1 refused for policy} }'
postfix -c "$PF/conf" reload >/dev/null 2>&1; sleep 1
head -1 "$WORK/m.ndjson" | jq -c '.email = "gone@example.test"' > "$WORK/f.ndjson"
head -1 "$WORK/m.ndjson" | jq -c '.email = "spam@example.test" | del(.campaign)' >> "$WORK/f.ndjson"
inject smtp --tenant $T --campaign nov --now $NOW < "$WORK/f.ndjson" > "$WORK/o2.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome,.reason,(.code|tostring)] | join(" ")' "$WORK/o2.ndjson" | sort -u)" "failed permanent 550" "5xx: failed, permanent"
DEAD="$MAILPIPE_STATE/$T/journal/smtp/nov.dead.ndjson"
assert_eq "$(jq -r '[.email,.tenant,.campaign] | join(" ")' "$DEAD" | sort | tr '\n' ';')" \
  "gone@example.test acme nov;spam@example.test acme nov;" "dead letters: the records, with tenant and campaign"
assert_eq "$(jq -r 'select(.state=="failed") | [.email,(.final|tostring)] | join(" ")' "$MAILPIPE_STATE/$T/journal/smtp/nov.ndjson" | sort | tr '\n' ';')" \
  "gone@example.test true;spam@example.test true;" "journalled as final"
inject smtp --tenant $T --campaign nov --now $NOW < "$WORK/f.ndjson" > "$WORK/o3.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome,.reason] | join(" ")' "$WORK/o3.ndjson" | sort -u)" "skipped failed_before" "never retried on a re-run"
account record --tenant $T --now $NOW --stats "$WORK/rec2.json" < "$WORK/o2.ndjson" 2>/dev/null
assert_eq "$(jq -c '[.bounced_hard,.bounced_policy,.suppressed]' "$WORK/rec2.json")" "[1,1,1]" "recorded as bounces; the hard one suppresses"
assert_eq "$(zcat "$MAILPIPE_STATE/$T/events.ndjson.gz" | jq -r 'select(.email=="gone@example.test") | [.type,.bounce_class,.phase] | join(" ")')" \
  "bounced hard send" "a hard-bounce event"
# After a fix (the policy refusal lifted), --replay sends the dead letters again; gone@ is
# suppressed by now and is skipped, spam@ is delivered; the replayed file is done with.
postconf -c "$PF/conf" -e 'smtpd_recipient_restrictions = permit_mynetworks'
postfix -c "$PF/conf" reload >/dev/null 2>&1; sleep 1
inject smtp --tenant $T --now $NOW --replay "$DEAD" > "$WORK/o4.ndjson" 2>/dev/null
# The dead-letter file is in completion order (parallel SMTP sessions), so the replay's is too.
assert_eq "$(jq -r '[.email,.outcome,(.reason//"")] | join(" ")' "$WORK/o4.ndjson" | sort | tr '\n' ';')" \
  "gone@example.test skipped suppressed;spam@example.test sent ;" "replay after the fix"
[ ! -e "$DEAD" ] && [ ! -e "$DEAD.replaying" ] || fail "the replayed dead-letter file is gone"
sleep 1
assert_eq "$(maildir_to spam@example.test)" "1" "replayed message delivered"
# --retry-failed on a plain re-run tries a final failure again.
postconf -c "$PF/conf" -e 'smtpd_recipient_restrictions = check_recipient_access inline:{ {again@example.test=550 5.7.1 no} }'
postfix -c "$PF/conf" reload >/dev/null 2>&1; sleep 1
head -1 "$WORK/m.ndjson" | jq -c '.email = "again@example.test"' > "$WORK/a.ndjson"
inject smtp --tenant $T --now $NOW < "$WORK/a.ndjson" > /dev/null 2>&1
postconf -c "$PF/conf" -e 'smtpd_recipient_restrictions = permit_mynetworks'
postfix -c "$PF/conf" reload >/dev/null 2>&1; sleep 1
assert_eq "$(inject smtp --tenant $T --now $NOW < "$WORK/a.ndjson" 2>/dev/null | jq -r .outcome)" "skipped" "final without the flag"
assert_eq "$(inject smtp --tenant $T --now $NOW --retry-failed < "$WORK/a.ndjson" 2>/dev/null | jq -r .outcome)" "sent" "--retry-failed sends it"

# 5. MailWizz: a contact synced once and unsubscribed since gets the unsubscribe pushed under
#    the same campaign; a sync is not a send.
account export --tenant $T | jq -c 'select(.email|startswith("contact"))' | head -3 > "$WORK/sync.ndjson"
inject mailwizz --tenant $T --campaign sync-1 --now $NOW < "$WORK/sync.ndjson" > "$WORK/w1.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/w1.ndjson" | sort | uniq -c | xargs)" "3 sent" "three subscribed"
account record --tenant $T --now $NOW --stats "$WORK/rec3.json" < "$WORK/w1.ndjson" 2>/dev/null
assert_eq "$(jq -c '[.sent,.synced]' "$WORK/rec3.json")" "[0,3]" "a list sync is not a send"
assert_eq "$(jq -c '.campaigns["sync-1"] | [.sent // 0, .synced]' "$MAILPIPE_STATE/$T/ledger.json")" "[0,3]" "ledger: synced, not sent"
first=$(jq -r .email "$WORK/sync.ndjson" | head -1)
account suppress --tenant $T --add "$first" --reason "unsubscribed by phone" --now $NOW 2>/dev/null
inject mailwizz --tenant $T --campaign sync-1 --now $NOW < "$WORK/sync.ndjson" > "$WORK/w2.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.email,.outcome,(.action//.reason)] | join(" ")' "$WORK/w2.ndjson" | head -1)" "$first sent unsubscribe" "unsubscribe pushed, same campaign"
assert_eq "$(curl -s "${MWURL%/api}/__state" | jq -r --arg e "$first" '.lists[]|select(.list_uid=="testlist00001")|.subscribers[]|select(.email==$e).status')" \
  "unsubscribed" "unsubscribed in MailWizz"
assert_eq "$(jq -r .reason "$WORK/w2.ndjson" | tail -2 | sort -u)" "already_sent" "the others: already synced"
inject mailwizz --tenant $T --campaign sync-1 --now $NOW < "$WORK/sync.ndjson" > "$WORK/w3.ndjson" 2>/dev/null
assert_eq "$(jq -r .reason "$WORK/w3.ndjson" | sort -u)" "already_sent" "the unsubscribe is pushed once"
done_ok

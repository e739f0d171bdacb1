#!/usr/bin/env bash
# account serve, ESP webhooks with keys this test makes (openssl): SendGrid's ECDSA-signed
# Event Webhook, Postmark's basic auth, Amazon SES notifications through SNS (SignatureVersion
# 1 and 2, the certificate from a file). Valid requests are recorded once (a redelivery adds
# nothing); a bad signature, a wrong password, another topic record nothing; an event of another
# tenant (an address that is no contact, a campaign never sent here) is counted, not written.
# MailWizz's open/click webhooks (no signature: a shared secret in the URL or a header) are
# recorded once; a missing or wrong secret, or an event of a list that is not the tenant's,
# records nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
command -v openssl >/dev/null || skip "openssl is not installed"
K="$WORK/keys"; mkdir -p "$K"
openssl ecparam -name prime256v1 -genkey -noout -out "$K/sendgrid.key" 2>/dev/null
sendgrid_public=$(openssl ec -in "$K/sendgrid.key" -pubout -outform DER 2>/dev/null | base64 -w0)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/sns.key" -out "$K/sns.pem" -days 2 -subj /CN=sns.mailpipe.test 2>/dev/null
topic=arn:aws:sns:eu-west-1:123456789012:ses-events
jq --arg k "$sendgrid_public" --arg cert "$K/sns.pem" --arg topic "$topic" \
  '.webhooks = {sendgrid: {public_key: $k}, postmark: {username: "postmark", password_env: "POSTMARK_HOOK_PASSWORD"},
                ses: {certificate_file: $cert, topic_arns: [$topic]}, mailwizz: {secret_env: "SX_MAILWIZZ_HOOK_SECRET"}}' \
  "$REPO/samples/sos-expat/tenant.json" > "$WORK/tenant.json"
export POSTMARK_HOOK_PASSWORD="pm-pass-$$"
export SX_MAILWIZZ_HOOK_SECRET="mw-hook-secret-$$-$RANDOM$RANDOM"
serve_tenant "$WORK/tenant.json"
suppressed() { account suppress --tenant sos-expat --list 2>/dev/null | jq -r .email | sort | tr '\n' ' '; }
already=$(suppressed)
start_serve "$WORK/serve.log" --tenant sos-expat
post() { curl -s -o "$WORK/body" -w '%{http_code}' -X POST "$@"; }
count() { events_of "$1" | jq -r --arg s "$2" 'select(.source == $s) | .email' | wc -l; }

# SendGrid: signature over timestamp + body.
cat > "$WORK/sg.json" <<'EOF'
[{"email":"claire.martin@cabinet-martin-avocats.fr","timestamp":1764000000,"event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 no such user","sg_event_id":"sg-b-1","campaign":"welcome-nov"},
 {"email":"jose.garcia@garcia-abogados.es","timestamp":1764000060,"event":"open","sg_event_id":"sg-o-1","campaign":"welcome-nov"},
 {"email":"jose.garcia@garcia-abogados.es","timestamp":1764000061,"event":"processed","sg_event_id":"sg-p-1"},
 {"email":"someone@other-tenant.example","timestamp":1764000062,"event":"bounce","type":"bounce","status":"5.1.1","sg_event_id":"sg-b-2","campaign":"their-campaign"}]
EOF
ts=1764000100
sign_sendgrid() { { printf '%s' "$ts"; cat "$1"; } | openssl dgst -sha256 -sign "$K/sendgrid.key" | base64 -w0; }
sig=$(sign_sendgrid "$WORK/sg.json")
sendgrid() { post "$BASE/webhooks/sos-expat/sendgrid" -H 'Content-Type: application/json' "$@"; }
sed 's/no such user/no such USER/' "$WORK/sg.json" > "$WORK/sg-tampered.json"
assert_eq "$(sendgrid -H "X-Twilio-Email-Event-Webhook-Signature: $sig" -H "X-Twilio-Email-Event-Webhook-Timestamp: $ts" --data-binary @"$WORK/sg-tampered.json")" "403" "SendGrid: a changed body"
assert_eq "$(sendgrid -H "X-Twilio-Email-Event-Webhook-Signature: $sig" -H "X-Twilio-Email-Event-Webhook-Timestamp: $((ts + 1))" --data-binary @"$WORK/sg.json")" "403" "SendGrid: another timestamp"
assert_eq "$(sendgrid --data-binary @"$WORK/sg.json")" "403" "SendGrid: no signature"
assert_eq "$(count bounced sendgrid)" "0" "nothing recorded by refused SendGrid requests"
assert_eq "$(sendgrid -H "X-Twilio-Email-Event-Webhook-Signature: $sig" -H "X-Twilio-Email-Event-Webhook-Timestamp: $ts" --data-binary @"$WORK/sg.json")" "200" "SendGrid: signed"
assert_eq "$(jq -c '[.events, .new, .other_tenant, .ignored]' "$WORK/body")" "[3,2,1,1]" "SendGrid: two events, one of another tenant, one ignored"
assert_eq "$(sendgrid -H "X-Twilio-Email-Event-Webhook-Signature: $sig" -H "X-Twilio-Email-Event-Webhook-Timestamp: $ts" --data-binary @"$WORK/sg.json")" "200" "SendGrid: redelivered"
assert_eq "$(jq -c '[.new, .other_tenant]' "$WORK/body")" "[0,1]" "SendGrid: the redelivery adds nothing"
assert_eq "$(count bounced sendgrid) $(count opened sendgrid)" "1 1" "SendGrid events in the log"
assert_eq "$(events_of bounced | jq -r 'select(.source == "sendgrid") | .bounce_class')" "hard" "5.1.1 is a hard bounce"
assert_eq "$(events_of bounced | grep -c other-tenant.example || true)" "0" "another tenant's event is not written"

# Postmark: basic auth.
cat > "$WORK/pm.json" <<'EOF'
{"RecordType":"Bounce","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,"Name":"Hard bounce","Tag":"welcome-nov",
 "MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Description":"The server was unable to deliver your message",
 "Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist.","Email":"jose.garcia@garcia-abogados.es",
 "From":"hello@mail.sos-expat.com","BouncedAt":"2026-11-23T09:05:00Z","Inactive":true,"CanActivate":true,"Subject":"Bienvenue"}
EOF
postmark() { post "$BASE/webhooks/sos-expat/postmark" -H 'Content-Type: application/json' --data-binary @"$WORK/pm.json" "$@"; }
assert_eq "$(postmark -u "postmark:wrong")" "401" "Postmark: a wrong password"
assert_eq "$(postmark)" "401" "Postmark: no credentials"
assert_eq "$(count bounced postmark)" "0" "nothing recorded by refused Postmark requests"
assert_eq "$(postmark -u "postmark:$POSTMARK_HOOK_PASSWORD")" "200" "Postmark: authenticated"
assert_eq "$(postmark -u "postmark:$POSTMARK_HOOK_PASSWORD")" "200" "Postmark: redelivered"
assert_eq "$(count bounced postmark)" "1" "Postmark bounce recorded once"

# SES through SNS: the canonical string signed with the certificate's key, SHA1 (v1) and SHA256 (v2).
sns() { # TYPE VERSION TOPIC MESSAGE → the signed SNS JSON on stdout
  python3 - "$K/sns.key" "$@" <<'PY'
import base64, json, subprocess, sys
key, kind, version, topic, message = sys.argv[1:6]
m = {"Type": kind, "MessageId": f"mid-{kind}-{version}-{abs(hash(message)) % 10**8}", "TopicArn": topic,
     "Message": message, "Timestamp": "2026-11-23T09:10:00.000Z",
     "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"}
if kind == "Notification":
    m["Subject"] = "Amazon SES Email Event Notification"
    fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
else:
    m["Token"] = "2336412f37fb687f5d51e6e2425c464de12884"
    m["SubscribeURL"] = f"https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token=2336412f"
    fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
canonical = "".join(f"{k}\n{m[k]}\n" for k in fields).encode()
digest = "-sha1" if version == "1" else "-sha256"
sig = subprocess.run(["openssl", "dgst", digest, "-sign", key], input=canonical, capture_output=True, check=True).stdout
m["SignatureVersion"] = version
m["Signature"] = base64.b64encode(sig).decode()
print(json.dumps(m))
PY
}
complaint='{"notificationType":"Complaint","mail":{"messageId":"ses-1","timestamp":"2026-11-23T09:00:00.000Z","destination":["ana.souza@gmail.com"],"headers":[{"name":"X-Job","value":"welcome-nov"}]},"complaint":{"feedbackId":"fb-1","timestamp":"2026-11-23T09:09:00.000Z","complainedRecipients":[{"emailAddress":"ana.souza@gmail.com"}],"complaintFeedbackType":"abuse"}}'
delivery='{"eventType":"Delivery","mail":{"messageId":"ses-2","timestamp":"2026-11-23T09:00:00.000Z","destination":["jose.garcia@garcia-abogados.es"]},"delivery":{"timestamp":"2026-11-23T09:00:05.000Z","recipients":["jose.garcia@garcia-abogados.es"],"smtpResponse":"250 ok"}}'
ses() { post "$BASE/webhooks/sos-expat/ses" -H 'Content-Type: text/plain; charset=UTF-8' -H 'x-amz-sns-message-type: Notification' --data-binary @"$1"; }
sns Notification 1 "$topic" "$complaint" > "$WORK/sns-v1.json"
sns Notification 2 "$topic" "$delivery" > "$WORK/sns-v2.json"
sns Notification 2 arn:aws:sns:eu-west-1:123456789012:other "$delivery" > "$WORK/sns-topic.json"
sns SubscriptionConfirmation 2 "$topic" "You have chosen to subscribe to the topic" > "$WORK/sns-confirm.json"
jq '.Message |= sub("abuse"; "not-spam")' "$WORK/sns-v1.json" > "$WORK/sns-tampered.json"
jq '.Signature = "AAAA" + .Signature[4:]' "$WORK/sns-v2.json" > "$WORK/sns-badsig.json"
assert_eq "$(ses "$WORK/sns-tampered.json")" "403" "SNS: a changed message"
assert_eq "$(ses "$WORK/sns-badsig.json")" "403" "SNS: a changed signature"
assert_eq "$(ses "$WORK/sns-topic.json")" "403" "SNS: a topic not configured"
assert_eq "$(count complained ses) $(count delivered ses)" "0 0" "nothing recorded by refused SNS requests"
assert_eq "$(ses "$WORK/sns-v1.json")" "200" "SNS v1 (SHA1)"
assert_eq "$(ses "$WORK/sns-v2.json")" "200" "SNS v2 (SHA256)"
assert_eq "$(ses "$WORK/sns-v1.json")" "200" "SNS redelivered"
assert_eq "$(count complained ses) $(count delivered ses)" "1 1" "SES complaint and delivery recorded once"
assert_eq "$(ses "$WORK/sns-confirm.json")" "200" "SNS subscription confirmation"
# MailWizz: the campaign webhook as MailWizz posts it (external-systems.md §1), the tenant's list
# uid, the secret in the URL MailWizz is given (or in X-Mailpipe-Secret).
list=$(jq -r .mailwizz.list_uid "$WORK/tenant.json")
mw_event() { # TYPE EMAIL DATE LIST [URL]
  jq -nc --arg t "$1" --arg e "$2" --arg d "$3" --arg l "$4" --arg u "${5:-}" \
    '{event: ({type: $t, ip_address: "203.0.113.9", user_agent: "Mozilla/5.0 (X11; Linux x86_64)", date_added: $d}
              + (if $u == "" then {} else {clicked_url: $u} end)),
      subscriber: {attributes: {subscriber_uid: "sx1"}, fields: {EMAIL: $e}},
      campaign: {campaign_uid: "cu000001", name: "welcome-nov"}, list: {list_uid: $l}, timestamp: 1763892900}'
}
mailwizz() { post "$BASE/webhooks/sos-expat/mailwizz$1" -H 'Content-Type: application/json' --data-binary @"$2" "${@:3}"; }
mw_event open jose.garcia@garcia-abogados.es "2026-11-23 10:15:00" "$list" > "$WORK/mw-open.json"
mw_event click jose.garcia@garcia-abogados.es "2026-11-23 10:16:00" "$list" https://sos-expat.com/fr/avocats > "$WORK/mw-click.json"
mw_event open ana.souza@gmail.com "2026-11-23 10:17:00" otherlist01 > "$WORK/mw-other.json"
{ mw_event open ana.souza@gmail.com "2026-11-23 10:18:00" "$list"; mw_event open ana.souza@gmail.com "2026-11-23 10:19:00" otherlist01; } \
  | jq -s . > "$WORK/mw-mixed.json"
jq 'del(.list)' "$WORK/mw-other.json" > "$WORK/mw-nolist.json"
printf 'not json at all\n' > "$WORK/mw-garbage.json"
assert_eq "$(mailwizz "" "$WORK/mw-open.json")" "403" "MailWizz: no secret"
assert_eq "$(mailwizz "?secret=wrong-secret-0123456789" "$WORK/mw-open.json")" "403" "MailWizz: a wrong secret"
assert_eq "$(count opened mailwizz)" "0" "nothing recorded by refused MailWizz requests"
assert_eq "$(mailwizz "?secret=$SX_MAILWIZZ_HOOK_SECRET" "$WORK/mw-open.json")" "200" "MailWizz: the secret in the URL"
assert_eq "$(jq -c '[.events, .new]' "$WORK/body")" "[1,1]" "MailWizz: the open is new"
assert_eq "$(mailwizz "?secret=$SX_MAILWIZZ_HOOK_SECRET" "$WORK/mw-open.json")" "200" "MailWizz: redelivered"
assert_eq "$(jq -c '[.events, .new]' "$WORK/body")" "[1,0]" "MailWizz: the redelivery adds nothing"
assert_eq "$(mailwizz "" "$WORK/mw-click.json" -H "X-Mailpipe-Secret: $SX_MAILWIZZ_HOOK_SECRET")" "200" "MailWizz: the secret in a header"
assert_eq "$(mailwizz "?secret=$SX_MAILWIZZ_HOOK_SECRET" "$WORK/mw-other.json")" "422" "MailWizz: another tenant's list uid"
assert_contains "$(cat "$WORK/body")" "otherlist01" "MailWizz: the unknown list is named"
assert_eq "$(mailwizz "?secret=$SX_MAILWIZZ_HOOK_SECRET" "$WORK/mw-mixed.json")" "422" "MailWizz: one event of an unknown list refuses the request"
assert_eq "$(mailwizz "?secret=$SX_MAILWIZZ_HOOK_SECRET" "$WORK/mw-nolist.json")" "422" "MailWizz: an event without a list uid"
assert_eq "$(mailwizz "?secret=$SX_MAILWIZZ_HOOK_SECRET" "$WORK/mw-garbage.json")" "422" "MailWizz: no readable event"
assert_eq "$(count opened mailwizz) $(count clicked mailwizz)" "1 1" "MailWizz: one open and one click recorded, nothing of the refused"
assert_eq "$(events_of clicked | jq -r 'select(.source == "mailwizz") | [.email, .campaign, .url] | join(" ")')" \
  "jose.garcia@garcia-abogados.es welcome-nov https://sos-expat.com/fr/avocats" "MailWizz: the click's address, campaign and URL"
assert_eq "$(events_of opened | grep -c ana.souza || true)" "0" "MailWizz: no event of a refused request written"
# The same file through account events --mailwizz: the one reader, the same event id (nothing new).
before=$(events_of opened | wc -l)
account events --tenant sos-expat --mailwizz "$WORK/mw-open.json" > /dev/null 2>&1
assert_eq "$(events_of opened | wc -l)" "$before" "account events --mailwizz reads the webhook as the route did (same id)"
stop_serve TERM
assert_contains "$(cat "$WORK/serve.log")" "SNS asks to confirm the subscription to $topic" "the operator is told to confirm"
assert_eq "$(events_of complained | jq -r .campaign)" "welcome-nov" "the campaign from X-Job"

# Their effects: hard bounces and the complaint are suppressed.
assert_eq "$(suppressed)" \
  "$(printf '%s\n' $already ana.souza@gmail.com claire.martin@cabinet-martin-avocats.fr jose.garcia@garcia-abogados.es | sort -u | tr '\n' ' ')" "suppressed"
assert_eq "$(grep '^{"at"' "$WORK/serve.log" | jq -r 'select(.status == 403 or .status == 401) | .outcome' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
  "bad_credentials=2 bad_signature=4 missing_signature=3 wrong_topic=1 " "refusals by reason"
assert_eq "$(grep -c "$POSTMARK_HOOK_PASSWORD" "$WORK/serve.log" || true)" "0" "no password in the log"
assert_eq "$(grep -c "$SX_MAILWIZZ_HOOK_SECRET" "$WORK/serve.log" || true)" "0" "no MailWizz secret in the log"
assert_eq "$(grep '^{"at"' "$WORK/serve.log" | jq -r 'select(.route == "mailwizz" and .status == 422) | .outcome' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
  "unknown_list=3 unreadable=1 " "MailWizz refusals by reason"
done_ok

#!/usr/bin/env bash
# account events --unsubscribe-mbox: the mails people sent to the mailto: of the List-Unsubscribe
# header `render` wrote. The subject a mail client makes of that mailto (decoded, or with its %20
# left as is, or RFC 2047-encoded) records the unsubscribe, from an mbox file or a Maildir, sent
# from any address; a forged token, a subject without a token and an ordinary reply are rejected
# with their file and line and record nothing; a subject with the token alone is checked against
# the sender and the campaigns the books know; importing again, or a one-click POST of the same
# address and campaign afterwards, records nothing twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
serve_tenant
suppressed() { account suppress --tenant sos-expat --list 2>/dev/null | jq -r .email | sort | tr '\n' ' '; }
already=$(suppressed)
# The mailto's subject, as render wrote it (percent-encoded).
subject_of() {
  jq -r --arg e "$1" 'select(.email == $e) | .headers["List-Unsubscribe"]' "$WORK/messages.ndjson" \
    | sed -n 's|^<mailto:[^?]*?subject=\([^>]*\)>.*|\1|p'
}
claire=claire.martin@cabinet-martin-avocats.fr
jose=jose.garcia@garcia-abogados.es
wei=wei.wang@qq.com
ana=ana.souza@gmail.com
raw=$(subject_of "$claire")
assert_contains "$raw" "unsubscribe%20" "render's mailto subject"
assert_contains "$raw" "%20welcome-nov%20claire.martin%40cabinet-martin-avocats.fr" "it names the campaign and the address"
decoded() { python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "$1"; }
token_of() { decoded "$(subject_of "$1")" | awk '{print $2}'; }
token=$(token_of "$claire")
forged="${token%?}$( [ "${token: -1}" = A ] && echo B || echo A)"

message() { # FROM SUBJECT
  printf 'From %s Mon Nov 23 10:14:02 2026\nFrom: %s\nTo: unsubscribe@mail.sos-expat.com\nDate: Mon, 23 Nov 2026 11:14:02 +0100\nSubject: %s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nPlease take me off this list.\n\n' "$1" "$1" "$2"
}
{
  # Sent from another address than the one mailed (a forward): the subject names the address.
  message forwarder@example.net "$(decoded "$raw")"
  # A client that left the %20 as it was.
  message "$jose" "$(subject_of "$jose" | sed 's/%40/@/')"
  message someone@example.net "unsubscribe $forged welcome-nov $claire"
  message "$ana" "unsubscribe"
  message "$ana" "Re: Bienvenue"
} > "$WORK/unsub.mbox"
mkdir -p "$WORK/Maildir/new" "$WORK/Maildir/cur" "$WORK/Maildir/tmp"
# RFC 2047 in a Maildir message (a client writing non-ASCII subjects encodes them all).
encoded="=?UTF-8?B?$(decoded "$(subject_of "$wei")" | tr -d '\n' | base64 -w0)?="
printf 'From: %s\nDate: Mon, 23 Nov 2026 20:40:11 +0800\nSubject: %s\n\nunsubscribe\n' "$wei" "$encoded" > "$WORK/Maildir/new/1764000000.M1P1.host"

status=$(run_capture env -u SOS_EXPAT_UNSUB_SECRET "$MAILPIPE_BIN/account" events --tenant sos-expat --unsubscribe-mbox "$WORK/unsub.mbox")
assert_eq "$status" "2" "no secret: a configuration error"
assert_contains "$(cat "$WORK/stderr")" "SOS_EXPAT_UNSUB_SECRET" "the error names the variable"

account events --tenant sos-expat --unsubscribe-mbox "$WORK/unsub.mbox" "$WORK/Maildir" \
  --rejects "$WORK/rejects.ndjson" --stats "$WORK/stats.json" 2>/dev/null
assert_eq "$(jq -c '[.in, .new, .rejected]' "$WORK/stats.json")" "[6,3,3]" "six messages: three recorded, three rejected"
assert_eq "$(jq -r '[.reason, (.file | sub(".*/"; "")), .line] | map(tostring) | join(":")' "$WORK/rejects.ndjson" | tr '\n' ' ')" \
  "bad_token:unsub.mbox:22 missing_token:unsub.mbox:32 not_unsubscribe:unsub.mbox:42 " "rejects with their file and the line of their first header"
events_of unsubscribed | jq -r '[.email, .campaign, .source, .at] | join(" ")' | sort > "$WORK/events"
assert_eq "$(cat "$WORK/events")" "$(printf '%s\n' \
  "$claire welcome-nov mailto 2026-11-23T10:14:02Z" "$jose welcome-nov mailto 2026-11-23T10:14:02Z" \
  "$wei welcome-nov mailto 2026-11-23T12:40:11Z" | sort)" "the three unsubscribes, timed by their Date"
assert_eq "$(suppressed)" "$(printf '%s\n' $already "$claire" "$jose" "$wei" | sort -u | tr '\n' ' ')" "suppressed"
assert_eq "$(segment --tenant sos-expat --contacts store 2>/dev/null | jq -r .email | grep -c -e "$claire" -e "$jose" -e "$wei" || true)" "0" "segment leaves them out"

# Again: nothing twice.
account events --tenant sos-expat --unsubscribe-mbox "$WORK/unsub.mbox" "$WORK/Maildir" --stats "$WORK/again.json" 2>/dev/null
assert_eq "$(jq -c '[.new, .duplicates]' "$WORK/again.json")" "[0,3]" "a second import records nothing"

# The token alone (a client that kept the first words): checked against the sender and the
# campaigns the books know (welcome-nov is known now); from another sender it does not verify.
{ message "$ana" "unsubscribe $(token_of "$ana")"; message "$claire" "unsubscribe $(token_of "$ana")"; } > "$WORK/short.mbox"
account events --tenant sos-expat --unsubscribe-mbox "$WORK/short.mbox" --rejects "$WORK/short-rejects.ndjson" --stats "$WORK/short.json" 2>/dev/null
assert_eq "$(jq -c '[.new, .rejected]' "$WORK/short.json")" "[1,1]" "token alone: the sender's own is recorded"
assert_eq "$(jq -r .reason "$WORK/short-rejects.ndjson")" "bad_token" "token alone from another sender"

# A one-click POST of an address already unsubscribed by mail: the same event, not a second one.
start_serve "$WORK/serve.log" --tenant sos-expat
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'List-Unsubscribe=One-Click' "$BASE$(link_of "$claire")")" "200" "one-click after the mail"
stop_serve TERM
assert_eq "$(events_of unsubscribed | jq -r .email | grep -c "$claire")" "1" "one unsubscribe for both ways"
done_ok

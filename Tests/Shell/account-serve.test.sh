#!/usr/bin/env bash
# account serve, one-click unsubscribe (RFC 8058), driven with curl: the link of a message
# `render` made, POSTed with List-Unsubscribe=One-Click, suppresses the contact and the next
# `segment` leaves it out; a GET shows a page and records nothing; a tampered token, a wrong
# method, an oversized or non-one-click body record nothing; the access log holds no token and
# no address; SIGTERM ends it with exit 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
serve_tenant
email=claire.martin@cabinet-martin-avocats.fr
link=$(link_of "$email")
assert_contains "$link" "/unsubscribe?t=sos-expat&c=welcome-nov&e=claire.martin%40cabinet-martin-avocats.fr&s=" "render's link"
before=$(segment --tenant sos-expat --contacts store --count 2>/dev/null | jq .count)

start_serve "$WORK/serve.log" --tenant sos-expat
suppressed() { account suppress --tenant sos-expat --list 2>/dev/null | jq -r .email | sort | tr '\n' ' '; }
# The samples' do-not-contact statuses are on the list already.
already=$(suppressed)
assert_eq "$(grep -c "$email" <<<"$already" || true)" "0" "the contact is not suppressed to begin with"
status() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }

assert_eq "$(status "$BASE/healthz")" "200" "healthz"

# A GET (a link scanner, or the person's browser): the page in the contact's language, a
# button that POSTs; nothing recorded.
assert_eq "$(status "$BASE$link")" "200" "GET answers the page"
assert_contains "$(cat "$WORK/body")" '<html lang="fr" dir="ltr">' "the page is in the contact's language"
assert_contains "$(cat "$WORK/body")" '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">' "a button that POSTs"
assert_eq "$(status -I "$BASE$link")" "200" "HEAD too"

# Refused requests: nothing recorded.
tampered="${link%?}$( [ "${link: -1}" = A ] && echo B || echo A)"
one_click=(-X POST -H 'Content-Type: application/x-www-form-urlencoded' --data 'List-Unsubscribe=One-Click')
assert_eq "$(status "${one_click[@]}" "$BASE$tampered")" "403" "a tampered token is refused"
assert_eq "$(status "$BASE$tampered")" "403" "a tampered token has no page"
other=$(link_of "jose.garcia@garcia-abogados.es")
swapped="${link%%&s=*}&s=${other##*&s=}"
assert_eq "$(status "${one_click[@]}" "$BASE$swapped")" "403" "another contact's token is refused"
assert_eq "$(status "${one_click[@]}" "$BASE${link/welcome-nov/other-campaign}")" "403" "the token covers the campaign"
assert_eq "$(status "${one_click[@]}" "$BASE${link%%&s=*}")" "400" "no token"
assert_eq "$(status -X PUT --data 'List-Unsubscribe=One-Click' "$BASE$link")" "405" "a wrong method"
assert_eq "$(status -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data 'List-Unsubscribe=Yes' "$BASE$link")" "400" "not the one-click body"
head -c 10000 /dev/zero | tr '\0' 'a' > "$WORK/big"
assert_eq "$(status -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @"$WORK/big" "$BASE$link")" "413" "an oversized body"
assert_eq "$(status "${one_click[@]}" "$BASE${link/t=sos-expat/t=ulixai}")" "404" "a tenant not served"
assert_eq "$(status "${one_click[@]}" "$BASE/nowhere")" "404" "an unknown path"
assert_eq "$(events_of unsubscribed | wc -l)" "0" "nothing recorded by refused requests"
assert_eq "$(suppressed)" "$already" "nobody suppressed by them"

# The one-click POST, as a mailbox provider sends it (multipart/form-data is allowed too).
assert_eq "$(status "${one_click[@]}" "$BASE$link")" "200" "one-click POST"
assert_contains "$(cat "$WORK/body")" "$email" "the done page names the address"
assert_eq "$(suppressed)" "$(printf '%s\n' $already "$email" | sort | tr '\n' ' ')" "the address is suppressed"
assert_eq "$(status -X POST -F 'List-Unsubscribe=One-Click' "$BASE$link")" "200" "again, as multipart: answered"
assert_eq "$(events_of unsubscribed | wc -l)" "1" "recorded once"
assert_eq "$(events_of unsubscribed | jq -r '[.email, .campaign, .source] | @tsv')" "$email	welcome-nov	one-click" "the event"
stop_serve TERM
assert_contains "$(cat "$WORK/serve.log")" "account serve: 15 requests, 2 groups" "the stop summary"

# The store and the next audience know it.
assert_eq "$(account export --tenant sos-expat 2>/dev/null | jq -r --arg e "$email" 'select(.email == $e) | .status')" "unsubscribed" "contact status"
after=$(segment --tenant sos-expat --contacts store --count 2>/dev/null | jq .count)
assert_eq "$after" "$((before - 1))" "segment leaves the contact out"
assert_eq "$(segment --tenant sos-expat --contacts store 2>/dev/null | grep -c "$email" || true)" "0" "not in the audience"

# The access log: one JSON line per request, no token, no address, no query.
token=${link##*&s=}
log_lines=$(grep -c '^{"at"' "$WORK/serve.log")
[ "$log_lines" -ge 15 ] || fail "access log has $log_lines lines"
assert_eq "$(grep -c -- "$token" "$WORK/serve.log" || true)" "0" "no token in the log"
assert_eq "$(grep -c "cabinet-martin" "$WORK/serve.log" || true)" "0" "no address in the log"
assert_eq "$(grep '^{"at"' "$WORK/serve.log" | jq -r 'select(.outcome == "bad_token") | .status' | sort -u)" "403" "refusals are counted by outcome"
assert_eq "$(grep '^{"at"' "$WORK/serve.log" | jq -r 'select(.outcome == "recorded") | .route')" "unsubscribe" "the recording"

# A configuration without the secret is refused before listening.
unset SOS_EXPAT_UNSUB_SECRET
assert_eq "$(run_status account serve --tenant sos-expat --listen 127.0.0.1:0 2>"$WORK/err")" "2" "no secret: exit 2"
assert_contains "$(cat "$WORK/err")" "SOS_EXPAT_UNSUB_SECRET" "names the variable"
done_ok

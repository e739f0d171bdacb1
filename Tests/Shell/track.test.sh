#!/usr/bin/env bash
# Open and click tracking end to end, driven with curl: render --track (opt-in: tenant.json,
# campaign.json or the flag) rewrites the links to the tenant's tracking URL with a signed token
# that holds no readable address and adds an open pixel, leaving List-Unsubscribe and the
# unsubscribe link as they were; account serve redirects a valid click (302) to the URL inside
# the signature only — a changed URL, recipient, campaign or signature is refused and records
# nothing, a second `u` is ignored; an open answers a 1x1 GIF; privacy proxies, scanners, HEAD
# requests and clicks right after render are recorded with "machine": true and are not
# engagement: the next segment selects on the person's click and open only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
export SOS_EXPAT_UNSUB_SECRET="track-test-secret-$$"
T=sos-expat
# machine_seconds of a day: a link signed two days ago (--now) is a person's, one signed now a
# machine's, whatever the speed of this machine.
jq '. + {tracking: {url: "https://t.sos-expat.com/t", machine_seconds: 86400}}' "$REPO/samples/sos-expat/tenant.json" > "$WORK/tenant.json"
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
account commit --tenant $T "$REPO/samples/contacts.ndjson" 2>/dev/null
segment --tenant $T --contacts store 2>/dev/null > "$WORK/audience.ndjson"
[ "$(wc -l < "$WORK/audience.ndjson")" -ge 4 ] || fail "the sample audience is too small"
signed_at=$(date -u -d '2 days ago' +%Y-%m-%dT%H:%M:%SZ)
tpl="$REPO/samples/templates"
render_it() { render --campaign welcome-nov --templates "$tpl" --tenant $T --now "$signed_at" "$@" < "$WORK/audience.ndjson"; }

# --- render -------------------------------------------------------------------------------
render_it > "$WORK/plain.ndjson" 2>"$WORK/plain.err"
assert_eq "$(grep -c 't.sos-expat.com' "$WORK/plain.ndjson" || true)" "0" "tracking is off unless asked"
render_it --track > "$WORK/tracked.ndjson" 2>"$WORK/tracked.err" --stats "$WORK/stats.json"
n=$(wc -l < "$WORK/tracked.ndjson")
assert_eq "$(jq .open_pixels "$WORK/stats.json")" "$n" "one open pixel per message"
[ "$(jq .tracked_links "$WORK/stats.json")" -ge "$((2 * n))" ] || fail "links tracked: $(cat "$WORK/stats.json")"
assert_eq "$(jq -s 'map(.headers) | tostring' "$WORK/tracked.ndjson")" "$(jq -s 'map(.headers) | tostring' "$WORK/plain.ndjson")" \
  "the headers (List-Unsubscribe, Message-ID) are those of the untracked messages"
# The unsubscribe link of each part is the one List-Unsubscribe names, untouched.
jq -r --slurpfile m "$WORK/tracked.ndjson" -n '$m[] | .headers["List-Unsubscribe"] as $h | ($h | capture("<(?<u>https://[^>]*)>").u) as $u
  | [(.html | contains("href=\"" + ($u | gsub("&"; "&amp;")) + "\"")), (.text | contains($u))] | @tsv' | sort -u > "$WORK/unsub.tsv"
assert_eq "$(cat "$WORK/unsub.tsv")" "true	true" "the unsubscribe link in HTML and text is the List-Unsubscribe URL"
links_of() { jq -r --arg e "$1" 'select(.email == $e) | .html' "$WORK/tracked.ndjson" | grep -o 'https://t\.sos-expat\.com/t/[a-z]*?[^"]*' | sed 's/&amp;/\&/g'; }
mapfile -t people < <(jq -r .email "$WORK/audience.ndjson" | head -4)
a=${people[0]}; b=${people[1]}; c=${people[2]}; d=${people[3]}
click_a=$(links_of "$a" | grep '/t/click?' | head -1)
open_a=$(links_of "$a" | grep '/t/open?' | head -1)
[ -n "$click_a" ] && [ -n "$open_a" ] || fail "no tracked link or pixel for $a: $(links_of "$a")"
target=$(jq -r --arg e "$a" 'select(.email == $e) | .html' "$WORK/plain.ndjson" | grep -o 'href="https://sos-expat.com/book[^"]*"' | head -1 | sed 's/^href="//; s/"$//; s/&amp;/\&/g')
assert_contains "$click_a" "&u=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$target")&" "the link carries its target"
local_part=${a%%@*}
for l in $(links_of "$a"); do
  case "$l" in *"$local_part"*|*%40*|*@*) fail "a tracking link shows the address: $l";; esac
done
assert_eq "$(jq -r .text "$WORK/tracked.ndjson" | grep -c 'https://sos-expat.com/book' || true)" "0" "the text part's links are tracked too"
# campaign.json asks for it; --no-track overrides; a tenant without tracking.url cannot.
cp -r "$tpl/welcome-nov" "$WORK/tpl-on"
jq '. + {track: true}' "$tpl/welcome-nov/campaign.json" > "$WORK/tpl-on/campaign.json"
assert_contains "$(render --campaign welcome-nov --templates "$WORK/tpl-on" --tenant $T < "$WORK/audience.ndjson" 2>/dev/null | head -1)" "t.sos-expat.com/t/open?" "campaign.json track: true"
assert_eq "$(render --campaign welcome-nov --templates "$WORK/tpl-on" --tenant $T --no-track < "$WORK/audience.ndjson" 2>/dev/null | grep -c 't.sos-expat.com' || true)" "0" "--no-track"
account init --tenant ulixai --config "$REPO/samples/ulixai/tenant.json" 2>/dev/null
head -1 "$WORK/audience.ndjson" | jq -c '.tenant = "ulixai"' > "$WORK/ulixai.ndjson"
status=$(ULIXAI_UNSUB_SECRET=x run_capture render --campaign welcome-nov --templates "$tpl" --tenant ulixai --track "$WORK/ulixai.ndjson")
assert_eq "$status" "2" "--track without tracking.url is a configuration error"
assert_contains "$(cat "$WORK/stderr")" "tracking.url" "the error names the setting"

# --- account serve ------------------------------------------------------------------------
# A tight per-address rate: the tracking routes are exempt, so every request below is answered.
start_serve "$WORK/serve.log" --tenant $T --client-rate 1 --client-burst 1
person="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
local_url() { echo "$BASE${1#https://t.sos-expat.com}"; }
get() { curl -s -o "$WORK/body" -D "$WORK/head" -w '%{http_code}' -A "$person" "$@"; }
location() { sed -n 's/^[Ll]ocation: \(.*\)\r$/\1/p' "$WORK/head"; }
events() { zcat "$MAILPIPE_STATE/$T/events.ndjson.gz" | jq -c --arg t "$1" 'select(.type == $t)'; }

assert_eq "$(get "$(local_url "$click_a")")" "302" "a person's click"
assert_eq "$(location)" "$target" "redirected to the signed URL"
assert_contains "$(cat "$WORK/head")" "Referrer-Policy: no-referrer" "the target does not see the token"
assert_eq "$(events clicked | jq -r '[.email, .campaign, .url, .source, (.machine // false)] | @tsv')" "$a	welcome-nov	$target	tracking	false" "the click event"
assert_eq "$(get "$(local_url "$click_a")")" "302" "the same click again"
assert_eq "$(events clicked | wc -l)" "1" "recorded once"

# Refused: a changed target, recipient, campaign or signature; no signature; another tenant.
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
r_b=$(links_of "$b" | head -1 | sed 's/.*[?&]r=\([^&]*\).*/\1/')
r_a=$(sed 's/.*[?&]r=\([^&]*\).*/\1/' <<<"$click_a")
u_a="u=$(enc "$target")"
for bad in "${click_a/$u_a/u=$(enc https://evil.example/)}" "${click_a/$u_a/u=$(enc //evil.example/)}" \
           "${click_a/$u_a/u=$(enc 'javascript:alert(1)')}" "${click_a/$u_a/u=$(enc "$target&x=1")}" \
           "${click_a/r=$r_a/r=$r_b}" "${click_a/c=welcome-nov/c=other}" "${click_a%?}A" "${click_a%?}B"; do
  [ "$bad" != "$click_a" ] || continue
  code=$(get "$(local_url "$bad")")
  case "$code" in 400|403) ;; *) fail "a changed link answered $code: $bad";; esac
  assert_eq "$(location)" "" "no redirect for a changed link"
done
assert_eq "$(get "$(local_url "${click_a%%&s=*}")")" "400" "no signature"
assert_eq "$(get "$(local_url "${click_a/t=$T/t=ulixai}")")" "404" "a tenant not served"
assert_eq "$(get "$(local_url "$click_a")&u=$(enc https://evil.example/)")" "302" "a second u"
assert_eq "$(location)" "$target" "a second u is ignored: the signed one is where it goes"
assert_eq "$(events clicked | wc -l)" "1" "nothing recorded by refused links"

# The open pixel: a 1x1 GIF.
assert_eq "$(get "$(local_url "$open_a")")" "200" "an open"
assert_contains "$(cat "$WORK/head")" "Content-Type: image/gif" "a GIF"
assert_eq "$(python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); print(b[:6].decode(), int.from_bytes(b[6:8],"little"), int.from_bytes(b[8:10],"little"))' "$WORK/body")" "GIF89a 1 1" "1x1"
assert_eq "$(events opened | jq -r '[.email, (.machine // false)] | @tsv')" "$a	false" "the open event"

# Machines: Apple's privacy proxy (its bare agent, or its network behind a local proxy), a
# scanner's agent, a HEAD, a link clicked right after render signed it.
assert_eq "$(get -A "Mozilla/5.0" "$(local_url "$(links_of "$b" | grep /t/open?)")")" "200" "a proxy open"
assert_eq "$(get -H 'X-Forwarded-For: 17.58.1.2' "$(local_url "$(links_of "$c" | grep /t/open?)")")" "200" "an open from Apple's network"
assert_eq "$(get -A "Mozilla/5.0 (compatible; Barracuda Sentinel)" "$(local_url "$(links_of "$b" | grep /t/click? | head -1)")")" "302" "a scanner's click"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -I -A "$person" "$(local_url "$(links_of "$c" | grep /t/click? | head -1)")")" "302" "a HEAD"
render --campaign welcome-nov --templates "$tpl" --tenant $T --track < "$WORK/audience.ndjson" 2>/dev/null > "$WORK/fresh.ndjson"
fresh=$(jq -r --arg e "$d" 'select(.email == $e) | .html' "$WORK/fresh.ndjson" | grep -o 'https://t\.sos-expat\.com/t/click?[^"]*' | head -1 | sed 's/&amp;/\&/g')
assert_eq "$(get "$(local_url "$fresh")")" "302" "a click right after render"
assert_eq "$(events opened | jq -r 'select(.machine) | [.email, .machine_reason] | @tsv' | sort)" \
  "$(printf '%s\tprivacy_proxy\n%s\tprivacy_proxy\n' "$b" "$c" | sort)" "proxy opens are machine's"
assert_eq "$(events clicked | jq -r 'select(.machine) | [.email, .machine_reason] | @tsv' | sort)" \
  "$(printf '%s\tscanner\n%s\thead\n%s\ttoo_soon\n' "$b" "$c" "$d" | sort)" "scanner, HEAD and too-soon clicks are machine's"
# A person's click after a scanner's still counts.
assert_eq "$(get "$(local_url "$(links_of "$b" | grep /t/click? | head -1)")")" "302" "b clicks too"
assert_eq "$(events clicked | jq -r 'select(.machine | not) | .email' | sort | xargs)" "$(printf '%s\n' "$a" "$b" | sort | xargs)" "people's clicks"
grep -q "$local_part\|$r_a\|&s=" "$WORK/serve.log" && fail "the access log shows an address or a token"
stop_serve TERM

# --- engagement: people only -------------------------------------------------------------
eng() { account export --tenant $T 2>/dev/null | jq -r --arg e "$1" 'select(.email == $e) | [.engagement.opened // 0, .engagement.clicked // 0] | @tsv'; }
assert_eq "$(eng "$a")" "1	1" "a: an open and a click"
assert_eq "$(eng "$b")" "0	1" "b: the proxy open and the scanner click left out, the person's click counted"
assert_eq "$(eng "$c")" "0	0" "c: machines only"
assert_eq "$(eng "$d")" "0	0" "d: a click right after render"
assert_eq "$(segment --tenant $T --where 'engagement.clicked >= 1' 2>/dev/null | jq -r .email | sort | xargs)" "$(printf '%s\n' "$a" "$b" | sort | xargs)" "segment on clicks"
assert_eq "$(segment --tenant $T --where 'engagement.opened >= 1' 2>/dev/null | jq -r .email | xargs)" "$a" "segment on opens"
done_ok

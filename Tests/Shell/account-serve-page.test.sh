#!/usr/bin/env bash
# The confirmation page of a GET on the unsubscribe link, as headless Chromium draws it, in
# French and in Arabic: both show the question and a button; the French page runs left to
# right (text and button against the card's left edge), the Arabic one right to left (against
# its right edge). Screenshots are kept in $MAILPIPE_SCREENSHOTS when that is set.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed (scripts/install-deps --test)"
[ -n "$(fc-list :lang=ar family 2>/dev/null)" ] || skip "no font with Arabic letters (fonts-dejavu-core)"
serve_tenant
start_serve "$WORK/serve.log" --tenant sos-expat
shots="${MAILPIPE_SCREENSHOTS:-$WORK}"
mkdir -p "$shots"

for pair in fr:claire.martin@cabinet-martin-avocats.fr ar:mohamed.alaoui@maktab-alaoui.ma; do
  lang=${pair%%:*}; email=${pair#*:}
  url="$BASE$(link_of "$email")"
  assert_contains "$(curl -s "$url")" "<html lang=\"$lang\"" "$lang page"
  timeout 60 "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$WORK/chromium-$lang" --window-size=900,700 --screenshot="$shots/unsubscribe-$lang.png" "$url" \
    >/dev/null 2>&1 || true
  [ -s "$shots/unsubscribe-$lang.png" ] || fail "chromium made no screenshot of the $lang page"
  python3 "$REPO/Tests/Shell/png_layout.py" "$shots/unsubscribe-$lang.png" > "$WORK/$lang.json"
done
stop_serve TERM

# Each page: a button, text above it, both inside the card.
for lang in fr ar; do
  j="$WORK/$lang.json"
  [ "$(jq '.button.pixels // 0' "$j")" -gt 1500 ] || fail "$lang: no button drawn ($(cat "$j"))"
  [ "$(jq '.text.pixels // 0' "$j")" -gt 800 ] || fail "$lang: no text drawn ($(cat "$j"))"
  assert_eq "$(jq '.text.left >= .card.left and .text.right <= .card.right' "$j")" "true" "$lang: the text is in the card"
done
# Left to right: the button starts where the text starts, near the card's left edge; right to
# left: it ends where the text ends, near the right edge.
fr=$WORK/fr.json; ar=$WORK/ar.json
assert_eq "$(jq '(.button.left - .card.left) < (.card.right - .button.right)' "$fr")" "true" "fr: the button sits on the left"
assert_eq "$(jq '(.card.right - .button.right) < (.button.left - .card.left)' "$ar")" "true" "ar: the button sits on the right"
assert_eq "$(jq '((.text.left - .button.left) | fabs) < 12' "$fr")" "true" "fr: text and button share the left edge"
assert_eq "$(jq '((.text.right - .button.right) | fabs) < 12' "$ar")" "true" "ar: text and button share the right edge"
done_ok

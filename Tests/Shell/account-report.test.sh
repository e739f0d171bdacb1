#!/usr/bin/env bash
# account report on the samples: figures checked against hand counts; the text tables fit 80
# columns with CJK names aligned and rates over the tenant's ceilings flagged; the HTML page
# opened in headless Chromium (screenshot not blank, headline figures in the DOM, flags in
# colour, a chart per campaign and a warm-up history per vmta, nothing wider than a phone's
# window, CJK glyphs drawn).
source "$(dirname "$0")/lib.sh"
T=books-demo
books_demo $T

account report --tenant $T --now 2026-11-24T12:00:00Z --json > "$WORK/r.ndjson"
sec() { jq -c "select(.section==\"$1\")$2" "$WORK/r.ndjson"; }
# Hand counts (samples/account/README.md walks through them):
# 8 contacts; suppressed dieter (hard), gina (complaint), eva (3 soft), hugo (hard via 5.1.1), ben (unsubscribe).
assert_eq "$(sec totals ' | [.contacts,.suppressed,.events,.unknown_contact_events]')" "[8,5,26,2]" "totals"
# sent 8 (outcomes), failed 1; delivered: ana ben carla + zoe (rs) = 4; hard: dieter, hugo; soft: eva ×3;
# policy: hugo (rb spam); deferred: farid t + tq; complaint gina; opens ana ben; click ana; unsubscribe ben.
assert_eq "$(sec totals ' | [.sent,.failed,.delivered,.bounced_hard,.bounced_soft,.bounced_policy,.deferred,.complained,.opened,.clicked,.unsubscribed]')" \
  "[8,1,4,2,3,1,2,1,2,1,1]" "event totals"
assert_eq "$(sec totals ' | [.delivery_rate,.bounce_rate,.open_rate]')" "[0.5,0.75,0.5]" "rates: 4/8, 6/8, 2/4"
assert_eq "$(sec contacts ' | select(.by=="status") | "\(.value)=\(.count)"' | tr -d '"' | tr '\n' ' ')" \
  "bounced=3 injected=3 complained=1 unsubscribed=1 " "contacts by status"
assert_eq "$(sec contacts ' | select(.by=="language") | "\(.value)=\(.count)"' | tr -d '"' | tr '\n' ' ')" \
  "fr=3 en=2 ar=1 de=1 es=1 " "contacts by language"
assert_eq "$(sec contacts ' | select(.by=="tag") | "\(.value)=\(.count)"' | tr -d '"' | tr '\n' ' ')" "expat=3 avocat=2 " "contacts by tag"
assert_eq "$(sec contacts ' | select(.by=="source" and .value=="scraper-pro") | .count')" "2" "contacts by source"
assert_eq "$(sec campaign ' | [.campaign,.sends,.complaint_rate]')" '["nov-fr",8,0.25]' "campaign nov-fr"
assert_eq "$(sec day ' | [.date,.sent,.delivered,.bounced_hard,.bounced_soft]' | tr '\n' ' ')" \
  '["2026-11-23",8,4,1,1] ["2026-11-24",0,0,1,2] ' "events per day"
# vmta-a: 4 recorded sends, but the MTA delivered or bounced 5 through it (one not sent by inject):
# a day's sends are the larger of the two.
assert_eq "$(sec warmup ' | [.vmta,.week,.quota,.yesterday_sent]' | tr '\n' ' ')" '["vmta-a",1,50,5] ["vmta-b",1,50,4] ' "warm-up rows"
# --since and --campaign filter the events.
account report --tenant $T --now 2026-11-24T12:00:00Z --json --since 2026-11-24 > "$WORK/r2.ndjson"
assert_eq "$(jq -c 'select(.section=="totals") | [.events,.bounced_soft,.unsubscribed]' "$WORK/r2.ndjson")" "[4,2,1]" "--since"
account report --tenant $T --now 2026-11-24T12:00:00Z --json --campaign nope > "$WORK/r3.ndjson"
assert_eq "$(jq -c 'select(.section=="totals") | .events' "$WORK/r3.ndjson")" "0" "--campaign"
# Text tables: 80 columns, rates with their ceilings flagged, names in any script aligned.
text=$(account report --tenant $T --now 2026-11-24T12:00:00Z)
assert_contains "$text" "  nov-fr       8      50.0%  75.0%!     25.0%!  25.0%  50.0%  25.0%" "text campaign row: rates, over the ceilings flagged"
assert_contains "$text" "complaints 1 (25.0%!)" "complaint rate in the text totals"
assert_contains "$text" "unsubscribes 1 (25.0%)" "unsubscribe rate in the text totals"
# Same state, same --now → same bytes.
assert_eq "$(account report --tenant $T --now 2026-11-24T12:00:00Z --json | md5sum)" "$(md5sum < "$WORK/r.ndjson")" "deterministic"
# A campaign with a Chinese name lines up with the others (display width, not characters).
printf '%s\n' '{"tenant":"books-demo","email":"ana@example.org","type":"sent","campaign":"春季推广","at":"2026-11-24T08:00:00Z","source":"outcome"}' \
  '{"tenant":"books-demo","email":"ana@example.org","type":"delivered","campaign":"春季推广","at":"2026-11-24T08:01:00Z","source":"webhook"}' \
  | account events --tenant $T --now 2026-11-24T12:00:00Z 2>/dev/null
text=$(account report --tenant $T --now 2026-11-24T12:00:00Z)
python3 - "$text" <<'PY'
import sys, unicodedata
width = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = sys.argv[1].split("\n")
wide = [l for l in lines if width(l) > 80]
assert not wide, "lines wider than 80 columns: %r" % wide
rows = [l for l in lines if l.startswith("  nov-fr ") or l.startswith("  春季推广 ")]
assert len(rows) >= 2, rows
ends = {width(l) for l in rows[:2]}
assert len(ends) == 1, "campaign rows do not line up: %r" % rows[:2]
PY
checks=$((checks + 1))
# account warmup on a terminal: a table with percentages, not raw fractions.
warm=$(script -qec "account warmup --tenant $T --now 2026-11-24T12:00:00Z" /dev/null | tr -d '\r')
assert_contains "$warm" "ceiling" "warmup on a terminal: a table"
assert_contains "$warm" "2.0%" "warmup on a terminal: rates as percentages"
case "$warm" in *0.02*) fail "warmup on a terminal shows a raw fraction: $warm";; esac

# HTML: self-contained, opened in a real headless browser.
account report --tenant $T --now 2026-11-24T12:00:00Z --html "$WORK/report.html" > /dev/null
html=$(cat "$WORK/report.html")
assert_contains "$html" "<svg" "inline SVG"
assert_contains "$html" '<div class="figure over" id="fig-complaint-rate"><span class="value">' "complaint rate over the ceiling: flagged"
assert_contains "$html" 'id="fig-unsubscribe-rate"' "unsubscribe rate figure"
assert_contains "$html" '<td class="over" title="over the tenant'"'"'s ceiling">75.0%</td>' "campaign bounce rate over the ceiling: flagged"
assert_eq "$(grep -o 'aria-label="rates of campaign [^"]*"' "$WORK/report.html" | wc -l)" "2" "a chart per campaign"
assert_eq "$(grep -o 'aria-label="warm-up history of [^"]*"' "$WORK/report.html" | wc -l)" "2" "a warm-up history per vmta"
case "$html" in *"<script"*|*"http://"[a-z]*.css*|*"<link"*|*"@import"*|*"src=\"http"*) fail "HTML references external resources";; esac
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps --test)"
export HOME="$WORK"   # Chromium wants a writable profile folder
chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$WORK/report.html" > "$WORK/dom.html" 2>/dev/null
dom=$(cat "$WORK/dom.html")
for fig in 'id="fig-contacts"><span class="value">8<' 'id="fig-sent"><span class="value">9<' 'id="fig-delivered"><span class="value">5<' \
           'id="fig-bounced"><span class="value">6<' 'id="fig-bounce-rate"><span class="value">66.7%<' 'id="fig-suppressed"><span class="value">5<'; do
  assert_contains "$dom" "$fig" "headline figure in the DOM"
done
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1400 --screenshot="$WORK/shot.png" \
  "file://$WORK/report.html" >/dev/null 2>&1
[ -s "$WORK/shot.png" ] || fail "no screenshot"
# Not blank: the screenshot has many distinct colours (charts, text), not one background.
colours=$(python3 - "$WORK/shot.png" <<'PY'
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, w, h, ct = 8, b'', 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if kind == b'IHDR': w, h, depth, ct = struct.unpack('>IIBB', body[:10])
    elif kind == b'IDAT': idat += body
raw = zlib.decompress(idat); bpp = 4 if ct == 6 else 3; stride = w * bpp
prev = bytearray(stride); seen = set(); i = 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 2): seen.add(bytes(line[x * bpp:x * bpp + 3]))
print(len(seen))
PY
)
[ "$colours" -gt 50 ] || fail "screenshot looks blank ($colours colours)"
checks=$((checks + 1))

# A phone's width (390 CSS px; Chromium's window is at least 500 px, so the page itself is held
# to 390 px): nothing reaches past it (charts scale, wide tables scroll inside their own box).
# The page has no script; a copy gets one that measures the layout.
measure='<style>html{width:390px}</style><script>let r = 0; for (const e of document.body.querySelectorAll("*")) { const box = e.closest(".scroll"); if (box \&\& box !== e) continue; r = Math.max(r, e.getBoundingClientRect().right) } document.body.setAttribute("data-right", Math.ceil(r))</script></body>'
sed "s#</body>#$measure#" "$WORK/report.html" > "$WORK/measured.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=500,900 --dump-dom \
  "file://$WORK/measured.html" > "$WORK/phone.html" 2>/dev/null
right=$(grep -o 'data-right="[0-9]*"' "$WORK/phone.html" | tr -dc 0-9)
[ -n "$right" ] || fail "the page was not measured"
[ "$right" -le 390 ] || fail "the report reaches $right px in a 390 px wide page"
checks=$((checks + 1))
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=500,2400 --screenshot="$WORK/phone.png" \
  "file://$WORK/report.html" >/dev/null 2>&1
[ -s "$WORK/phone.png" ] || fail "no phone-width screenshot"

# CJK names are drawn with real glyphs (the test set-up installs a CJK font): the campaign name
# renders differently from code points no font has (drawn as empty boxes).
fc-list :lang=zh | grep -q . || fail "no CJK font installed (scripts/install-deps --test installs fonts-noto-cjk)"
for name in cjk tofu; do
  text=$([ $name = cjk ] && echo "春季推广" || printf '\U10FFFD\U10FFFC\U10FFFB\U10FFFA')
  printf '<!DOCTYPE html><meta charset="utf-8"><body style="margin:0;font:64px sans-serif">%s</body>' "$text" > "$WORK/$name.html"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=400,100 --screenshot="$WORK/$name.png" \
    "file://$WORK/$name.html" >/dev/null 2>&1
done
[ -s "$WORK/cjk.png" ] && [ -s "$WORK/tofu.png" ] || fail "no glyph screenshots"
cmp -s "$WORK/cjk.png" "$WORK/tofu.png" && fail "CJK text renders as empty boxes (no CJK font)"
checks=$((checks + 1))
# Right figures (issue 13), on a tenant of their own: one contact opening five times is one open
# (the events are kept beside it), a MailWizz list sync is no send, and a day's sends do not
# count bounces that arrive the next day.
F=figs
account init --tenant $F 2>/dev/null
printf '{"email":"c%d@f.test","status":"validated"}\n' 1 2 3 | account commit --tenant $F 2>/dev/null
{ for i in 1 2; do printf '{"email":"c%d@f.test","campaign":"spring","channel":"smtp","outcome":"sent","at":"2026-11-23T08:00:00Z"}\n' $i; done
  printf '{"email":"c%d@f.test","campaign":"sync-3","channel":"mailwizz","outcome":"sent","action":"subscribe","remote_id":"u%d","at":"2026-11-23T08:30:00Z"}\n' 1 1 2 2 3 3
} | account record --tenant $F --now 2026-11-23T09:00:00Z 2>/dev/null
{ for m in 1 2 3 4 5; do printf '{"email":"c1@f.test","type":"opened","campaign":"spring","at":"2026-11-23T1%d:00:00Z"}\n' $m; done
  printf '%s\n' '{"email":"c1@f.test","type":"opened","campaign":"spring","at":"2026-11-24T10:00:00Z"}' \
    '{"email":"c1@f.test","type":"clicked","campaign":"spring","at":"2026-11-23T10:05:00Z","url":"https://f.test/a"}' \
    '{"email":"c1@f.test","type":"clicked","campaign":"spring","at":"2026-11-23T10:06:00Z","url":"https://f.test/b"}' \
    '{"email":"c1@f.test","type":"delivered","campaign":"spring","at":"2026-11-23T08:01:00Z"}' \
    '{"email":"c2@f.test","type":"bounced","bounce_class":"soft","campaign":"spring","at":"2026-11-24T06:00:00Z"}' \
    '{"email":"c2@f.test","type":"opened","campaign":"spring","at":"2026-11-23T09:00:00Z","machine":true}' \
    '{"email":"c1@f.test","type":"opened","campaign":"spring","at":"2026-11-23T08:02:00Z","machine":true}' \
    '{"email":"c2@f.test","type":"clicked","campaign":"spring","at":"2026-11-23T09:00:01Z","url":"https://f.test/a","machine":true}'
} | account events --tenant $F --now 2026-11-24T12:00:00Z 2>/dev/null
account report --tenant $F --now 2026-11-24T12:00:00Z --json > "$WORK/f.ndjson"
fsec() { jq -c "select(.section==\"$1\")$2" "$WORK/f.ndjson"; }
assert_eq "$(fsec totals ' | [.sends,.sent,.synced,.opened,.opened_events,.clicked,.clicked_events,.open_rate,.click_rate]')" \
  "[2,2,3,1,6,1,2,1,1]" "totals: 1 recipient opened (6 events), 3 syncs are no sends, open rate 1/1 delivered"
assert_eq "$(fsec campaign ' | [.campaign,.sends,.opened,.opened_events,.synced]' | tr '\n' ' ')" \
  '["spring",2,1,6,0] ["sync-3",0,0,0,3] ' "campaigns: spring opened by one recipient; sync-3 synced, not sent"
assert_eq "$(fsec day ' | [.date,.sends,.bounced_soft,.opened,.opened_events]' | tr '\n' ' ')" \
  '["2026-11-23",2,0,1,5] ["2026-11-24",0,1,1,1] ' "per day: the next day's bounce is no send of that day; openers per day"
assert_contains "$(account report --tenant $F --now 2026-11-24T12:00:00Z)" "list syncs 3" "text: syncs shown apart"
# Opens and clicks marked "machine" (a privacy proxy, a scanner) are no person's: c2's machine
# open and click and c1's proxy open leave opened/clicked, their events and the rates as they
# were, and are counted apart (issue 19).
assert_eq "$(fsec totals ' | [.opened_machine,.clicked_machine]')" "[2,1]" "machines' opens and clicks counted apart"
assert_eq "$(fsec campaign ' | select(.campaign=="spring") | [.opened,.opened_events,.clicked,.clicked_events,.opened_machine,.clicked_machine,.open_rate]')" \
  "[1,6,1,2,2,1,1]" "campaign: machines' opens are no recipients"
assert_eq "$(fsec day ' | select(.date=="2026-11-23") | [.opened,.opened_events,.clicked,.opened_machine,.clicked_machine]')" \
  "[1,5,1,2,1]" "day: machines' opens apart"
assert_contains "$(account report --tenant $F --now 2026-11-24T12:00:00Z)" "machines' opens/clicks left out 2/1" "text: machines apart"
# Days are the tenant's (tenant.json timezone), as in the ledger: a send at 02:00 UTC on the
# 24th is one of the 23rd in New York.
echo '{"slug":"figs-ny","timezone":"America/New_York"}' > "$WORK/ny.json"
account init --tenant figs-ny --config "$WORK/ny.json" 2>/dev/null
echo '{"email":"n@f.test","status":"validated"}' | account commit --tenant figs-ny 2>/dev/null
echo '{"email":"n@f.test","campaign":"late","channel":"smtp","outcome":"sent","at":"2026-11-24T02:00:00Z"}' \
  | account record --tenant figs-ny --now 2026-11-24T12:00:00Z 2>/dev/null
printf '%s\n' '{"email":"n@f.test","type":"opened","campaign":"late","at":"2026-11-24T03:00:00Z"}' \
  '{"email":"n@f.test","type":"opened","campaign":"late","at":"2026-11-24T15:00:00Z"}' | account events --tenant figs-ny --now 2026-11-24T16:00:00Z 2>/dev/null
assert_eq "$(account report --tenant figs-ny --now 2026-11-24T16:00:00Z --json | jq -c 'select(.section=="day") | [.date,.sends,.opened,.opened_events]' | tr '\n' ' ')" \
  '["2026-11-23",1,1,1] ["2026-11-24",0,1,1] ' "per day in the tenant's time zone"
assert_eq "$(jq -c '.days | keys' "$MAILPIPE_STATE/figs-ny/ledger.json")" '["2026-11-23","2026-11-24"]' "the ledger's days agree"
done_ok

#!/usr/bin/env bash
# inject's send windows (the tenant's zone, each contact's with --window-local), --not-before,
# and the pause switch: what may not leave yet is 'deferred' with the instant it may, nothing of it
# reaches the SMTP server, and a later run sends it — each message once, paused mid-run or not.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
python3 "$SERVERS/strict_smtp.py" --port-file "$WORK/smtp-port" --log "$WORK/smtp.log" &
SMTP_PID=$!
trap 'kill "$SMTP_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -s "$WORK/smtp-port" ] && break; sleep 0.1; done
[ -s "$WORK/smtp-port" ] || fail "the SMTP server did not start"
touch "$WORK/smtp.log"

mkdir -p "$MAILPIPE_STATE/acme"
cat > "$MAILPIPE_STATE/acme/tenant.json" <<JSON
{"slug":"acme","name":"Acme","sending_domain":"sos-expat.test","timezone":"Europe/Paris",
 "smtp":{"url":"smtp://127.0.0.1:$(cat "$WORK/smtp-port")","from":"hello@sos-expat.test"}}
JSON
delivered() { grep -c "^message " "$WORK/smtp.log" || true; }
outcomes() { jq -r '.outcome' "$1" | sort | uniq -c | xargs; }
# messages N CAMPAIGN: render's records, to recipients of that campaign alone.
messages() { python3 "$FIX" messages "$1" --tenant acme --campaign "$2" | jq -c --arg c "$2" '.email |= sub("@"; "+" + $c + "@")'; }

# 1. Office hours in the tenant's zone: 07:00 in Paris is before the window; 10:00 is inside.
messages 4 w1 > "$WORK/w1.ndjson"
inject smtp --tenant acme --now 2026-12-07T06:00:00Z --window 09:00-18:00 < "$WORK/w1.ndjson" > "$WORK/o1.ndjson" 2> "$WORK/e1"
assert_eq "$(outcomes "$WORK/o1.ndjson")" "4 deferred" "before the window: deferred"
assert_eq "$(jq -r .not_before "$WORK/o1.ndjson" | sort -u)" "2026-12-07T08:00:00Z" "deferred until 09:00 Paris"
assert_contains "$(jq -r .error "$WORK/o1.ndjson" | head -1)" "Europe/Paris" "the zone is named"
assert_contains "$(cat "$WORK/e1")" "outside the send window" "the summary says why"
assert_eq "$(delivered)" "0" "nothing reached the server"
inject smtp --tenant acme --now 2026-12-07T09:00:00Z --window 09:00-18:00 < "$WORK/w1.ndjson" > "$WORK/o1b.ndjson" 2>/dev/null
assert_eq "$(outcomes "$WORK/o1b.ndjson")" "4 sent" "inside the window: sent (the deferral left no journal entry)"
assert_eq "$(delivered)" "4" "four delivered"

# 2. --window-local: each contact's zone (its timezone, else its country's), else the tenant's.
messages 5 w2 > "$WORK/w2.raw"
paste -d '\t' "$WORK/w2.raw" <(printf '%s\n' '{"country":"FR"}' '{"country":"jp"}' '{"country":"US"}' \
  '{"country":"FR","timezone":"America/Los_Angeles"}' '{}') \
  | while IFS=$'\t' read -r rec contact; do jq -c --argjson c "$contact" '.contact += $c' <<<"$rec"; done > "$WORK/w2.ndjson"
# 08:30Z: 09:30 in Paris, 17:30 in Tokyo, 03:30 in New York, 00:30 in Los Angeles.
inject smtp --tenant acme --now 2026-12-07T08:30:00Z --window 09:00-18:00 --window-local < "$WORK/w2.ndjson" > "$WORK/o2.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome, (.not_before // "-")] | join(" ")' "$WORK/o2.ndjson" | xargs)" \
  "sent - sent - deferred 2026-12-07T14:00:00Z deferred 2026-12-07T17:00:00Z sent -" "each contact's local hours"
assert_contains "$(jq -r .error "$WORK/o2.ndjson" | sed -n 3p)" "America/New_York" "the country's zone"

# 3. --not-before, alone and with a window (judged when --not-before comes).
messages 2 w3 > "$WORK/w3.ndjson"
inject smtp --tenant acme --now 2026-12-07T10:00:00Z --not-before 2026-12-08T00:00:00Z < "$WORK/w3.ndjson" > "$WORK/o3.ndjson" 2>/dev/null
assert_eq "$(jq -r '.outcome + " " + .not_before' "$WORK/o3.ndjson" | sort -u)" "deferred 2026-12-08T00:00:00Z" "not before"
inject smtp --tenant acme --now 2026-12-07T10:00:00Z --not-before 2026-12-07T20:00:00Z --window 09:00-18:00 < "$WORK/w3.ndjson" > "$WORK/o3b.ndjson" 2>/dev/null
assert_eq "$(jq -r .not_before "$WORK/o3b.ndjson" | sort -u)" "2026-12-08T08:00:00Z" "the window's next opening after --not-before"
assert_eq "$(run_status inject smtp --tenant acme --not-before tomorrow < /dev/null)" "2" "a bad --not-before is a usage error"
assert_eq "$(run_status inject smtp --tenant acme --window 9-18 < /dev/null)" "2" "a bad --window is a usage error"
assert_eq "$(run_status inject smtp --tenant acme --window-local < /dev/null)" "2" "--window-local needs --window"
assert_eq "$(delivered)" "7" "only what was inside went"

# 4. The pause switch, per campaign and tenant-wide; resume and a re-run sends.
messages 3 p1 > "$WORK/p1.ndjson"
inject pause --tenant acme --campaign p1 --reason "complaints" 2> "$WORK/e4"
assert_contains "$(cat "$WORK/e4")" "paused" "pause says so"
assert_eq "$(jq -r .reason "$MAILPIPE_STATE/acme/pause/p1")" "complaints" "the reason is kept"
inject smtp --tenant acme < "$WORK/p1.ndjson" > "$WORK/o4.ndjson" 2> "$WORK/e4b"
assert_eq "$(outcomes "$WORK/o4.ndjson")" "3 deferred" "paused: deferred"
assert_contains "$(jq -r .error "$WORK/o4.ndjson" | head -1)" "paused" "why"
assert_contains "$(cat "$WORK/e4b")" "inject resume" "the summary says the way out"
inject resume --tenant acme --campaign p1 2>/dev/null
[ ! -e "$MAILPIPE_STATE/acme/pause/p1" ] || fail "resume removes the switch"
inject pause --tenant acme 2>/dev/null
inject smtp --tenant acme < "$WORK/p1.ndjson" > "$WORK/o4b.ndjson" 2>/dev/null
assert_eq "$(outcomes "$WORK/o4b.ndjson")" "3 deferred" "the tenant-wide pause holds every campaign"
inject resume --tenant acme 2>/dev/null
inject smtp --tenant acme < "$WORK/p1.ndjson" > "$WORK/o4c.ndjson" 2>/dev/null
assert_eq "$(outcomes "$WORK/o4c.ndjson")" "3 sent" "resumed: sent"
assert_eq "$(delivered)" "10" "three more delivered"

# 5. Paused mid-run: what started finishes, the rest is deferred; after resume a re-run sends the
# rest and skips what went — every message delivered exactly once.
messages 12 p2 > "$WORK/p2.ndjson"
inject smtp --tenant acme --campaign p2 --concurrency 1 --rate 4/s < "$WORK/p2.ndjson" > "$WORK/o5.ndjson" 2>/dev/null &
run=$!
for _ in $(seq 1 300); do [ "$(delivered)" -ge 11 ] && break; sleep 0.05; done
inject pause --tenant acme --campaign p2 2>/dev/null
wait "$run" || fail "the paused run failed"
sent=$(jq -r 'select(.outcome=="sent") | .email' "$WORK/o5.ndjson" | wc -l)
paused=$(jq -r 'select(.outcome=="deferred" and (.error | test("paused"))) | .email' "$WORK/o5.ndjson" | wc -l)
assert_eq "$((sent + paused))" "12" "every record is sent or deferred by the pause"
[ "$sent" -ge 1 ] || fail "nothing went before the pause"
# Whether the pause came before the last one started depends on the machine; the sum holds either way.
[ "$paused" -ge 1 ] || echo "note: the run finished before the pause was seen"
inject resume --tenant acme --campaign p2 2>/dev/null
inject smtp --tenant acme --campaign p2 < "$WORK/p2.ndjson" > "$WORK/o5b.ndjson" 2>/dev/null
assert_eq "$(jq -r 'select(.outcome=="skipped") | .email' "$WORK/o5b.ndjson" | wc -l | xargs)" "$sent" "the re-run skips what went"
assert_eq "$(jq -r 'select(.outcome=="sent") | .email' "$WORK/o5b.ndjson" | wc -l | xargs)" "$paused" "and sends the rest"
assert_eq "$(grep '^message ' "$WORK/smtp.log" | awk '{print $2}' | grep -c '@' )" "22" "22 messages in all"
assert_eq "$(grep '^message ' "$WORK/smtp.log" | awk '{print $2}' | sort | uniq -d | wc -l | xargs)" "0" "none twice"
done_ok

#!/usr/bin/env bash
# inject smtp into a real Postfix delivering to a Maildir: every message once, headers and both
# parts intact, UTF-8 subjects decoded right, vmtas by weight and warm-up quota, the journal makes
# a re-run skip, a 5xx is 'failed', and a SIGKILL mid-run loses and duplicates nothing beyond
# the messages in flight.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
[ "$(id -u)" = 0 ] || skip "the private Postfix instance needs root"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
chmod 755 "$WORK"
PF="$WORK/postfix"
URL=$(bash "$SERVERS/start-postfix.sh" "$PF" 0)
trap 'bash "$SERVERS/stop-postfix.sh" "$PF" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
NOW=2026-11-23T09:00:00Z

mkdir -p "$MAILPIPE_STATE/acme"
cat > "$MAILPIPE_STATE/acme/tenant.json" <<JSON
{"slug":"acme","name":"Acme","sending_domain":"sos-expat.test","smtp":{"url":"$URL","from":"hello@sos-expat.test"},
 "vmtas":[{"name":"warm","weight":3,"warmup_start":"2026-01-01"},{"name":"cold","weight":1}],
 "warmup":[{"week":1,"daily_quota":10},{"week":6,"daily_quota":10000}]}
JSON
# The ledger (written by account): 'cold' is in week 1 and already sent 4 of its 10 today; 'warm'
# has reached week 6 (only account warmup --advance moves a week: its warmup_start alone would
# leave it at week 1).
echo '{"vmtas":{"cold":{"week":1,"sent":{"2026-11-23":4}},"warm":{"week":6,"started":"2026-01-01","week_started":"2026-11-20"}}}' > "$MAILPIPE_STATE/acme/ledger.json"

maildir_count() { find "$PF/Maildir/new" "$PF/Maildir/cur" -type f | wc -l; }
wait_for() { for _ in $(seq 1 300); do [ "$(maildir_count)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }

# 1. 60 messages: all sent, one delivery each, MIME checked by Python's email parser.
python3 "$FIX" messages 60 --campaign nov > "$WORK/m60.ndjson"
inject smtp --tenant acme --now $NOW --concurrency 4 --stats "$WORK/s1.json" < "$WORK/m60.ndjson" > "$WORK/o1.ndjson"
assert_eq "$(jq -r .outcome "$WORK/o1.ndjson" | sort | uniq -c | xargs)" "60 sent" "all sent"
assert_eq "$(jq -r .email "$WORK/o1.ndjson" | head -3 | xargs)" "user000000@example.test user000001@example.test user000002@example.test" "outcomes in input order"
assert_eq "$(jq -r '.vmta' "$WORK/o1.ndjson" | sort | uniq -c | xargs)" "6 cold 54 warm" "cold capped at its 6 remaining; the rest on warm"
wait_for 60 || fail "Postfix delivered $(maildir_count) of 60"
python3 - "$PF/Maildir" "$WORK/m60.ndjson" <<'PY' || fail "MIME check"
import email, glob, json, sys
from email import policy
want = {}
for line in open(sys.argv[2]):
    r = json.loads(line); want[r["email"]] = r
seen = {}
for f in glob.glob(sys.argv[1] + "/new/*") + glob.glob(sys.argv[1] + "/cur/*"):
    raw = open(f, "rb").read()
    assert all(len(l) <= 998 for l in raw.split(b"\n")), "a line over 998"
    m = email.message_from_bytes(raw, policy=policy.default)
    to = m["X-Original-To"]
    seen[to] = seen.get(to, 0) + 1
    r = want[to]
    assert str(m["Subject"]) == r["subject"], (m["Subject"], r["subject"])
    assert str(m["From"]) == r["from"], m["From"]
    assert m["X-Job"] == "nov" and m["X-Virtual-MTA"] in ("warm", "cold")
    assert m["List-Unsubscribe"] == r["headers"]["List-Unsubscribe"]
    assert m.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in m.iter_parts()}
    assert parts["text/plain"].replace("\r\n", "\n") == r["text"], repr(parts["text/plain"][:80])
    assert parts["text/html"].replace("\r\n", "\n") == r["html"]
assert sorted(seen) == sorted(want) and set(seen.values()) == {1}, "each message exactly once"
PY
checks=$((checks + 1))

# 2. Re-run: the journal skips everything; nothing new arrives.
inject smtp --tenant acme --now $NOW < "$WORK/m60.ndjson" > "$WORK/o2.ndjson" 2>"$WORK/e2"
assert_eq "$(jq -r .outcome "$WORK/o2.ndjson" | sort -u)" "skipped" "re-run skips"
assert_eq "$(jq -r .remote_id "$WORK/o2.ndjson" | head -1)" "$(jq -r .remote_id "$WORK/o1.ndjson" | head -1)" "skip keeps the queue id"
sleep 1; assert_eq "$(maildir_count)" "60" "nothing re-sent"

# 3. Quota spent: every vmta at its cap → deferred, never sent.
echo '{"vmtas":{"cold":{"week":1,"sent":{"2026-11-23":10}},"warm":{"week":1,"sent":{"2026-11-23":10}}}}' > "$MAILPIPE_STATE/acme/ledger.json"
python3 "$FIX" messages 5 --campaign dec > "$WORK/m5.ndjson"
inject smtp --tenant acme --now $NOW < "$WORK/m5.ndjson" > "$WORK/o3.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/o3.ndjson" | sort | uniq -c | xargs)" "5 deferred" "quota spent → deferred"
rm "$MAILPIPE_STATE/acme/ledger.json"

# 4. Rejects and a permanent failure: no email → reject; a recipient Postfix refuses (5xx) → failed.
printf '%s\n' '{"tenant":"acme","campaign":"x","subject":"s","text":"t"}' \
  '{"tenant":"acme","email":"bad@@x","campaign":"x","subject":"s","text":"t"}' > "$WORK/bad.ndjson"
set +e; inject smtp --tenant acme --now $NOW --rejects "$WORK/rej" --max-attempts 2 --backoff 0.01 < "$WORK/bad.ndjson" > "$WORK/o4.ndjson" 2>/dev/null; status=$?; set -e
assert_eq "$status" "0" "exit 0 with rejects"
assert_eq "$(jq -r .reason "$WORK/rej")" "missing_email" "reject reason"
assert_eq "$(jq -r '.outcome' "$WORK/o4.ndjson")" "sent" "the other record went"
# smtp-sink answering 5xx to RCPT → failed (no retry); 4xx → retried, then deferred.
SINK5=$(bash "$SERVERS/start-smtp-sink.sh" 0 "$WORK/sink5" -- -f RCPT)
SINK4=$(bash "$SERVERS/start-smtp-sink.sh" 0 "$WORK/sink4" -- -r RCPT)
trap 'bash "$SERVERS/stop-postfix.sh" "$PF" >/dev/null 2>&1 || true; bash "$SERVERS/stop-smtp-sink.sh" "$WORK/sink5" >/dev/null 2>&1 || true; bash "$SERVERS/stop-smtp-sink.sh" "$WORK/sink4" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
head -2 "$WORK/m5.ndjson" | inject smtp --tenant acme --now $NOW --url "$SINK5" --campaign c5 --max-attempts 3 --backoff 0.01 > "$WORK/o5x.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome,.attempts,(.code|tostring)]|join(" ")' "$WORK/o5x.ndjson" | sort -u)" "failed 1 500" "5xx: failed at once"
# (The same records: their 5xx above is final in the journal, so only --retry-failed sends them again.)
head -2 "$WORK/m5.ndjson" | inject smtp --tenant acme --now $NOW --url "$SINK4" --campaign c4 --max-attempts 3 --backoff 0.01 > "$WORK/o4s.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome,.reason]|join(" ")' "$WORK/o4s.ndjson" | sort -u)" "skipped failed_before" "a final failure is not retried"
head -2 "$WORK/m5.ndjson" | inject smtp --tenant acme --now $NOW --url "$SINK4" --campaign c4 --max-attempts 3 --backoff 0.01 --retry-failed > "$WORK/o4x.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome,.attempts,(.code|tostring)]|join(" ")' "$WORK/o4x.ndjson" | sort -u)" "deferred 3 450" "4xx: retried, then deferred"
# A connection dropped after RCPT: transient, deferred without a reply code.
SINKQ=$(bash "$SERVERS/start-smtp-sink.sh" 0 "$WORK/sinkq" -- -q RCPT)
head -1 "$WORK/m5.ndjson" | inject smtp --tenant acme --now $NOW --url "$SINKQ" --campaign cq --max-attempts 2 --backoff 0.01 > "$WORK/oqx.ndjson" 2>/dev/null
bash "$SERVERS/stop-smtp-sink.sh" "$WORK/sinkq" >/dev/null 2>&1
assert_eq "$(jq -r '[.outcome,.attempts,(.code|tostring)]|join(" ")' "$WORK/oqx.ndjson")" "deferred 2 null" "dropped connection: deferred"

# 5. Kill test: SIGKILL mid 5,000 messages, re-run, count deliveries by Message-ID.
python3 "$FIX" messages 5000 --campaign kill > "$WORK/m5k.ndjson"
sed -i 's/"vmtas":\[[^]]*\]/"vmtas":[]/' "$MAILPIPE_STATE/acme/tenant.json"
before=$(maildir_count)
inject smtp --tenant acme --now $NOW --concurrency 8 < "$WORK/m5k.ndjson" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  n=$(wc -l < "$MAILPIPE_STATE/acme/journal/smtp/kill.ndjson" 2>/dev/null || echo 0)
  [ "$n" -ge 1500 ] && break; sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null || true
inject smtp --tenant acme --now $NOW --concurrency 8 --stats "$WORK/s5.json" < "$WORK/m5k.ndjson" > "$WORK/o5.ndjson"
resent=$(jq .resent "$WORK/s5.json"); skipped=$(jq .skipped "$WORK/s5.json")
[ "$skipped" -gt 0 ] && [ "$skipped" -lt 5000 ] || fail "kill landed outside the run (skipped=$skipped)"
[ "$resent" -le 8 ] || fail "more than one in-flight message per connection re-sent: $resent"
wait_for $((before + 5000)) || fail "only $(( $(maildir_count) - before )) of 5000 kill-test messages arrived"
sleep 2
ids=$(grep -h '^X-Job: kill' -l -r "$PF/Maildir" | xargs grep -h -i '^Message-ID:' | sort)
unique=$(echo "$ids" | uniq | wc -l); total=$(echo "$ids" | wc -l)
assert_eq "$unique" "5000" "every kill-test message arrived"
dups=$((total - unique))
[ "$dups" -le "$resent" ] || fail "$dups duplicates but only $resent counted as resent"
echo "kill test: skipped $skipped, resent $resent, duplicates $dups"
checks=$((checks + 1))
done_ok

#!/usr/bin/env bash
# Engagement on contacts through the built binaries: campaigns are sent (account record), opens
# and clicks come back (account events; a privacy proxy's opens are marked machine), and the next
# campaign's segment leaves out the contacts the tenant's sunset policy holds back, counted with
# the rule that held each. Scores are checked against a computation of their own here; a batch
# applied again after an interruption is not counted twice.
source "$(dirname "$0")/lib.sh"
T=engage
cat > "$WORK/tenant.json" <<'JSON'
{"slug":"engage","name":"Engage","engagement":{"half_life_days":30,"sunset_after_sends":3,"sunset_after_days":60}}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null

# p0 opens every campaign, p1 clicks the last, p2 is opened only by a proxy (machine), p3 opened
# the first only, p4 never answers, p5 got one old campaign and nothing since, p6 was never sent.
for i in 0 1 2 3 4 5 6; do echo "{\"tenant\":\"$T\",\"email\":\"p$i@example.org\",\"status\":\"validated\"}"; done > "$WORK/contacts.ndjson"
account commit --tenant $T "$WORK/contacts.ndjson" 2>/dev/null
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
out = open(f"{w}/outcomes.ndjson", "w"); ev = open(f"{w}/events.ndjson", "w")
def outcome(e, c, at): out.write(json.dumps(dict(tenant="engage", email=e, campaign=c, channel="smtp", outcome="sent", attempts=1, code=250, at=at)) + "\n")
def event(**k): ev.write(json.dumps(dict(tenant="engage", **k)) + "\n")
outcome("p5@example.org", "c0", "2026-09-01T09:00:00Z")
for n, day in ((1, "01"), (2, "08"), (3, "15")):
    c = f"c{n}"
    for i in range(5):
        outcome(f"p{i}@example.org", c, f"2026-11-{day}T09:00:00Z")
    event(email="p0@example.org", campaign=c, type="opened", at=f"2026-11-{day}T10:00:00Z")
    event(email="p2@example.org", campaign=c, type="opened", machine=True, at=f"2026-11-{day}T09:00:05Z")
event(email="p1@example.org", campaign="c3", type="clicked", at="2026-11-15T11:00:00Z", url="https://acme.example/")
event(email="p3@example.org", campaign="c1", type="opened", at="2026-11-01T12:00:00Z")
PY
account record --tenant $T --now 2026-11-15T12:00:00Z "$WORK/outcomes.ndjson" 2>/dev/null
account events --tenant $T --now 2026-11-15T12:00:00Z "$WORK/events.ndjson" 2>/dev/null
engagement() { account export --tenant $T 2>/dev/null | jq -c --arg e "$1" 'select(.email==$e) | .engagement | del(.log, .unanswered)'; }
assert_eq "$(engagement p0@example.org)" \
  '{"sent":3,"opened":3,"clicked":0,"unengaged_sends":0,"first_sent_at":"2026-11-01T09:00:00Z","last_sent_at":"2026-11-15T09:00:00Z","last_opened_at":"2026-11-15T10:00:00Z"}' \
  "p0: three sends, three opens"
assert_eq "$(engagement p2@example.org | jq -c '[.sent,.opened,.unengaged_sends]')" "[3,0,3]" "p2: a proxy's opens are not engagement"
assert_eq "$(engagement p3@example.org | jq -c '[.sent,.opened,.unengaged_sends]')" "[3,1,2]" "p3: two sends since its open"
assert_eq "$(engagement p1@example.org | jq -c '[.clicked,.unengaged_sends,.last_clicked_at]')" '[1,0,"2026-11-15T11:00:00Z"]' "p1: a click"
assert_eq "$(engagement p6@example.org)" "null" "p6: never sent, no engagement"

# The next campaign: p2 and p4 (3 sends unanswered) and p5 (nothing in 60 days) are held back.
NOW=2026-11-20T12:00:00Z
segment --tenant $T --now $NOW --stats "$WORK/stats.json" > "$WORK/next.ndjson" 2>/dev/null
assert_eq "$(jq -r .email "$WORK/next.ndjson" | sort | xargs)" "p0@example.org p1@example.org p3@example.org p6@example.org" "sunsetted contacts are not selected"
assert_eq "$(jq -c '.held_back_reasons' "$WORK/stats.json")" \
  '{"sunset: 3 sends without an open or click":2,"sunset: no open or click in 60 days":1}' "the counts say why"
assert_eq "$(jq .held_back "$WORK/stats.json")" "3" "held back"
# Text summary on standard error names the rule too.
segment --tenant $T --now $NOW --count 2> "$WORK/err" > /dev/null
assert_contains "$(cat "$WORK/err")" "sunset: 3 sends without an open or click 2" "the note"
assert_eq "$(segment --tenant $T --now $NOW --include-sunset --count 2>/dev/null)" '{"count":7}' "--include-sunset"
# The same from records on standard input, judged on several threads.
account export --tenant $T 2>/dev/null > "$WORK/all.ndjson"
assert_eq "$(segment --tenant $T --now $NOW --contacts stdin --threads 3 < "$WORK/all.ndjson" 2>/dev/null | jq -r .email | sort | xargs)" \
  "p0@example.org p1@example.org p3@example.org p6@example.org" "the same on three threads"

# Scores, computed here from the documented formula, select the same contacts.
account export --tenant $T 2>/dev/null > "$WORK/export.ndjson"
python3 - "$WORK/export.ndjson" "$NOW" <<'PY' > "$WORK/scores.txt"
import json, sys
from datetime import datetime
t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").timestamp()
now = t(sys.argv[2])
for line in open(sys.argv[1]):
    c = json.loads(line); g = c.get("engagement")
    if not g: continue
    last = max([t(g[k]) for k in ("last_opened_at", "last_clicked_at") if k in g], default=None)
    recency = 0.5 ** (max(0, now - last) / 86400 / 30) if last is not None else 0
    freq = min(1, (g["opened"] + 2 * g["clicked"]) / max(g["sent"], 1))
    print(c["email"], int(100 * (0.6 * recency + 0.4 * freq) + 0.5))
PY
want=$(awk '$2 >= 40 { print $1 }' "$WORK/scores.txt" | sort | xargs)
[ -n "$want" ] || fail "no contact scores 40"
assert_eq "$(segment --tenant $T --now $NOW --include-sunset --where 'engagement.score >= 40' 2>/dev/null | jq -r .email | sort | xargs)" "$want" "engagement.score >= 40"
want=$(awk '$2 < 40 { print $1 }' "$WORK/scores.txt" | sort | xargs)
assert_eq "$(segment --tenant $T --now $NOW --include-sunset --where 'engagement.score < 40' 2>/dev/null | jq -r .email | sort | xargs)" "$want" "engagement.score < 40"
assert_eq "$(segment --tenant $T --now $NOW --where 'engagement.score missing' 2>/dev/null | jq -r .email)" "p6@example.org" "no score: never sent"
assert_eq "$(segment --tenant $T --now $NOW --where 'engagement.last_opened_at > 2026-11-10' 2>/dev/null | jq -r .email)" "p0@example.org" "a time"
# Later, with no more sends, the days rule catches p3 too.
assert_eq "$(segment --tenant $T --now 2027-01-05T00:00:00Z --count 2>/dev/null)" '{"count":3}' "p3: 65 days after its open"

# A batch applied again after an interruption (its contacts written, the ledger not) counts once.
D="$MAILPIPE_STATE/$T"
cp "$D/ledger.json" "$WORK/ledger.before"
echo '{"tenant":"engage","email":"p4@example.org","campaign":"c3","type":"opened","at":"2026-11-16T08:00:00Z"}' \
  | account events --tenant $T --now 2026-11-16T09:00:00Z 2>/dev/null
after=$(engagement p4@example.org)
assert_eq "$(jq -c '[.opened,.unengaged_sends]' <<< "$after")" "[1,0]" "p4 opened"
cp "$WORK/ledger.before" "$D/ledger.json"
account events --tenant $T --now 2026-11-16T09:00:00Z < /dev/null 2> "$WORK/reopen.err"
assert_contains "$(cat "$WORK/reopen.err")" "applying 1 logged events" "the interrupted batch is applied again"
assert_eq "$(engagement p4@example.org)" "$after" "and counted once"

# tenant.json: a misspelt key of the section is an error naming it.
echo '{"slug":"engage","engagement":{"sunset_after_send":3}}' > "$WORK/bad.json"
assert_eq "$(run_capture account init --check "$WORK/bad.json")" "2" "a misspelt engagement key"
assert_contains "$(cat "$WORK/stderr")" "sunset_after_sends" "names the nearest key"
done_ok

#!/usr/bin/env bash
# render --spamcheck against a real spamd (SpamAssassin's shipped rules, local tests only): each
# message gets its score and the rules that fired, a spammy campaign scores higher than a plain
# one, --max-spam-score rejects with the rules named, and a spamd that is not there is exit 1.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
command -v spamd >/dev/null || [ "$(id -u)" = 0 ] || skip "spamd is not installed (./scripts/install-deps --test) and installing needs root"
export MAILPIPE_UNSUB_SECRET=shell-test-secret
SPAMD_ADDR=$(bash "$SERVERS/start-spamd.sh" "$WORK/spamd")
trap 'bash "$SERVERS/stop-spamd.sh" "$WORK/spamd" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

mkdir -p "$WORK/tpl/plain" "$WORK/tpl/spammy"
printf 'Your December newsletter, {firstName|there}\n' > "$WORK/tpl/plain/en.subject"
cat > "$WORK/tpl/plain/en.html" <<'HTML'
<html><body><p>Hello {firstName|there},</p><p>Here is what changed in our service this month:
the new office in Lyon opens on Monday, and our support hours are now 9 to 18.</p>
<p>Best regards,<br>The Acme team</p></body></html>
HTML
printf 'FREE MONEY!!! 100%% GUARANTEED, {firstName|friend}!!!\n' > "$WORK/tpl/spammy/en.subject"
cat > "$WORK/tpl/spammy/en.html" <<'HTML'
<html><body><p>CLICK HERE to claim your FREE money! 100% guaranteed! Act now!!!</p>
<p>Cheap viagra and cialis, no prescription. Lose weight fast. You have been selected as a WINNER.</p>
<p><font color="#ffffff">free free free</font></p></body></html>
HTML
for i in $(seq 1 6); do echo "{\"tenant\":\"acme\",\"email\":\"p$i@example.org\",\"first_name\":\"Zoé$i\",\"language\":\"en\"}"; done > "$WORK/contacts.ndjson"
r() { render --tenant acme --templates "$WORK/tpl" --from 'Acme <news@acme.example>' --now 2026-12-07T09:00:00Z "$@"; }

# 1. Scores and rules on every message, in input order.
r --campaign plain --spamcheck --spamd "$SPAMD_ADDR" < "$WORK/contacts.ndjson" > "$WORK/plain.ndjson" 2> "$WORK/e1"
assert_eq "$(jq -r .email "$WORK/plain.ndjson" | xargs)" "p1@example.org p2@example.org p3@example.org p4@example.org p5@example.org p6@example.org" "every message, in order"
assert_eq "$(jq -r '.spam.score | type' "$WORK/plain.ndjson" | sort -u)" "number" "a score on each"
assert_eq "$(jq -r '.spam.required' "$WORK/plain.ndjson" | sort -u)" "5" "spamd's threshold"
assert_contains "$(cat "$WORK/e1")" "spam score mean" "the summary tells the scores"
SPAMD_ADDRESS=$SPAMD_ADDR r --campaign spammy --spamcheck --spamcheck-connections 2 < "$WORK/contacts.ndjson" > "$WORK/spammy.ndjson" 2>/dev/null
plain=$(jq -s 'map(.spam.score) | max' "$WORK/plain.ndjson")
spammy=$(jq -s 'map(.spam.score) | min' "$WORK/spammy.ndjson")
awk -v a="$plain" -v b="$spammy" 'BEGIN { exit !(b > a + 3) }' || fail "spammy ($spammy) should score well above plain ($plain)"
checks=$((checks + 1))
rules=$(jq -r '.spam.rules[].rule' "$WORK/spammy.ndjson" | sort -u | xargs)
assert_contains "$rules" "DRUGS_ERECTILE" "the rules that fired are named"
assert_eq "$(jq -r '.spam.rules[0] | keys | join(",")' "$WORK/spammy.ndjson" | head -1)" "description,points,rule" "a rule's members"
assert_eq "$(jq -r '.subject' "$WORK/spammy.ndjson" | head -1)" "FREE MONEY!!! 100% GUARANTEED, Zoé1!!!" "the message itself is unchanged"

# 2. --max-spam-score: the spammy messages are rejected with their rules; the plain ones pass.
status=$(run_status r --campaign spammy --spamd "$SPAMD_ADDR" --max-spam-score 5 --rejects "$WORK/rej" --stats "$WORK/stats.json" < "$WORK/contacts.ndjson")
assert_eq "$status" "0" "rejects are not an error"
assert_eq "$(jq -r .reason "$WORK/rej" | sort | uniq -c | xargs)" "6 spam_score" "all six rejected"
assert_contains "$(jq -r .detail "$WORK/rej" | head -1)" "over --max-spam-score 5" "the detail says the limit"
assert_contains "$(jq -r .detail "$WORK/rej" | head -1)" "DRUGS_ERECTILE" "and the rules"
assert_eq "$(jq -r '.spam_checked' "$WORK/stats.json")" "6" "six checked"
r --campaign plain --spamd "$SPAMD_ADDR" --max-spam-score 5 < "$WORK/contacts.ndjson" > "$WORK/plain2.ndjson" 2>/dev/null
assert_eq "$(wc -l < "$WORK/plain2.ndjson" | xargs)" "6" "the plain campaign passes"

# 3. No spamd: exit 1 with a way out, and nothing half-written.
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
status=$(run_capture r --campaign plain --spamcheck --spamd "127.0.0.1:$closed" < "$WORK/contacts.ndjson")
assert_eq "$status" "1" "spamd missing: exit 1"
assert_contains "$(cat "$WORK/stderr")" "spamd is not answering" "says so"
assert_contains "$(cat "$WORK/stderr")" "start-spamd.sh" "and how to start one"
assert_eq "$(run_status r --campaign plain --spamcheck --spamd nohost < /dev/null)" "2" "an address that is none: usage"
assert_eq "$(run_status r --campaign plain --spamcheck --preview p1@example.org < "$WORK/contacts.ndjson")" "2" "--spamcheck with --preview: usage"
done_ok

#!/usr/bin/env bash
# inject smtp against real Postfix set up two more ways:
#   - STARTTLS with a throwaway CA (start-postfix.sh --tls): --starttls --cacert delivers every
#     message intact over TLS (Postfix logs the TLS session, the Received header says ESMTPS);
#     a certificate nobody trusts, or a server without STARTTLS, gives 'failed' with libcurl's
#     reason, at once, nothing sent, no crash.
#   - no PIPELINING (strict_smtp.py, which catches a command sent ahead, and start-postfix.sh
#     --no-pipelining): inject falls back to one command at a time, RSET after a refused
#     recipient included.
#   - SMTP AUTH PLAIN (strict_smtp.py --auth-file): credentials only from the environment, a wrong
#     password 'failed' at once, no password in any output, error, stats or journal. (Not against
#     Postfix: see docs/inject.md.)
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
[ "$(id -u)" = 0 ] || skip "the private Postfix instance needs root"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
chmod 755 "$WORK"
TLS="$WORK/pf-tls"; PLAIN="$WORK/pf-plain"
trap 'bash "$SERVERS/stop-postfix.sh" "$TLS" >/dev/null 2>&1 || true; bash "$SERVERS/stop-postfix.sh" "$PLAIN" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
TLS_URL=$(bash "$SERVERS/start-postfix.sh" "$TLS" 0 --tls)
PLAIN_URL=$(bash "$SERVERS/start-postfix.sh" "$PLAIN" 0 --no-pipelining)
CA="$TLS/tls/ca.pem"
NOW=2026-11-23T09:00:00Z
mkdir -p "$MAILPIPE_STATE/acme"
echo '{"slug":"acme","name":"Acme","sending_domain":"sos-expat.test","smtp":{"from":"hello@sos-expat.test"}}' > "$MAILPIPE_STATE/acme/tenant.json"

count_in() { find "$1/Maildir/new" "$1/Maildir/cur" -type f | wc -l; }
wait_for() { for _ in $(seq 1 300); do [ "$(count_in "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
# check_mime MAILDIR MESSAGES.ndjson PROTO: each message once, subject/from/both parts intact,
# and Postfix's own Received header naming the protocol (ESMTPS = over TLS, ESMTP = plain).
check_mime() {
  python3 - "$@" <<'PY'
import email, glob, json, re, sys
from email import policy
maildir, messages, proto = sys.argv[1:4]
want = {}
for line in open(messages):
    r = json.loads(line); want[r["email"]] = r
seen = {}
for f in glob.glob(maildir + "/new/*") + glob.glob(maildir + "/cur/*"):
    m = email.message_from_bytes(open(f, "rb").read(), policy=policy.default)
    to = m["X-Original-To"]
    if to not in want or m["X-Job"] != want[to]["campaign"]: continue
    seen[to] = seen.get(to, 0) + 1
    r = want[to]
    assert str(m["Subject"]) == r["subject"], (m["Subject"], r["subject"])
    assert str(m["From"]) == r["from"], m["From"]
    parts = {p.get_content_type(): p.get_content() for p in m.iter_parts()}
    assert parts["text/plain"].replace("\r\n", "\n") == r["text"]
    assert parts["text/html"].replace("\r\n", "\n") == r["html"]
    received = " ".join(str(h) for h in m.get_all("Received"))
    assert re.search(r"with %s id" % proto, received), received
    if proto == "ESMTPS": assert "using TLS" in received, received
assert sorted(seen) == sorted(want) and set(seen.values()) == {1}, "each message exactly once"
PY
}

# 1. STARTTLS, trusting the test CA: 40 messages over 3 connections, all intact, over TLS.
python3 "$FIX" messages 39 --campaign tls > "$WORK/m40.ndjson"
# One more with escapes of every kind (a surrogate pair, quotes, backslashes) and lines starting
# with dots, in both parts.
python3 - >> "$WORK/m40.ndjson" <<'PY'
import json
t = "Emoji \U0001F600 and \u00e9\t\"quoted\" \\ back\\slash\n..two dots\n.one dot\n.\nend ✓\n"
print(json.dumps({"tenant": "acme", "email": "escapes@example.test", "campaign": "tls", "subject": "Échappements \U0001F600",
                  "from": "Équipe <hello@sos-expat.test>", "text": t, "html": "<p>" + t + "</p>"}, ensure_ascii=True))
PY
inject smtp --tenant acme --now $NOW --url "$TLS_URL" --starttls --cacert "$CA" --concurrency 3 \
  < "$WORK/m40.ndjson" > "$WORK/o1.ndjson" 2> "$WORK/e1"
assert_eq "$(jq -r .outcome "$WORK/o1.ndjson" | sort | uniq -c | xargs)" "40 sent" "STARTTLS: all sent"
wait_for "$TLS" 40 || fail "Postfix delivered $(count_in "$TLS") of 40"
check_mime "$TLS/Maildir" "$WORK/m40.ndjson" ESMTPS || fail "STARTTLS: MIME or Received check"
checks=$((checks + 1))
sessions=$(grep -c 'Anonymous TLS connection established' "$TLS/log/postfix.log" || true)
[ "$sessions" -ge 1 ] && [ "$sessions" -le 3 ] || fail "expected 1–3 TLS sessions (connection reuse), Postfix logged $sessions"
checks=$((checks + 1))

# 2. Without --starttls the same server gets plain ESMTP (the flag is what turns TLS on).
python3 "$FIX" messages 1 --campaign plain > "$WORK/m1.ndjson"
inject smtp --tenant acme --now $NOW --url "$TLS_URL" < "$WORK/m1.ndjson" > "$WORK/o2.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/o2.ndjson")" "sent" "plain: sent"
wait_for "$TLS" 41 || fail "plain message not delivered"
check_mime "$TLS/Maildir" "$WORK/m1.ndjson" ESMTP || fail "plain: Received should say ESMTP"
checks=$((checks + 1))

# 3. A certificate nobody trusts (the system store does not know the test CA): failed at once
#    with libcurl's reason, nothing delivered, exit 0, no crash.
python3 "$FIX" messages 3 --campaign untrusted > "$WORK/m3.ndjson"
before=$(count_in "$TLS")
set +e; inject smtp --tenant acme --now $NOW --url "$TLS_URL" --starttls --max-attempts 3 --backoff 0.01 \
  < "$WORK/m3.ndjson" > "$WORK/o3.ndjson" 2> "$WORK/e3"; status=$?; set -e
assert_eq "$status" "0" "untrusted certificate: exit 0 (outcomes tell)"
assert_eq "$(jq -r '[.outcome,.attempts]|join(" ")' "$WORK/o3.ndjson" | sort | uniq -c | xargs)" "3 failed 1" "untrusted: failed, no retry"
assert_contains "$(jq -r .error "$WORK/o3.ndjson" | head -1)" "curl error 60" "untrusted: libcurl's code"
assert_contains "$(jq -r .error "$WORK/o3.ndjson" | head -1)" "certificate" "untrusted: readable reason"
grep -q -i 'fatal\|crash' "$WORK/e3" && fail "untrusted: $(cat "$WORK/e3")"
sleep 1; assert_eq "$(count_in "$TLS")" "$before" "untrusted: nothing delivered"
# The journal did not mark them sent: with the CA given, a re-run sends them.
inject smtp --tenant acme --now $NOW --url "$TLS_URL" --starttls --cacert "$CA" < "$WORK/m3.ndjson" > "$WORK/o3b.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/o3b.ndjson" | sort -u)" "sent" "re-run with the CA: sent"

# 4. --starttls against a server that offers no STARTTLS: failed, "STARTTLS" refused (curl 64).
jq -c '.campaign = "nostarttls"' "$WORK/m1.ndjson" > "$WORK/m1b.ndjson"
set +e; inject smtp --tenant acme --now $NOW --url "$PLAIN_URL" --starttls \
  < "$WORK/m1b.ndjson" > "$WORK/o4.ndjson" 2>/dev/null; status=$?; set -e
assert_eq "$status" "0" "no STARTTLS: exit 0"
assert_eq "$(jq -r '[.outcome,.attempts]|join(" ")' "$WORK/o4.ndjson")" "failed 1" "no STARTTLS: failed at once"
assert_contains "$(jq -r .error "$WORK/o4.ndjson")" "curl error 64" "no STARTTLS: libcurl's code"
# A CA file that cannot be read: a configuration error (exit 2) before anything is sent.
set +e; inject smtp --tenant acme --url "$TLS_URL" --starttls --cacert "$WORK/nope.pem" < "$WORK/m1.ndjson" 2>"$WORK/e4" >/dev/null; status=$?; set -e
assert_eq "$status" "2" "unreadable CA: exit 2"
assert_contains "$(cat "$WORK/e4")" "CA file" "unreadable CA: says so"

# 5. No PIPELINING. strict_smtp.py answers 554 and logs a violation when a command arrives before
#    the reply to the previous one. With PIPELINING announced inject sends ahead and trips it
#    (the check has teeth); without, it waits for every reply and all messages go.
strict() {  # strict DIR [--announce-pipelining] → URL
  mkdir -p "$1"
  python3 "$SERVERS/strict_smtp.py" --port-file "$1/port" --log "$1/log" "${@:2}" > "$1/out" 2>&1 &
  echo $! > "$1/pid"
  for _ in $(seq 1 100); do [ -s "$1/port" ] && break; sleep 0.05; done
  echo "smtp://127.0.0.1:$(cat "$1/port")"
}
trap 'bash "$SERVERS/stop-postfix.sh" "$TLS" >/dev/null 2>&1 || true; bash "$SERVERS/stop-postfix.sh" "$PLAIN" >/dev/null 2>&1 || true; for d in "$WORK/strict-a" "$WORK/strict-n"; do [ -f "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null; done; rm -rf "$WORK"' EXIT
S_A=$(strict "$WORK/strict-a" --announce-pipelining)
python3 "$FIX" messages 3 --campaign ahead > "$WORK/m3a.ndjson"
inject smtp --tenant acme --now $NOW --url "$S_A" --max-attempts 1 < "$WORK/m3a.ndjson" > /dev/null 2>&1 || true
assert_contains "$(cat "$WORK/strict-a/log")" "violation after MAIL" "PIPELINING announced: inject sends ahead (and the server notices)"
S_N=$(strict "$WORK/strict-n")
python3 "$FIX" messages 20 --campaign strict > "$WORK/m20.ndjson"
inject smtp --tenant acme --now $NOW --url "$S_N" --concurrency 2 < "$WORK/m20.ndjson" > "$WORK/o5s.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/o5s.ndjson" | sort | uniq -c | xargs)" "20 sent" "no PIPELINING: all sent"
assert_eq "$(grep -c '^message' "$WORK/strict-n/log")" "20" "no PIPELINING: 20 messages received"
assert_eq "$(grep -c violation "$WORK/strict-n/log" || true)" "0" "no PIPELINING: never a command ahead"
# Postfix with PIPELINING not announced: a refused (550) and a busy (450) recipient among good
# ones, on one connection: one command at a time, RSET after a refused one, every message intact.
postconf -c "$PLAIN/conf" -e 'smtpd_recipient_restrictions = check_recipient_access inline:{ {refused@example.test=550 5.1.1 no such user} {busy@example.test=450 4.2.1 try later} }'
postfix -c "$PLAIN/conf" reload >/dev/null 2>&1
sleep 1
python3 "$FIX" messages 30 --campaign nopipe > "$WORK/m30.ndjson"
jq -c '.email = "refused@example.test"' "$WORK/m1.ndjson" > "$WORK/refused.ndjson"
jq -c '.email = "busy@example.test"' "$WORK/m1.ndjson" > "$WORK/busy.ndjson"
{ head -5 "$WORK/m30.ndjson"; cat "$WORK/refused.ndjson"; sed -n 6,10p "$WORK/m30.ndjson"; cat "$WORK/busy.ndjson"; tail -n +11 "$WORK/m30.ndjson"; } > "$WORK/mix.ndjson"
inject smtp --tenant acme --now $NOW --url "$PLAIN_URL" --concurrency 1 --max-attempts 2 --backoff 0.01 \
  < "$WORK/mix.ndjson" > "$WORK/o5.ndjson" 2>/dev/null
assert_eq "$(jq -r '.outcome' "$WORK/o5.ndjson" | sort | uniq -c | xargs)" "1 deferred 1 failed 30 sent" "no PIPELINING: outcomes"
assert_eq "$(jq -r 'select(.email == "refused@example.test") | [.outcome, (.code|tostring)] | join(" ")' "$WORK/o5.ndjson")" "failed 550" "refused recipient: 550"
assert_eq "$(jq -r 'select(.email == "busy@example.test") | [.outcome, (.code|tostring), (.attempts|tostring)] | join(" ")' "$WORK/o5.ndjson")" "deferred 450 2" "busy recipient: 450, retried"
wait_for "$PLAIN" 30 || fail "Postfix delivered $(count_in "$PLAIN") of 30"
check_mime "$PLAIN/Maildir" "$WORK/m30.ndjson" ESMTP || fail "no PIPELINING: MIME check"
checks=$((checks + 1))
# More connections than one, same server: all go.
python3 "$FIX" messages 60 --campaign nopipe4 > "$WORK/m60.ndjson"
inject smtp --tenant acme --now $NOW --url "$PLAIN_URL" --concurrency 4 < "$WORK/m60.ndjson" > "$WORK/o6.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/o6.ndjson" | sort | uniq -c | xargs)" "60 sent" "no PIPELINING, 4 connections: all sent"

# 6. SMTP AUTH (PLAIN) against strict_smtp.py --auth-file: credentials come only from the
#    variables named by --username-env/--password-env; a wrong password is 'failed' at once
#    (curl 67); the password appears in no output, error, stats or journal.
printf 'alice:%s\n' 'pw-S3cr3t-9f2' > "$WORK/auth"
S_AUTH=$(strict "$WORK/strict-auth" --auth-file "$WORK/auth")
trap 'bash "$SERVERS/stop-postfix.sh" "$TLS" >/dev/null 2>&1 || true; bash "$SERVERS/stop-postfix.sh" "$PLAIN" >/dev/null 2>&1 || true; for d in "$WORK/strict-a" "$WORK/strict-n" "$WORK/strict-auth"; do [ -f "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null; done; rm -rf "$WORK"' EXIT
jq -c '.campaign = "auth-ok"' "$WORK/m3.ndjson" > "$WORK/auth-ok.ndjson"
jq -c '.campaign = "auth-bad"' "$WORK/m3.ndjson" > "$WORK/auth-bad.ndjson"
SMTP_USER=alice SMTP_PASS='pw-S3cr3t-9f2' inject smtp --tenant acme --now $NOW --url "$S_AUTH" --stats "$WORK/sa.json" \
  --username-env SMTP_USER --password-env SMTP_PASS < "$WORK/auth-ok.ndjson" > "$WORK/oa.ndjson" 2> "$WORK/ea"
assert_eq "$(jq -r .outcome "$WORK/oa.ndjson" | sort | uniq -c | xargs)" "3 sent" "AUTH: sent"
[ "$(grep -c '^auth ok alice' "$WORK/strict-auth/log")" -ge 1 ] || fail "AUTH: no login in the server log"; checks=$((checks + 1))
assert_eq "$(grep -c '^message' "$WORK/strict-auth/log")" "3" "AUTH: 3 messages received"
SMTP_USER=alice SMTP_PASS='wrong-pass' inject smtp --tenant acme --now $NOW --url "$S_AUTH" --max-attempts 3 --backoff 0.01 \
  --username-env SMTP_USER --password-env SMTP_PASS < "$WORK/auth-bad.ndjson" > "$WORK/ob.ndjson" 2> "$WORK/eb"
assert_eq "$(jq -r '[.outcome,.attempts]|join(" ")' "$WORK/ob.ndjson" | sort | uniq -c | xargs)" "3 failed 1" "AUTH refused: failed at once"
assert_contains "$(jq -r .error "$WORK/ob.ndjson" | head -1)" "curl error 67" "AUTH refused: libcurl's code"
assert_eq "$(grep -c '^message' "$WORK/strict-auth/log")" "3" "AUTH refused: nothing received"
# An unset variable is a configuration error (exit 2) that names the variable, not a value.
set +e; SMTP_USER=alice inject smtp --tenant acme --url "$S_AUTH" --username-env SMTP_USER --password-env NOPE_UNSET < "$WORK/auth-bad.ndjson" > /dev/null 2> "$WORK/ec"; status=$?; set -e
assert_eq "$status" "2" "unset password variable: exit 2"
assert_contains "$(cat "$WORK/ec")" "NOPE_UNSET" "unset password variable: named"
for secret in 'pw-S3cr3t-9f2' 'wrong-pass'; do
  if grep -r -l -F -- "$secret" "$WORK"/oa.ndjson "$WORK"/ob.ndjson "$WORK"/ea "$WORK"/eb "$WORK"/ec "$WORK/sa.json" "$MAILPIPE_STATE" "$WORK/strict-auth/log" 2>/dev/null; then
    fail "a password leaked into the files above"
  fi
done
checks=$((checks + 1))
done_ok

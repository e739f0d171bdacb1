#!/usr/bin/env bash
# account health through the built binary: a healthy tenant (exit 0, score 100), one over the
# bounce ceiling's warning line (exit 1), one over Gmail's 0.3 % complaint line (exit 2), the
# ceiling taken from tenant.json, "ok, no data" for a tenant that never sent, figures equal to
# account report's day rows, and damaged books refused (exit 1, nothing on stdout) — never a score.
source "$(dirname "$0")/lib.sh"
NOW=2026-11-23T18:00:00Z

# tenant NAME SENDS BOUNCES COMPLAINTS [TENANT.JSON] — a tenant of 1,000 validated contacts whose
# first SENDS were mailed on 2026-11-20 (inside the 7-day window), delivered unless bounced.
tenant() {
  local name=$1 sends=$2 bounces=$3 complaints=$4 config=${5:-'{"timezone":"UTC"}'}
  echo "$config" > "$WORK/$name.json"
  account init --tenant "$name" --config "$WORK/$name.json" 2>/dev/null
  python3 - "$name" 1000 > "$WORK/$name-contacts.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[2])):
    print(json.dumps({"email": f"c{i}@{sys.argv[1]}.test", "status": "validated", "validation": {"verdict": "valid"}}))
PY
  account commit --tenant "$name" "$WORK/$name-contacts.ndjson" 2>/dev/null
  python3 - "$name" "$sends" "$bounces" "$complaints" > "$WORK/$name-events.ndjson" <<'PY'
import json, sys
name, sends, bounces, complaints = sys.argv[1], *map(int, sys.argv[2:])
def ev(i, type, minute, **kw):
    print(json.dumps(dict(email=f"c{i}@{name}.test", type=type, campaign="nov", at=f"2026-11-20T08:{minute:02d}:00Z", **kw)))
for i in range(sends):
    ev(i, "sent", 0)
    if i < bounces: ev(i, "bounced", 1, bounce_class="hard")
    else: ev(i, "delivered", 1)
for i in range(bounces, bounces + complaints): ev(i, "complained", 30)
PY
  account events --tenant "$name" --now 2026-11-21T00:00:00Z "$WORK/$name-events.ndjson" 2>/dev/null
}

# Healthy: 400 sent, 1 bounce (0.25 %), no complaint.
tenant good 400 1 0
status=$(run_capture account health --tenant good --now $NOW --json)
assert_eq "$status" 0 "healthy: exit 0 ($(cat "$WORK/stderr"))"
assert_eq "$(jq -c '[.status,.score,.no_data,.window.from,.window.to,.window.sends,.window.bounced]' "$WORK/stdout")" \
  '["ok",100,false,"2026-11-17","2026-11-23",400,1]' "healthy: score 100 over the 7 days to today"
assert_eq "$(jq -r '[.reasons[].check] | join(" ")' "$WORK/stdout")" \
  "bounce_rate complaint_rate gmail_spam_rate warmup bounced_share unvalidated_share suppressed_share unsubscribe_trend" "every check listed"
assert_eq "$(jq -c '.reasons[0] | [.level,.figure,.threshold,.points]' "$WORK/stdout")" '["ok",0.0025,0.01,0]' "bounce reason: figure, ceiling, points"
# The window's figures are account report's day rows, summed.
account report --tenant good --now $NOW --json > "$WORK/good-report.ndjson"
assert_eq "$(jq -s -c '[map(select(.section=="day" and .date >= "2026-11-17")) | (map(.sends) | add), (map(.bounced_hard + .bounced_soft + .bounced_policy) | add), (map(.delivered) | add)]' "$WORK/good-report.ndjson")" \
  "$(jq -c '[.window.sends,.window.bounced,.window.delivered]' "$WORK/stdout")" "health's window = report's day rows"
text=$(account health --tenant good --now $NOW)
assert_contains "$text" "ok, score 100/100" "text: the verdict"
assert_contains "$text" "bounce_rate" "text: the checks"

# Warn: 7 bounces of 800 (0.875 %): over 3/4 of the 1 % ceiling, under it — 15 points.
tenant warned 800 7 0
status=$(run_capture account health --tenant warned --now $NOW --json)
assert_eq "$status" 1 "warn: exit 1"
assert_eq "$(jq -c '[.status,.score]' "$WORK/stdout")" '["warn",85]' "warn: 100 - 15"
assert_eq "$(jq -c '.reasons[] | select(.check=="bounce_rate") | [.level,.figure,.points]' "$WORK/stdout")" '["warn",0.00875,15]' "warn: the bounce reason"
assert_contains "$(account health --tenant warned --now $NOW)" "warn: bounce_rate: 7 of 800 sends bounced" "text: the reason's detail"
# The same books with tenant.json ceilings.bounce_rate 2 %: ok.
tenant loose 800 7 0 '{"timezone":"UTC","ceilings":{"bounce_rate":0.02}}'
assert_eq "$(run_capture account health --tenant loose --now $NOW --json)" 0 "ceiling from tenant.json: exit 0"
assert_eq "$(jq -c '.reasons[0] | [.level,.threshold]' "$WORK/stdout")" '["ok",0.02]' "ceiling from tenant.json"

# Critical: 2 complaints of 500 delivered (0.4 %): over the tenant's 0.1 % and Gmail's 0.3 %.
tenant spam 500 0 2
status=$(run_capture account health --tenant spam --now $NOW --json)
assert_eq "$status" 2 "critical: exit 2"
assert_eq "$(jq -c '[.status,.score]' "$WORK/stdout")" '["critical",10]' "critical: 100 - 40 - 50"
assert_eq "$(jq -c '[.reasons[] | select(.check=="complaint_rate" or .check=="gmail_spam_rate") | [.check,.level,.figure,.threshold,.points]]' "$WORK/stdout")" \
  '[["complaint_rate","critical",0.004,0.001,40],["gmail_spam_rate","critical",0.004,0.003,50]]' "critical: complaint reasons"
# A week later the complaints have left the window: no sends in it, the rates not scored.
assert_eq "$(run_capture account health --tenant spam --now 2026-12-01T12:00:00Z --json)" 0 "outside the window: exit 0"
assert_eq "$(jq -c '[.window.sends, .reasons[1].figure, .reasons[1].detail]' "$WORK/stdout")" \
  '[0,null,"no sends from 2026-11-25 to 2026-12-01"]' "outside the window: said, not scored"

# Never sent: ok, no data, no score.
account init --tenant fresh 2>/dev/null
status=$(run_capture account health --tenant fresh --now $NOW --json)
assert_eq "$status" 0 "no data: exit 0"
assert_eq "$(jq -c '[.status,.score,.no_data]' "$WORK/stdout")" '["ok",null,true]' "no data: no score"
assert_contains "$(account health --tenant fresh --now $NOW)" "ok, no data" "no data: said in the text"

# Damaged books: exit 1, the file and the way out named, nothing on stdout.
cp -a "$MAILPIPE_STATE/good" "$MAILPIPE_STATE/torn"
reslug() { jq --arg s "$1" '.slug = $s' "$MAILPIPE_STATE/$1/tenant.json" > "$WORK/t.json" && cp "$WORK/t.json" "$MAILPIPE_STATE/$1/tenant.json"; }
reslug torn
printf '\037\213\010\000garbage' >> "$MAILPIPE_STATE/torn/events.ndjson.gz"
status=$(run_capture account health --tenant torn --now $NOW --json)
assert_eq "$status" 1 "torn events: exit 1"
assert_eq "$(wc -c < "$WORK/stdout")" 0 "torn events: no score on stdout"
assert_contains "$(cat "$WORK/stderr")" "events.ndjson.gz: " "torn events: the file named"
assert_contains "$(cat "$WORK/stderr")" "account fsck --tenant torn --repair" "torn events: the way out"
# fsck --repair, then the score again.
account fsck --tenant torn --repair > /dev/null 2>&1 || true
assert_eq "$(run_capture account health --tenant torn --now $NOW --json)" 0 "after fsck --repair: exit 0"
cp -a "$MAILPIPE_STATE/good" "$MAILPIPE_STATE/noledger"
reslug noledger
rm "$MAILPIPE_STATE/noledger/ledger.json"
status=$(run_capture account health --tenant noledger --now $NOW --json)
assert_eq "$status" 1 "lost ledger: exit 1"
assert_contains "$(cat "$WORK/stderr")" "ledger.json: missing" "lost ledger: named"
assert_eq "$(wc -c < "$WORK/stdout")" 0 "lost ledger: no score on stdout"
# --alert-command: the health JSON on the command's standard input on warn and critical, nothing on ok.
account health --tenant warned --now $NOW --alert-command "cat > '$WORK/alert.json'" > /dev/null || true
assert_eq "$(jq -c '[.tenant,.status,.score,.reasons[0].check,.reasons[0].level]' "$WORK/alert.json")" '["warned","warn",85,"bounce_rate","warn"]' "alert JSON received"
rm -f "$WORK/alert.json"
account health --tenant good --now $NOW --alert-command "cat > '$WORK/alert.json'" > /dev/null
[ ! -e "$WORK/alert.json" ] || fail "an ok tenant sent an alert"
checks=$((checks + 1))
status=$(run_capture account health --tenant spam --now $NOW --alert-command "cat > /dev/null; exit 3")
assert_eq "$status" 2 "failed alert command: the health's exit stays"
assert_contains "$(cat "$WORK/stderr")" "--alert-command exited 3: the critical alert may not have been delivered" "failed alert command said"
status=$(run_capture account health --tenant spam --now $NOW --alert-command "true")
assert_eq "$(cat "$WORK/stderr")" "" "a command that does not read the alert but succeeds is no failure"

# Telegram through libcurl, against a local double of the Bot API: the token from the
# environment (or a file), never in argv (the double looks at every process's command line while
# the request is open), never printed.
TOKEN="123456:test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
(umask 077; echo "$TOKEN" > "$WORK/token")
python3 "$REPO/Tests/Servers/telegram_double.py" --port-file "$WORK/tg-port" --log "$WORK/tg.log" --token-file "$WORK/token" &
tg=$!
trap 'kill $tg 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -s "$WORK/tg-port" ] && break; sleep 0.1; done
API="http://127.0.0.1:$(cat "$WORK/tg-port")"
status=$(TELEGRAM_BOT_TOKEN=$TOKEN run_capture account health --tenant spam --now $NOW \
  --alert-command "account alert-telegram --chat-id -100777 --api-url $API")
assert_eq "$status" 2 "telegram: critical ($(cat "$WORK/stderr"))"
assert_eq "$(jq -c '[.path_token_ok,.content_type,.body.chat_id,.token_in_argv]' "$WORK/tg.log")" '[true,"application/json","-100777",false]' "telegram: the double got the message, the token not in argv"
assert_contains "$(jq -r .body.text "$WORK/tg.log")" "mailpipe health: spam CRITICAL, score 10/100" "telegram: the verdict"
assert_contains "$(jq -r .body.text "$WORK/tg.log")" "gmail_spam_rate critical: 0.4% (threshold 0.3%, -50)" "telegram: the reasons"
case "$(cat "$WORK/stdout" "$WORK/stderr")" in *"$TOKEN"*) fail "the token was printed";; esac
account health --tenant spam --now $NOW --json > "$WORK/alert.json" || true
# From a file, with a wrong token: Telegram's refusal said, the token not printed.
echo "999:wrong-$TOKEN" > "$WORK/bad-token"
status=$(run_capture account alert-telegram --chat-id 1 --api-url "$API" --token-file "$WORK/bad-token" < "$WORK/alert.json")
assert_eq "$status" 1 "telegram refusal: exit 1"
assert_contains "$(cat "$WORK/stderr")" "Telegram refused the message: HTTP 401: Unauthorized" "telegram refusal said"
case "$(cat "$WORK/stdout" "$WORK/stderr")" in *"wrong-"*) fail "the token was printed";; esac
assert_eq "$(env -u TELEGRAM_BOT_TOKEN bash -c "account alert-telegram --chat-id 1 --api-url $API < '$WORK/alert.json'" 2>/dev/null; echo $?)" 2 "no token: exit 2"
kill $tg 2>/dev/null; wait $tg 2>/dev/null || true
status=$(TELEGRAM_BOT_TOKEN=$TOKEN run_capture account alert-telegram --chat-id 1 --api-url "$API" < "$WORK/alert.json")
assert_eq "$status" 1 "telegram unreachable: exit 1"
assert_contains "$(cat "$WORK/stderr")" "cannot reach the Telegram Bot API at $API" "telegram unreachable said"
case "$(cat "$WORK/stderr")" in *"$TOKEN"*) fail "the token was printed";; esac

# A misspelt tenant.json key: exit 2 (configuration), as for every command.
echo '{"timezone":"UTC","health":{"window_dayz":3}}' > "$WORK/bad.json"
cp "$WORK/bad.json" "$MAILPIPE_STATE/good/tenant.json"
assert_eq "$(run_capture account health --tenant good --now $NOW)" 2 "misspelt health key: exit 2"
assert_contains "$(cat "$WORK/stderr")" "'health.window_dayz'" "misspelt health key named"
done_ok

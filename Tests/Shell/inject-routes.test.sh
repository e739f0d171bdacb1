#!/usr/bin/env bash
# inject smtp routes with failover, against real Postfix instances (one of them stopped) and a
# server that refuses at connect (421 greeting): a record goes to the route of its recipient's
# domain, else to the general routes, in order; a route that cannot be reached hands its records
# to the next at once; the outcome names the route that took it; every message arrives once.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
[ "$(id -u)" = 0 ] || skip "the private Postfix instances need root"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
chmod 755 "$WORK"
A="$WORK/pf-a"; B="$WORK/pf-b"
cleanup() {
  bash "$SERVERS/stop-postfix.sh" "$A" >/dev/null 2>&1 || true
  bash "$SERVERS/stop-postfix.sh" "$B" >/dev/null 2>&1 || true
  [ -f "$WORK/busy/pid" ] && kill "$(cat "$WORK/busy/pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
URL_A=$(bash "$SERVERS/start-postfix.sh" "$A" 0)
URL_B=$(bash "$SERVERS/start-postfix.sh" "$B" 0)
NOW=2026-11-23T09:00:00Z
count() { find "$1/Maildir/new" "$1/Maildir/cur" -type f | wc -l; }
wait_for() { for _ in $(seq 1 300); do [ "$(count "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
ids() { grep -h -i '^Message-ID:' "$1"/Maildir/new/* "$1"/Maildir/cur/* 2>/dev/null | sort; }

mkdir -p "$MAILPIPE_STATE/acme"
cat > "$MAILPIPE_STATE/acme/tenant.json" <<JSON
{"slug":"acme","name":"Acme","sending_domain":"sos-expat.test","smtp":{"from":"hello@sos-expat.test"},
 "routes":[{"name":"gmail","url":"$URL_A","domains":["gmail.test"]},{"name":"main","url":"$URL_B"}]}
JSON
# 20 messages, one in four to gmail.test.
messages() {  # messages N CAMPAIGN
  python3 "$FIX" messages "$1" --campaign "$2" | jq -c 'if (.email | ltrimstr("user") | .[0:6] | tonumber) % 4 == 0 then .email |= sub("example.test"; "gmail.test") else . end'
}

# 1. Both up: gmail.test by its route, the rest by the general one.
messages 20 by-domain > "$WORK/m1.ndjson"
inject smtp --tenant acme --now $NOW --concurrency 4 < "$WORK/m1.ndjson" > "$WORK/o1.ndjson"
assert_eq "$(jq -r '[.outcome, .route, (.email | split("@")[1])] | join(" ")' "$WORK/o1.ndjson" | sort | uniq -c | xargs)" \
  "5 sent gmail gmail.test 15 sent main example.test" "each domain by its route"
wait_for "$A" 5 && wait_for "$B" 15 || fail "delivered: A $(count "$A"), B $(count "$B")"

# 2. The gmail route's Postfix is stopped: its records fail over to the general route.
bash "$SERVERS/stop-postfix.sh" "$A" >/dev/null
messages 20 failover > "$WORK/m2.ndjson"
inject smtp --tenant acme --now $NOW --concurrency 4 --stats "$WORK/s2.json" < "$WORK/m2.ndjson" > "$WORK/o2.ndjson" 2> "$WORK/e2"
assert_eq "$(jq -r '[.outcome, .route] | join(" ")' "$WORK/o2.ndjson" | sort | uniq -c | xargs)" "20 sent main" "failed over to main"
assert_eq "$(jq -r 'select(.email | endswith("gmail.test")) | .attempts' "$WORK/o2.ndjson" | sort -u | head -1)" "1" \
  "once the route is down, new messages start on the next one"
wait_for "$B" 35 || fail "B has $(count "$B") of 35"
sleep 0.5
assert_eq "$(count "$B")" "35" "every message once"
assert_eq "$(ids "$B" | uniq -d | wc -l)" "0" "no Message-ID twice"

# 3. A 421 greeting (a relay refusing at connect) fails over too; the rules file wins over tenant.json.
mkdir -p "$WORK/busy"
python3 "$SERVERS/strict_smtp.py" --port-file "$WORK/busy/port" --log "$WORK/busy/log" --greeting "421 4.3.2 too busy" > "$WORK/busy/out" 2>&1 &
echo $! > "$WORK/busy/pid"
for _ in $(seq 1 100); do [ -s "$WORK/busy/port" ] && break; sleep 0.05; done
cat > "$WORK/rules.json" <<JSON
{"routes":[{"name":"busy","url":"smtp://127.0.0.1:$(cat "$WORK/busy/port")"},{"name":"relay-b","url":"$URL_B"}]}
JSON
messages 6 busy > "$WORK/m3.ndjson"
inject smtp --tenant acme --now $NOW --rules "$WORK/rules.json" < "$WORK/m3.ndjson" > "$WORK/o3.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome, .route] | join(" ")' "$WORK/o3.ndjson" | sort | uniq -c | xargs)" "6 sent relay-b" "421 at connect: next route"
assert_contains "$(cat "$WORK/busy/log")" "refused at connect" "the busy relay was tried"
wait_for "$B" 41 || fail "B has $(count "$B") of 41"

# 4. No route reachable: transient, retried, then deferred (nothing lost; a re-run sends them).
echo "{\"routes\":[{\"name\":\"down\",\"url\":\"$URL_A\"}]}" > "$WORK/down.json"
messages 2 nowhere > "$WORK/m4.ndjson"
inject smtp --tenant acme --now $NOW --rules "$WORK/down.json" --max-attempts 2 --backoff 0.01 < "$WORK/m4.ndjson" > "$WORK/o4.ndjson" 2>/dev/null
assert_eq "$(jq -r '[.outcome, .reason, .route] | join(" ")' "$WORK/o4.ndjson" | sort -u)" "deferred transient down" "all routes down: deferred"
inject smtp --tenant acme --now $NOW --rules "$WORK/rules.json" < "$WORK/m4.ndjson" > "$WORK/o4b.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/o4b.ndjson" | sort -u)" "sent" "a re-run by another route sends them"

# 5. Routes only for some domains: a recipient none takes is a reject naming the problem.
echo "{\"routes\":[{\"name\":\"gm\",\"url\":\"$URL_B\",\"domains\":[\"gmail.test\"]}]}" > "$WORK/only.json"
messages 4 only > "$WORK/m5.ndjson"
inject smtp --tenant acme --now $NOW --rules "$WORK/only.json" --rejects "$WORK/r5.ndjson" < "$WORK/m5.ndjson" > "$WORK/o5.ndjson" 2>/dev/null
assert_eq "$(jq -r .route "$WORK/o5.ndjson")" "gm" "the gmail.test record went"
assert_eq "$(jq -r .reason "$WORK/r5.ndjson" | sort | uniq -c | xargs)" "3 no_route" "the others: no_route"

# 6. Rules are read strictly; credentials come from the environment only.
echo "{\"routes\":[{\"name\":\"x\",\"url\":\"$URL_B\",\"domain\":[\"a.test\"]}]}" > "$WORK/typo.json"
assert_eq "$(run_capture inject smtp --tenant acme --rules "$WORK/typo.json" < "$WORK/m5.ndjson")" "2" "a misspelt key: exit 2"
assert_contains "$(cat "$WORK/stderr")" "did you mean 'domains'" "names the key it meant"
echo "{\"routes\":[{\"name\":\"x\",\"url\":\"smtp://u:p@127.0.0.1:25\"}]}" > "$WORK/creds.json"
assert_eq "$(run_capture inject smtp --tenant acme --rules "$WORK/creds.json" < "$WORK/m5.ndjson")" "2" "credentials in a route URL: exit 2"
echo "{\"routes\":[{\"name\":\"x\",\"url\":\"$URL_B\",\"password_env\":\"MP_ROUTE_PASS_UNSET\",\"username_env\":\"MP_ROUTE_USER\"}]}" > "$WORK/env.json"
assert_eq "$(MP_ROUTE_USER=u run_capture inject smtp --tenant acme --rules "$WORK/env.json" < "$WORK/m5.ndjson")" "2" "an unset password variable: exit 2"
assert_contains "$(cat "$WORK/stderr")" "MP_ROUTE_PASS_UNSET" "named"
assert_eq "$(run_capture inject smtp --tenant acme --rules "$WORK/rules.json" --url "$URL_B" < "$WORK/m5.ndjson")" "2" "--rules with --url: exit 2"
done_ok

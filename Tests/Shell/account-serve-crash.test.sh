#!/usr/bin/env bash
# account serve killed with SIGKILL during a burst of 2,000 one-click POSTs (16 keep-alive
# clients): every request answered 200 is in the books; after a restart the client sends again
# what got no answer (and some that did), and no unsubscribe is recorded twice. The books
# recover the append the kill interrupted (events logged, effects unapplied) on the next open.
# The client holds its second thousand until the kill is done, so the kill always cuts the
# burst, however fast the machine.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
serve_tenant
client() { python3 "$REPO/Tests/Shell/oneclick_client.py" --base "$BASE/unsubscribe" --tenant sos-expat \
  --campaign burst --count 2000 --secret-env SOS_EXPAT_UNSUB_SECRET --threads 16 "$@"; }

start_serve "$WORK/serve1.log" --tenant sos-expat --client-rate 0 --no-access-log
client --hold-at 1000 --hold-file "$WORK/killed" --out "$WORK/round1.txt" &
client_pid=$!
# Kill once a few hundred are answered, while requests are usually in flight.
answered=0
for _ in $(seq 1 3000); do   # bounded: a minute at most
  [ "$answered" -ge 400 ] && break
  kill -0 "$client_pid" 2>/dev/null || fail "the client ended before the kill"
  kill -0 "$SERVE_PID" 2>/dev/null || fail "account serve died: $(cat "$WORK/serve1.log")"
  sleep 0.02
  answered=$(grep -c ' 200 ' "$WORK/round1.txt" 2>/dev/null || true)
  answered=${answered:-0}
done
kill -9 "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=""
touch "$WORK/killed"
wait "$client_pid"
ok1=$(grep -c ' 200 ' "$WORK/round1.txt" || true)
lost=$(grep -vc ' 200 ' "$WORK/round1.txt" || true)
[ "$ok1" -ge 400 ] || fail "only $ok1 answered before the kill"
[ "$lost" -ge 1000 ] || fail "the kill did not cut the burst ($ok1 answered, $lost not)"
answered_ok() { awk '$2 == 200 { print $1 }' "$@" | sort -n | uniq; }
answered_ok "$WORK/round1.txt" > "$WORK/ok1"

# Everything answered 200 is durable: it is in the log, as the kill left it.
index_of() { sed -n 's/^oneclick-\([0-9]*\)@.*/\1/p' | sed 's/^0*\([0-9]\)/\1/' | sort -n | uniq; }
zcat "$MAILPIPE_STATE/sos-expat/events.ndjson.gz" 2>/dev/null | jq -r 'select(.type == "unsubscribed") | .email' | index_of > "$WORK/logged1"
assert_eq "$(comm -23 "$WORK/ok1" "$WORK/logged1" | wc -l)" "0" "every 200 before the kill is in the log"

# Restart; the client sends again every request without a 200, and the first 200 that had one.
start_serve "$WORK/serve2.log" --tenant sos-expat --client-rate 0 --no-access-log
client --retry-from "$WORK/round1.txt" --also-repeat 200 --out "$WORK/round2.txt"
stop_serve TERM
assert_eq "$(grep -vc ' 200 ' "$WORK/round2.txt" || true)" "0" "every retry answered 200"
answered_ok "$WORK/round1.txt" "$WORK/round2.txt" > "$WORK/ok"
assert_eq "$(wc -l < "$WORK/ok")" "2000" "all 2,000 answered 200 in the end"

# The books: each address once in the log, on the suppression list, and the ledger counts 2,000.
events_of unsubscribed | jq -r .email | sort > "$WORK/emails"
assert_eq "$(wc -l < "$WORK/emails")" "2000" "2,000 unsubscribe events"
assert_eq "$(uniq -d "$WORK/emails" | wc -l)" "0" "none twice"
assert_eq "$(index_of < "$WORK/emails" | wc -l)" "2000" "one per address"
assert_eq "$(account suppress --tenant sos-expat --list 2>/dev/null | jq -r .email | grep -c '@load.mailpipe.test')" "2000" "all suppressed"
assert_eq "$(jq '.campaigns.burst.unsubscribed' "$MAILPIPE_STATE/sos-expat/ledger.json")" "2000" "the ledger counts each once"
done_ok

#!/usr/bin/env bash
# Regression (issue 13): inject's sends and account's warm-up agree on every day of a simulated
# six-week schedule. Each day (--now pinned, in a tenant whose time zone is behind UTC so the local
# day differs from the UTC one): account warmup --advance says each vmta's quota; inject smtp,
# given more messages than the quotas allow, sends exactly that many through each vmta (the rest
# deferred); account record books them; account warmup then shows the quota spent; a second
# inject the same day sends nothing; account pmta-config caps each vmta at the same quota. With
# no ledger yet, a vmta whose warmup_start lies weeks back still starts at week 1.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
SINK=$(bash "$SERVERS/start-smtp-sink.sh" 0 "$WORK/sink")
trap 'bash "$SERVERS/stop-smtp-sink.sh" "$WORK/sink" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
T=agree
# Small quotas keep the run short; weeks 1..6 and the week-6 quota after. a (weight 2) starts on
# day 1; b (weight 1) has a warmup_start 30 days before day 1 (no ledger entry: still week 1).
cat > "$WORK/tenant.json" <<JSON
{"slug":"agree","sending_domain":"agree.test","timezone":"America/New_York",
 "smtp":{"url":"$SINK","from":"hello@agree.test"},
 "vmtas":[{"name":"a","weight":2,"warmup_start":"2026-03-01"},{"name":"b","weight":1,"warmup_start":"2026-01-30"}],
 "warmup":[{"week":1,"daily_quota":3,"max_bounce_rate":0.05},{"week":2,"daily_quota":5,"max_bounce_rate":0.05},
           {"week":3,"daily_quota":8,"max_bounce_rate":0.05},{"week":4,"daily_quota":12,"max_bounce_rate":0.05},
           {"week":5,"daily_quota":16,"max_bounce_rate":0.05},{"week":6,"daily_quota":20,"max_bounce_rate":0.05}]}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
python3 "$FIX" messages 60 --tenant $T --campaign x > "$WORK/m.ndjson"
L="$MAILPIPE_STATE/$T/ledger.json"
weeks=""
for n in $(seq 0 41); do
  # 03:30 UTC on the next UTC day = 22:30 or 23:30 of local day n in New York.
  local_day=$(date -u -d "2026-03-01 + $n days" +%F)
  now=$(date -u -d "2026-03-01 + $((n + 1)) days 03:30" +%FT%TZ)
  account warmup --tenant $T --advance --now "$now" --json > "$WORK/w.ndjson"
  qa=$(jq -r 'select(.vmta=="a") | .quota' "$WORK/w.ndjson"); qb=$(jq -r 'select(.vmta=="b") | .quota' "$WORK/w.ndjson")
  jq -c --arg c "d$n" '.campaign = $c' "$WORK/m.ndjson" \
    | inject smtp --tenant $T --now "$now" --concurrency 4 > "$WORK/o.ndjson" 2>/dev/null
  sa=$(jq -r 'select(.outcome=="sent" and .vmta=="a") | .email' "$WORK/o.ndjson" | wc -l)
  sb=$(jq -r 'select(.outcome=="sent" and .vmta=="b") | .email' "$WORK/o.ndjson" | wc -l)
  deferred=$(jq -r 'select(.outcome=="deferred" and .reason=="quota") | .email' "$WORK/o.ndjson" | wc -l)
  assert_eq "$sa $sb $deferred" "$qa $qb $((60 - qa - qb))" "day $n ($local_day): inject sends what account warmup allows"
  account record --tenant $T --now "$now" < "$WORK/o.ndjson" 2>/dev/null
  assert_eq "$(jq -r --arg d "$local_day" '[.vmtas.a.sent[$d], .vmtas.b.sent[$d]] | map(tostring) | join(" ")' "$L")" "$qa $qb" \
    "day $n: the sends are booked on the tenant's local day"
  assert_eq "$(account warmup --tenant $T --now "$now" --json | jq -r '[.sent_today,.remaining_today] | map(tostring) | join("/")' | xargs)" \
    "$qa/0 $qb/0" "day $n: account warmup shows the quota spent"
  if [ $((n % 7)) -eq 3 ]; then
    head -5 "$WORK/m.ndjson" | jq -c --arg c "again$n" '.campaign = $c' \
      | inject smtp --tenant $T --now "$now" > "$WORK/o2.ndjson" 2>/dev/null
    assert_eq "$(jq -r .outcome "$WORK/o2.ndjson" | sort -u)" "deferred" "day $n: a second run sends nothing"
    assert_contains "$(account pmta-config --tenant $T --now "$now")" "week $(jq -r 'select(.vmta=="a") | .week' "$WORK/w.ndjson"): $qa messages a day" \
      "day $n: pmta-config caps at the same quota"
  fi
  weeks="$weeks$(jq -r 'select(.vmta=="a") | .week' "$WORK/w.ndjson")"
done
assert_eq "$weeks" "111111122222223333333444444455555556666666" "a week per week, up to 6"
assert_eq "$(jq -r '.vmtas.b.history | map(.action) | join(" ")' "$L")" "held advanced advanced advanced advanced advanced" \
  "b: a start day weeks back counts nothing (held on day 0, no sends), then a week per week"
assert_eq "$(jq -r '.vmtas.b.started' "$L")" "2026-01-30" "b's start day kept"
done_ok

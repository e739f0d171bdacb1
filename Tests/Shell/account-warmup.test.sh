#!/usr/bin/env bash
# account warmup --advance over a simulated three weeks (--now per day): advance after a clean
# week with enough volume, hold when the week's bounce rate is not under the ceiling or when it
# carried too few sends, step back after a day at twice the ceiling; safe to run twice a day;
# the ledger's quotas follow.
source "$(dirname "$0")/lib.sh"
T=warm
cat > "$WORK/tenant.json" <<'JSON'
{"slug":"warm","sending_domain":"mail.warm.example",
 "vmtas":[{"name":"a","ip":"192.0.2.1","hostname":"a.warm.example","warmup_start":"2026-12-01"},
          {"name":"b","ip":"192.0.2.2","hostname":"b.warm.example","warmup_start":"2026-12-01"},
          {"name":"c","ip":"192.0.2.3","hostname":"c.warm.example","warmup_start":"2026-12-01"},
          {"name":"d","ip":"192.0.2.4","hostname":"d.warm.example","warmup_start":"2026-12-01"}],
 "warmup":[{"week":1,"daily_quota":50,"max_bounce_rate":0.02},{"week":2,"daily_quota":200,"max_bounce_rate":0.02,"min_sends":300},
           {"week":3,"daily_quota":500,"max_bounce_rate":0.015}]}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
days=$(for d in $(seq 1 21); do printf '2026-12-%02d\n' "$d"; done)
for day in $days; do
  account warmup --tenant $T --advance --now "${day}T06:00:00Z" > "$WORK/adv-$day.ndjson"
  # 50 sends per vmta per day (d: 5, too few for a week to count); bounces: c 1/day (2 %, not
  # under its 2 % ceiling); b 5 on Dec 10 (10 %).
  awk -v day="$day" 'BEGIN { for (v = 0; v < 4; v++) for (i = 0; i < (v == 3 ? 5 : 50); i++) {
      vm = substr("abcd", v + 1, 1)
      printf "{\"email\":\"u%d-%s-%s@w.example\",\"campaign\":\"warm\",\"channel\":\"smtp\",\"outcome\":\"sent\",\"vmta\":\"%s\",\"at\":\"%sT10:00:00Z\"}\n", i, vm, day, vm, day } }' \
    | account record --tenant $T --now "${day}T10:00:00Z" 2>/dev/null
  nb=0; nc=1; [ "$day" = 2026-12-10 ] && nb=5
  { for i in $(seq 1 $nb); do echo "{\"email\":\"u$i-b-$day@w.example\",\"type\":\"bounced\",\"bounce_class\":\"policy\",\"vmta\":\"b\",\"at\":\"${day}T12:00:00Z\"}"; done
    for i in $(seq 1 $nc); do echo "{\"email\":\"u$i-c-$day@w.example\",\"type\":\"bounced\",\"bounce_class\":\"policy\",\"vmta\":\"c\",\"at\":\"${day}T12:00:00Z\"}"; done
  } | account events --tenant $T --now "${day}T12:00:00Z" 2>/dev/null
done
L="$MAILPIPE_STATE/$T/ledger.json"
hist() { jq -r --arg v "$1" '.vmtas[$v].history | map("\(.date) \(.action) \(.week)") | join(", ")' "$L"; }
assert_eq "$(hist a)" "2026-12-08 advanced 2, 2026-12-15 advanced 3" "a: two clean weeks"
assert_eq "$(hist b)" "2026-12-08 advanced 2, 2026-12-11 stepped-back 1, 2026-12-18 advanced 2" "b: step back after 10 % (2× ceiling)"
assert_eq "$(hist c)" "2026-12-08 held 1, 2026-12-15 held 1" "c: held at 2 %"
assert_eq "$(hist d)" "2026-12-08 held 1, 2026-12-15 held 1" "d: held, 35 sends a week is under the 175 needed"
assert_eq "$(jq -c '[.vmtas.a.week,.vmtas.a.quota,.vmtas.b.week,.vmtas.b.quota,.vmtas.c.week,.vmtas.c.quota,.vmtas.d.week]' "$L")" "[3,500,2,200,1,50,1]" "quotas for inject"
assert_eq "$(jq -r 'select(.vmta=="b") | [.action,.yesterday_bounce_rate] | @tsv' "$WORK/adv-2026-12-11.ndjson")" "stepped-back	0.1" "yesterday's rate shown"
assert_eq "$(jq -r 'select(.vmta=="a") | .action' "$WORK/adv-2026-12-03.ndjson")" "in-week" "mid-week"
# A second run the same day changes nothing.
before=$(md5sum < "$L")
account warmup --tenant $T --advance --now 2026-12-21T18:00:00Z > "$WORK/again.ndjson"
assert_eq "$(md5sum < "$L")" "$before" "advance twice a day"
assert_eq "$(jq -r .action "$WORK/again.ndjson" | sort -u)" "already-checked" "second run reports already-checked"
# Without --advance: a report of the state, no change.
account warmup --tenant $T --now 2026-12-22T09:00:00Z > "$WORK/show.ndjson"
assert_eq "$(jq -c '[.vmta,.week,.quota,.yesterday_sent]' "$WORK/show.ndjson" | tr '\n' ' ')" '["a",3,500,50] ["b",2,200,50] ["c",1,50,50] ["d",1,50,5] ' "warmup listing"
assert_eq "$(md5sum < "$L")" "$before" "listing writes nothing"
done_ok

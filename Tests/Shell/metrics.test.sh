#!/usr/bin/env bash
# Prometheus metrics, read by prometheus_client's own text parser: `account health --prometheus
# FILE` (a node_exporter textfile, replaced whole by a rename) and `account serve`'s GET /metrics
# (the served tenants' metrics and the server's own counters, not rate-limited). Every figure is
# checked against account report --json and account health --json; damaged books write
# mailpipe_books_readable 0 and no stale figure.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
python3 -c 'import prometheus_client.parser' 2>/dev/null \
  || skip "the Python package prometheus_client is not installed (scripts/install-deps --test installs it)"
T=books-demo
NOW=2026-11-24T12:00:00Z
books_demo $T
# A privacy proxy's open and a scanner's click: machines', counted apart.
printf '%s\n' '{"email":"ana@example.org","type":"opened","campaign":"nov-fr","at":"2026-11-23T10:00:30Z","machine":true}' \
  '{"email":"ben@example.org","type":"clicked","campaign":"nov-fr","at":"2026-11-23T10:00:31Z","url":"https://x.test/","machine":true}' \
  | account events --tenant $T --now 2026-11-24T12:00:00Z 2>/dev/null

# parse FILE — prometheus_client's parser over the text; one JSON line per sample
# {family, type, help, name, labels, value}. Fails on text it cannot read, on a family without
# help or a name without the mailpipe_ prefix, and on a family given twice.
parse() {
  python3 - "$1" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
seen = set()
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    assert f.name.startswith("mailpipe_"), f"not prefixed: {f.name}"
    assert f.documentation, f"no HELP for {f.name}"
    assert f.name not in seen, f"{f.name} given twice"
    seen.add(f.name)
    for s in f.samples:
        print(json.dumps({"family": f.name, "type": f.type, "help": f.documentation, "name": s.name,
                          "labels": s.labels, "value": s.value}, sort_keys=True))
PY
}
# value FILE NAME [JQ-LABEL-FILTER] — the sample's value (jq number), "none" when absent
value() { jq -s -r --arg n "$2" "[.[] | select(.name == \$n)${3:+ | select(.labels | $3)}] | if length == 0 then \"none\" else (map(.value) | add) end" "$1"; }

# --- the textfile ----------------------------------------------------------------------------
mkdir "$WORK/textfile"
PROM="$WORK/textfile/mailpipe_$T.prom"
status=$(run_capture account health --tenant $T --now $NOW --json --prometheus "$PROM")
cp "$WORK/stdout" "$WORK/health.json"
account report --tenant $T --now $NOW --json > "$WORK/report.ndjson"
rep() { jq -s -c "map(select(.section==\"$1\"))$2" "$WORK/report.ndjson"; }
[ -s "$PROM" ] || fail "no textfile written ($(cat "$WORK/stderr"))"
assert_eq "$(ls -A "$WORK/textfile")" "mailpipe_$T.prom" "only the textfile in its folder (no temporary file left)"
assert_eq "$(stat -c %a "$PROM")" "644" "the textfile is readable by node_exporter"
parse "$PROM" > "$WORK/file.ndjson" || fail "prometheus_client cannot read the textfile: $(cat "$PROM")"
assert_contains "$(cat "$PROM")" "# TYPE mailpipe_sends_total counter" "TYPE lines"
assert_contains "$(cat "$PROM")" "# HELP mailpipe_health_score " "HELP lines"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_health_score '.tenant == "books-demo"')" "$(jq .score "$WORK/health.json")" "health score = account health's"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_health_level)" "$status" "health level = its exit status"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_books_readable)" "1" "books readable"
# Each check's figure, threshold, level and points, as account health --json gives them.
python3 - "$WORK/health.json" "$WORK/file.ndjson" <<'PY' || fail "a check's metric differs from account health --json"
import json, sys
health = json.load(open(sys.argv[1]))
samples = [json.loads(l) for l in open(sys.argv[2])]
def get(name, check):
    v = [s["value"] for s in samples if s["name"] == name and s["labels"].get("check") == check]
    return v[0] if v else None
levels = {"ok": 0, "warn": 1, "critical": 2}
# The JSON rounds to 6 decimals; the metric is the exact figure.
def close(metric, given): return metric is None and given is None or (metric is not None and given is not None and abs(metric - given) <= 5e-7)
assert len(health["reasons"]) == 8
for r in health["reasons"]:
    c = r["check"]
    assert close(get("mailpipe_health_check_figure", c), r["figure"]), (c, "figure", get("mailpipe_health_check_figure", c), r["figure"])
    assert close(get("mailpipe_health_check_threshold", c), r["threshold"]), (c, "threshold")
    assert get("mailpipe_health_check_level", c) == levels[r["level"]], (c, "level")
    assert get("mailpipe_health_check_points", c) == r["points"], (c, "points")
PY
checks=$((checks + 1))
assert_eq "$(jq -s -c '[.[] | select(.name == "mailpipe_health_check_figure")] | length' "$WORK/file.ndjson")" \
  "$(jq -c '[.reasons[] | select(.figure != null)] | length' "$WORK/health.json")" "one figure per check that has one"
# The books' counters = account report's totals.
assert_eq "$(value "$WORK/file.ndjson" mailpipe_sends_total)" "$(rep totals '[0].sends')" "sends"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_delivered_total)" "$(rep totals '[0].delivered')" "delivered"
for class in hard soft policy; do
  assert_eq "$(value "$WORK/file.ndjson" mailpipe_bounces_total ".class == \"$class\"")" "$(rep totals "[0].bounced_$class")" "$class bounces"
done
assert_eq "$(value "$WORK/file.ndjson" mailpipe_complaints_total)" "$(rep totals '[0].complained')" "complaints"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_unsubscribes_total)" "$(rep totals '[0].unsubscribed')" "unsubscribes"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_open_events_total '.by == "person"') $(value "$WORK/file.ndjson" mailpipe_open_events_total '.by == "machine"')" \
  "$(rep totals '[0].opened_events') $(rep totals '[0].opened_machine')" "opens: people's and machines'"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_click_events_total '.by == "machine"')" "1" "a scanner's click is a machine's"
assert_eq "$(value "$WORK/file.ndjson" mailpipe_suppressed)" "$(rep totals '[0].suppressed')" "suppression size"
assert_eq "$(jq -s -c '[.[] | select(.name == "mailpipe_contacts") | "\(.labels.status)=\(.value)"] | sort' "$WORK/file.ndjson")" \
  "$(rep contacts '| map(select(.by == "status") | "\(.value)=\(.count)") | sort')" "contacts by status"
assert_eq "$(jq -s -c '[.[] | select(.family | startswith("mailpipe_warmup_")) | "\(.labels.vmta) \(.name) \(.value)"] | sort' "$WORK/file.ndjson")" \
  "$(rep warmup '| map("\(.vmta) mailpipe_warmup_quota \(.quota)", "\(.vmta) mailpipe_warmup_sent_today \(.sent_today)", "\(.vmta) mailpipe_warmup_week \(.week)") | sort')" \
  "warm-up quota, used and week per vmta"
assert_eq "$(jq -s -r '[.[] | select(.labels.tenant != null) | .labels.tenant] | unique | join(" ")' "$WORK/file.ndjson")" "books-demo" "every sample says its tenant"

# Replaced whole by a rename: a new inode each time, and a reader never sees part of a file.
ln "$PROM" "$WORK/before.prom"  # keeps the first file's inode from being reused
lines=$(wc -l < "$PROM")
( for i in $(seq 1 15); do account health --tenant $T --now $NOW --prometheus "$PROM" > /dev/null 2>&1 || true; done; touch "$WORK/writes-done" ) &
writer=$!
reads=0
while [ ! -e "$WORK/writes-done" ] || [ $reads -lt 5 ]; do
  n=$(wc -l < "$PROM")
  [ "$n" = "$lines" ] || fail "a reader saw $n lines of $lines (a half-written textfile)"
  reads=$((reads + 1))
done
wait $writer
checks=$((checks + 1))
[ "$(stat -c %i "$PROM")" != "$(stat -c %i "$WORK/before.prom")" ] || fail "the textfile was rewritten in place, not replaced by a rename"
checks=$((checks + 1))
assert_eq "$(ls -A "$WORK/textfile")" "mailpipe_$T.prom" "no temporary file left after the rewrites"

# --- /metrics --------------------------------------------------------------------------------
# Two tenants (families merged: each HELP/TYPE once), a 1-request-per-long-while client rate so
# a refused token then a third request hits the limit, while /metrics is never limited.
serve_tenant
export MAILPIPE_UNSUB_SECRET="metrics-test-secret-$$"
start_serve "$WORK/serve.log" --tenant sos-expat --tenant $T --client-rate 0.001 --client-burst 2
emails=($(jq -r 'select(.headers["List-Unsubscribe"] != null) | .email' "$WORK/messages.ndjson" | head -2))
link=$(link_of "${emails[0]}")
other=$(link_of "${emails[1]}")
forged="${link%s=*}s=${other##*s=}"  # the first address with the second one's token
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'List-Unsubscribe=One-Click' "$BASE$link")" "200" "a one-click unsubscribe"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'List-Unsubscribe=One-Click' "$BASE$forged")" "403" "another address's token"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'List-Unsubscribe=One-Click' "$BASE$link")" "429" "over the client rate"
for i in 1 2 3 4; do
  assert_eq "$(curl -s -D "$WORK/headers" -o "$WORK/metrics.txt" -w '%{http_code}' "$BASE/metrics")" "200" "GET /metrics $i (not rate-limited)"
done
assert_contains "$(tr -d '\r' < "$WORK/headers")" "Content-Type: text/plain; version=0.0.4" "the exposition format's content type"
parse "$WORK/metrics.txt" > "$WORK/served.ndjson" || fail "prometheus_client cannot read /metrics: $(cat "$WORK/metrics.txt")"
assert_eq "$(grep -c '^# TYPE mailpipe_sends_total ' "$WORK/metrics.txt")" "1" "one TYPE line for two tenants"
assert_eq "$(jq -s -r '[.[] | select(.name == "mailpipe_sends_total") | .labels.tenant] | sort | join(" ")' "$WORK/served.ndjson")" \
  "books-demo sos-expat" "each served tenant's books"
# The server's own counters: 3 earlier /metrics, the 200, the 403, the 429.
assert_eq "$(value "$WORK/served.ndjson" mailpipe_http_requests_total '.route == "metrics" and .code == "200"')" "3" "requests by route and code: /metrics"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_http_requests_total '.route == "unsubscribe" and .code == "200"')" "1" "requests: the unsubscribe"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_http_rejected_tokens_total '.route == "unsubscribe"')" "1" "rejected tokens"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_http_rate_limited_total '.route == "unsubscribe"')" "1" "rate-limited requests"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_group_commits_total '.tenant == "sos-expat"')" "1" "group commits"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_group_commit_seconds_count '.tenant == "sos-expat"')" "1" "commit latency: one observation"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_group_commit_seconds_bucket '.tenant == "sos-expat" and .le == "+Inf"')" "1" "commit latency: the +Inf bucket"
assert_eq "$(jq -s -r '[.[] | select(.family == "mailpipe_group_commit_seconds") | .type] | unique | join(" ")' "$WORK/served.ndjson")" "histogram" "commit latency is a histogram"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_unsubscribes_total '.tenant == "sos-expat"')" "1" "the unsubscribe is in the served books' counter"
# The served tenant's figures are account health's and account report's (the same clock: now).
account health --tenant $T --json > "$WORK/health-now.json" 2>/dev/null || true
assert_eq "$(value "$WORK/served.ndjson" mailpipe_health_level '.tenant == "books-demo"')" \
  "$(jq -r '{"ok":0,"warn":1,"critical":2}[.status]' "$WORK/health-now.json")" "served health level = account health's"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_health_score '.tenant == "books-demo"')" "$(jq -r '.score // "none"' "$WORK/health-now.json")" "served score = account health's"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_health_no_data '.tenant == "sos-expat"')" "1" "a tenant that never sent: no data"
assert_eq "$(value "$WORK/served.ndjson" mailpipe_health_score '.tenant == "sos-expat"')" "none" "... and no score"
for name in mailpipe_sends_total mailpipe_complaints_total mailpipe_suppressed; do
  assert_eq "$(value "$WORK/served.ndjson" $name '.tenant == "books-demo"')" "$(value "$WORK/file.ndjson" $name)" "served $name = the textfile's"
done
stop_serve TERM

# --- damaged books -----------------------------------------------------------------------------
# A torn events tail: health exits 1 with nothing on stdout, and the textfile says the books are
# unreadable instead of keeping the last figures.
printf 'torn' >> "$MAILPIPE_STATE/$T/events.ndjson.gz"
assert_eq "$(run_capture account health --tenant $T --now $NOW --prometheus "$PROM")" "1" "damaged books: exit 1"
assert_eq "$(cat "$WORK/stdout")" "" "damaged books: nothing on stdout"
parse "$PROM" > "$WORK/damaged.ndjson" || fail "prometheus_client cannot read the damaged-books textfile"
assert_eq "$(jq -s -c 'map([.name, .labels.tenant, .value])' "$WORK/damaged.ndjson")" '[["mailpipe_books_readable","books-demo",0]]' \
  "damaged books: mailpipe_books_readable 0 and no stale figure"
done_ok

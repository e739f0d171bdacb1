#!/usr/bin/env bash
# account report's A/B comparison through the built binaries: segment --split assigns the
# variants, inject-like outcomes carry them into account record, opens and clicks come as events;
# the counts are people (not events, not machines), and the z-test's figures and verdicts are
# checked against a computation of their own here.
source "$(dirname "$0")/lib.sh"
T=abtest
echo '{"slug":"abtest","name":"AB"}' > "$WORK/tenant.json"
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null

# 200 contacts of campaign nov split a/b; 24 of campaign tiny (too few to test).
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/contacts.ndjson", "w") as f:
    for i in range(200):
        f.write(json.dumps({"tenant": "abtest", "email": f"p{i}@example.org", "status": "validated"}) + "\n")
with open(f"{w}/tiny.ndjson", "w") as f:
    for i in range(24):
        f.write(json.dumps({"tenant": "abtest", "email": f"t{i}@example.org", "status": "validated"}) + "\n")
PY
account commit --tenant $T "$WORK/contacts.ndjson" "$WORK/tiny.ndjson" 2>/dev/null
segment --tenant $T --split a=50,b=50 --campaign nov < "$WORK/contacts.ndjson" > "$WORK/nov.ndjson" 2>/dev/null
segment --tenant $T --split a=50,b=50 --campaign tiny < "$WORK/tiny.ndjson" > "$WORK/tinyv.ndjson" 2>/dev/null
assert_eq "$(jq -r .variant "$WORK/nov.ndjson" | sort -u | xargs)" "a b" "two variants"

# Outcomes (as inject writes them, with the variant) and events: in nov, 2 of a bounce, the rest
# are delivered; 20 % of a's people open, 45 % of b's (some twice, some only by a machine); clicks
# 10 % and 12 %. In tiny everyone is delivered and a third open.
python3 - "$WORK" <<'PY' > "$WORK/expected.json"
import json, math, sys
w = sys.argv[1]
out = open(f"{w}/outcomes.ndjson", "w"); ev = open(f"{w}/events.ndjson", "w")
def event(**k): ev.write(json.dumps(dict(tenant="abtest", **k)) + "\n")
people = {}
for name, camp in (("nov.ndjson", "nov"), ("tinyv.ndjson", "tiny")):
    rows = [json.loads(l) for l in open(f"{w}/{name}")]
    for v in sorted({r["variant"] for r in rows}):
        mine = [r["email"] for r in rows if r["variant"] == v]
        st = people.setdefault(camp, {}).setdefault(v, dict(sent=0, delivered=0, opened=0, clicked=0))
        for i, e in enumerate(mine):
            out.write(json.dumps(dict(tenant="abtest", email=e, campaign=camp, variant=v, channel="smtp", outcome="sent",
                                      attempts=1, code=250, at="2026-11-23T09:00:00Z")) + "\n")
            st["sent"] += 1
            if camp == "nov" and v == "a" and i < 2:
                event(email=e, campaign=camp, type="bounced", bounce_class="hard", at="2026-11-23T09:05:00Z", source="pmta")
                continue
            event(email=e, campaign=camp, type="delivered", at="2026-11-23T09:01:00Z", source="pmta")
            st["delivered"] += 1
            share_open = {"a": 0.20, "b": 0.45}[v] if camp == "nov" else 1 / 3
            share_click = {"a": 0.10, "b": 0.12}[v] if camp == "nov" else 0
            n = len(mine)
            if i >= n - round(share_open * n):
                event(email=e, campaign=camp, type="opened", at="2026-11-23T10:00:00Z")
                event(email=e, campaign=camp, type="opened", at="2026-11-23T11:00:00Z")   # twice: one person
                st["opened"] += 1
            elif i % 5 == 0:
                event(email=e, campaign=camp, type="opened", machine=True, at="2026-11-23T09:02:00Z")   # a proxy's
            if i >= n - round(share_click * n):
                event(email=e, campaign=camp, type="clicked", at="2026-11-23T10:30:00Z", url="https://acme.example/")
                st["clicked"] += 1
def test(s, metric):
    (na, a), (nb, b) = sorted(s.items(), key=lambda kv: (-kv[1][metric] / kv[1]["delivered"], kv[0]))
    x1, n1, x2, n2 = a[metric], a["delivered"], b[metric], b["delivered"]
    p = (x1 + x2) / (n1 + n2)
    if min(n1, n2) < 30 or min(n1 * p, n2 * p, n1 * (1 - p), n2 * (1 - p)) < 5:
        return dict(best=na, verdict="too_few")
    z = (x1 / n1 - x2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    pv = math.erfc(abs(z) / math.sqrt(2))
    return dict(best=na, z=round(z, 3), p_value=round(pv, 6), verdict="won" if pv < 0.05 else "no_difference")
print(json.dumps(dict(people=people, tests={c: {m: test(s, m) for m in ("opened", "clicked")} for c, s in people.items()})))
PY
account record --tenant $T --now 2026-11-23T12:00:00Z "$WORK/outcomes.ndjson" 2>/dev/null
account events --tenant $T --now 2026-11-23T12:00:00Z "$WORK/events.ndjson" 2>/dev/null
account report --tenant $T --now 2026-11-24T12:00:00Z --json > "$WORK/r.ndjson"
E="$WORK/expected.json"

for c in nov tiny; do
  for v in a b; do
    got=$(jq -c --arg c $c --arg v $v 'select(.section=="variant" and .campaign==$c and .variant==$v) | [.sent,.delivered,.opened,.clicked]' "$WORK/r.ndjson")
    want=$(jq -c --arg c $c --arg v $v '.people[$c][$v] | [.sent,.delivered,.opened,.clicked]' "$E")
    assert_eq "$got" "$want" "$c/$v: people sent, delivered, opened, clicked"
  done
done
assert_eq "$(jq -c 'select(.section=="variant" and .campaign=="nov" and .variant=="a") | .base' "$WORK/r.ndjson")" \
  "$(jq '.people.nov.a.delivered' "$E")" "rates over the delivered"
for m in opened clicked; do
  metric=${m%ed}_rate; [ "$m" = clicked ] && metric=click_rate; [ "$m" = opened ] && metric=open_rate
  got=$(jq -c --arg m $metric 'select(.section=="variant_test" and .campaign=="nov" and .metric==$m) | [.best,.z,.p_value,.verdict]' "$WORK/r.ndjson")
  want=$(jq -c --arg m $m '.tests.nov[$m] | [.best,.z,.p_value,.verdict]' "$E")
  assert_eq "$got" "$want" "nov $metric: best, z, p, verdict"
done
assert_eq "$(jq -r 'select(.section=="variant_test" and .campaign=="nov" and .metric=="open_rate") | .winner' "$WORK/r.ndjson")" "b" "b won on opens"
assert_eq "$(jq -r 'select(.section=="variant_test" and .campaign=="nov" and .metric=="click_rate") | .winner' "$WORK/r.ndjson")" "null" "no winner on clicks"
assert_eq "$(jq -r 'select(.section=="variant_test" and .campaign=="tiny") | .verdict' "$WORK/r.ndjson" | sort -u)" "too_few" "too few to test"

# The same in the text report and the HTML page.
account report --tenant $T --now 2026-11-24T12:00:00Z > "$WORK/r.txt"
account report --tenant $T --now 2026-11-24T12:00:00Z --html "$WORK/r.html" > /dev/null
assert_contains "$(cat "$WORK/r.txt")" "nov: b won on opens against a" "the text names the winner"
assert_contains "$(cat "$WORK/r.txt")" "nov: no significant difference in clicks" "and says when there is none"
assert_contains "$(cat "$WORK/r.html")" 'id="ab-nov-open_rate"' "the HTML has the test"
# A report of one campaign compares only it.
account report --tenant $T --now 2026-11-24T12:00:00Z --json --campaign tiny > "$WORK/r2.ndjson"
assert_eq "$(jq -r 'select(.section=="variant") | .campaign' "$WORK/r2.ndjson" | sort -u)" "tiny" "--campaign"
done_ok

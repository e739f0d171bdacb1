#!/usr/bin/env bash
# tenant.json is read strictly: every sample passes `account init --check`; every key of a
# complete tenant.json, misspelt once, is refused (exit 2) with its path and the key it meant;
# values of the wrong kind are named; nothing is written by --check; a misspelt key stops the
# stages that read the tenant too.
source "$(dirname "$0")/lib.sh"
S="$REPO/samples"
for f in "$S"/*/tenant.json; do
  assert_eq "$(run_status account init --check "$f" 2>"$WORK/err")" "0" "sample $f passes --check ($(cat "$WORK/err"))"
done
assert_eq "$(ls "$MAILPIPE_STATE" 2>/dev/null | wc -l)" "0" "--check writes nothing"

# A tenant.json holding every key there is.
jq '.vmtas[0].pool = "sx-pool" | .warmup[0].min_sends = 200
    | .mailwizz.fields = {"FNAME": "first_name"} | .mailwizz.subscriber_status = "confirmed"
    | .mailwizz.language_lists = {"fr": "frlist01"}
    | .tracking = {"url": "https://t.sos-expat.com/t", "enabled": false, "opens": true, "clicks": true, "machine_seconds": 10}
    | .webhooks = {"mailwizz": {"secret_env": "SX_MAILWIZZ_WEBHOOK_SECRET"}}
    | .engagement = {"half_life_days": 30, "sunset_after_sends": 5, "sunset_after_days": 120}
    | .routes = [{"name": "main", "url": "smtp://127.0.0.1:25", "domains": ["gmail.com"], "username_env": "RU", "password_env": "RP"}]
    | .health = {"window_days": 7, "unsubscribe_rate": 0.005, "unsubscribe_rise": 2, "bounced_share": 0.05, "unvalidated_share": 0.1, "suppressed_share": 0.25}' \
  "$S/sos-expat/tenant.json" > "$WORK/full.json"
assert_eq "$(run_status account init --check "$WORK/full.json" 2>/dev/null)" "0" "the complete file passes"

# Every key path (object members; free-form maps taxonomy, mailwizz.fields and
# mailwizz.language_lists keep their own keys).
python3 - "$WORK/full.json" "$WORK/variants" <<'PY'
import json, os, sys
doc = json.load(open(sys.argv[1]))
out = sys.argv[2]; os.makedirs(out)
n = 0
def walk(node, path, root_path):
    global n
    if isinstance(node, dict):
        for k in list(node):
            p = path + [k]
            shown = ".".join(str(x) if isinstance(x, str) else "" for x in p)
            free = root_path in ("taxonomy", "mailwizz.fields", "mailwizz.language_lists")
            if not free:
                # A typo: the key with its last letter doubled, in a copy of the document.
                d = json.loads(json.dumps(doc))
                target = d
                for x in path: target = target[x]
                items = list(target.items())
                target.clear()
                for kk, vv in items: target[kk + kk[-1] if kk == k else kk] = vv
                name = "".join(f"[{x}]" if isinstance(x, int) else ("." if i else "") + x for i, x in enumerate(p))
                with open(f"{out}/{n:03d}.json", "w") as f: json.dump(d, f)
                with open(f"{out}/{n:03d}.want", "w") as f: f.write(name[:-len(k)] + k + k[-1] + "\t" + k + "\n")
                n += 1
            walk(node[k], p, ".".join(x for x in p if isinstance(x, str)))
    elif isinstance(node, list):
        for i, v in enumerate(node): walk(v, path + [i], root_path)
walk(doc, [], "")
PY
count=0
for f in "$WORK"/variants/*.json; do
  IFS=$'\t' read -r bad meant < "${f%.json}.want"
  status=$(run_status account init --check "$f" 2>"$WORK/err")
  assert_eq "$status" "2" "misspelt $bad: exit 2"
  assert_contains "$(cat "$WORK/err")" "unknown key '$bad' (did you mean '$meant'?)" "misspelt $bad named with its key"
  count=$((count + 1))
done
[ "$count" -ge 40 ] || fail "only $count key variants were tried"

# Keys that moved, and values of the wrong kind.
check_err() { # FILE-CONTENT EXPECTED-TEXT MESSAGE
  printf '%s\n' "$1" > "$WORK/t.json"
  assert_eq "$(run_status account init --check "$WORK/t.json" 2>"$WORK/err")" "2" "$3: exit 2"
  assert_contains "$(cat "$WORK/err")" "$2" "$3"
}
check_err '{"soft_bounce_rule":{"count":3,"days":15}}' "unknown key 'soft_bounce_rule' (this setting is bounces.soft_limit and bounces.soft_window_days)" "old soft-bounce rule"
check_err '{"mailwizz":{"api_key":"abc123"}}' "unknown key 'mailwizz.api_key' (this setting is api_key_env" "a key in the file"
check_err '{"vmtas":[{"name":"a","weight":"2"}]}' "'vmtas[0].weight' must be a whole number" "weight as text"
check_err '{"vmtas":[{"name":"a","warmup_start":"2026-13-01"}]}' "'vmtas[0].warmup_start' must be a date YYYY-MM-DD" "bad date"
check_err '{"warmup":[{"week":1,"daily_quota":50,"max_bounce_rate":2}]}' "'warmup[0].max_bounce_rate' must be between 0 and 1" "rate above 1"
check_err '{"timezone":"Europe/Pariss"}' "'timezone' is not usable: unknown time zone 'Europe/Pariss'" "unknown zone"
check_err '{"languages":["fr","xx"]}' "'languages[1]' is 'xx'" "unknown language"
check_err '{"slug":"a","slug":"b"}' "key 'slug' appears twice" "duplicate key"
check_err '{"bounces":{"soft_limit":0}}' "'bounces.soft_limit' must be at least 1" "soft limit 0"
check_err '[1,2]' "the file must hold a JSON object" "not an object"
assert_eq "$(ls "$MAILPIPE_STATE" 2>/dev/null | wc -l)" "0" "--check never writes"

# A misspelt key in an installed tenant.json stops the stages that read it (exit 2), naming it.
account init --tenant sos-expat --config "$S/sos-expat/tenant.json" 2>/dev/null
sed -i 's/"sending_domain"/"sending_domian"/' "$MAILPIPE_STATE/sos-expat/tenant.json"
for cmd in "account warmup --tenant sos-expat" "account pmta-config --tenant sos-expat"; do
  assert_eq "$(set +e; $cmd </dev/null >/dev/null 2>"$WORK/err"; echo $?)" "2" "$cmd refuses a misspelt tenant.json"
  assert_contains "$(cat "$WORK/err")" "unknown key 'sending_domian' (did you mean 'sending_domain'?)" "$cmd names the key"
done
echo '{"tenant":"sos-expat","email":"a@b.example","campaign":"c","subject":"s","text":"t","from":"x@y.example"}' > "$WORK/m.ndjson"
assert_eq "$(set +e; inject smtp --tenant sos-expat --url smtp://127.0.0.1:9 "$WORK/m.ndjson" >/dev/null 2>"$WORK/err"; echo $?)" "2" "inject refuses it"
assert_contains "$(cat "$WORK/err")" "sending_domian" "inject names the key"
done_ok

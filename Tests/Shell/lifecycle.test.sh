#!/usr/bin/env bash
# A tenant's whole life, for two tenants sharing one MTA (a private Postfix) and one accounting
# file (issue 13): import with contacts already unsubscribed or blocklisted, segment, render,
# inject under warm-up quotas, the MTA's accounting with bounces and complaints of both tenants,
# an unsubscribe, the next campaign. At each step: who was selected, who was mailed and how often,
# per vmta and per tenant — and nobody suppressed, unsubscribed or of the other tenant is ever
# selected, sent, counted or written.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
[ "$(id -u)" = 0 ] || skip "the private Postfix instance needs root"
chmod 755 "$WORK"
PF="$WORK/postfix"
SMTP=$(bash "$SERVERS/start-postfix.sh" "$PF" 0)
trap 'bash "$SERVERS/stop-postfix.sh" "$PF" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
export MAILPIPE_UNSUB_SECRET=lifecycle-secret
DAY1=2026-11-23T09:00:00Z DAY2=2026-11-24T09:00:00Z

# Two tenants, one Postfix; week-1 quotas of 3 (alpha, one vmta) and 2 + 2 (beta, two vmtas).
for t in alpha beta; do
  case $t in
    alpha) vmtas='[{"name":"a1","warmup_start":"2026-11-23"}]'; quota=3 ;;
    beta) vmtas='[{"name":"b1","warmup_start":"2026-11-23"},{"name":"b2","warmup_start":"2026-11-23"}]'; quota=2 ;;
  esac
  cat > "$WORK/$t.json" <<JSON
{"slug":"$t","sending_domain":"$t.test","timezone":"Europe/Paris","smtp":{"url":"$SMTP","from":"news@$t.test"},
 "vmtas":$vmtas,"warmup":[{"week":1,"daily_quota":$quota,"max_bounce_rate":0.5},{"week":2,"daily_quota":50}]}
JSON
  account init --tenant $t --config "$WORK/$t.json" 2>/dev/null
done
mkdir -p "$WORK/tpl/c1" "$WORK/tpl/c2"
for c in c1 c2; do printf 'News %s for {first_name}\n' $c > "$WORK/tpl/$c/en.subject"; printf '<p>Hello {first_name}</p>\n' > "$WORK/tpl/$c/en.html"; done

# Mail in the Maildir, one line per message: recipient From-domain X-Job X-Virtual-MTA.
mail_lines() {
  for f in "$PF"/Maildir/new/* "$PF"/Maildir/cur/*; do
    [ -f "$f" ] || continue
    awk '/^$/{exit} /^X-Original-To:/{to=$2} /^From:/{n=split($0,p,"@"); d=p[n]; gsub(/[> ]/,"",d)} /^X-Job:/{j=$2} /^X-Virtual-MTA:/{v=$2} END{print to, d, j, v}' "$f"
  done | sort
}
wait_mail() { for _ in $(seq 1 300); do [ "$(mail_lines | wc -l)" -ge "$1" ] && return 0; sleep 0.1; done; fail "only $(mail_lines | wc -l) of $1 messages arrived"; }
supp() { zcat "$MAILPIPE_STATE/$1/suppression.ndjson.gz" 2>/dev/null | jq -r .email | sort | tr '\n' ' '; }
emails() { jq -r .email "$1" | sort | tr '\n' ' '; }
sent_by() { jq -r 'select(.outcome=="sent") | .email' "$1" | sort | tr '\n' ' '; }

# 1. Import: each tenant has contacts already unsubscribed or blocklisted (other tools' spellings);
#    shared@x.test is a contact of both.
c() { printf '{"email":"%s","first_name":"%s","language":"en","tags":["club"],"status":"%s"}\n' "$1" "${1%%@*}" "${2:-validated}"; }
{ for i in 1 2 3 4 5; do c "a$i@a.test"; done; c shared@x.test; c ua@a.test unsubscribed; c ba@a.test blocklisted; } > "$WORK/alpha.ndjson"
{ for i in 1 2 3; do c "b$i@b.test"; done; c shared@x.test; c ub@b.test Opted-Out; } > "$WORK/beta.ndjson"
for t in alpha beta; do account commit --tenant $t --now $DAY1 "$WORK/$t.ndjson" 2>/dev/null; done
assert_eq "$(supp alpha)" "ba@a.test ua@a.test " "alpha: imported do-not-contact statuses suppressed"
assert_eq "$(supp beta)" "ub@b.test " "beta: imported opt-out suppressed"

# 2-3. Segment and render campaign c1.
campaign() {  # TENANT CAMPAIGN NOW → $WORK/TENANT-CAMPAIGN.{seg,msg,out}.ndjson
  segment --tenant $1 --contacts store --all club > "$WORK/$1-$2.seg.ndjson" 2>/dev/null
  render --campaign $2 --templates "$WORK/tpl" --tenant $1 < "$WORK/$1-$2.seg.ndjson" > "$WORK/$1-$2.msg.ndjson" 2>/dev/null
  inject smtp --tenant $1 --now $3 < "$WORK/$1-$2.msg.ndjson" > "$WORK/$1-$2.out.ndjson" 2>/dev/null
  account record --tenant $1 --now $3 < "$WORK/$1-$2.out.ndjson" 2>/dev/null
}
campaign alpha c1 $DAY1
campaign beta c1 $DAY1
assert_eq "$(emails "$WORK/alpha-c1.seg.ndjson")" "a1@a.test a2@a.test a3@a.test a4@a.test a5@a.test shared@x.test " "alpha c1: selected (not ua, ba)"
assert_eq "$(emails "$WORK/beta-c1.seg.ndjson")" "b1@b.test b2@b.test b3@b.test shared@x.test " "beta c1: selected (not ub)"
assert_eq "$(jq -r .tenant "$WORK/alpha-c1.msg.ndjson" "$WORK/beta-c1.msg.ndjson" | sort | uniq -c | xargs)" "6 alpha 4 beta" "rendered per tenant"
# 4. Warm-up: alpha may send 3 through a1, beta 2 through each of b1 and b2; the rest waits.
assert_eq "$(jq -r '[.outcome,(.reason//""),(.vmta//"")] | join(" ")' "$WORK/alpha-c1.out.ndjson" | sort | uniq -c | xargs)" \
  "3 deferred quota 3 sent a1" "alpha day 1: 3 sent through a1, 3 deferred (quota)"
assert_eq "$(jq -r '[.outcome,(.vmta//"")] | join(" ")' "$WORK/beta-c1.out.ndjson" | sort | uniq -c | xargs)" \
  "2 sent b1 2 sent b2" "beta day 1: 2 through each vmta"
wait_mail 7
alpha1=$(sent_by "$WORK/alpha-c1.out.ndjson"); beta1=$(sent_by "$WORK/beta-c1.out.ndjson")
assert_eq "$(mail_lines | awk '$2=="alpha.test"{print $1}' | sort | tr '\n' ' ')" "$alpha1" "alpha's mail went to whom inject says"
assert_eq "$(mail_lines | awk '$2=="beta.test"{print $1}' | sort | tr '\n' ' ')" "$beta1" "beta's mail went to whom inject says"
assert_eq "$(mail_lines | awk '{print $2, $4}' | sort | uniq -c | xargs)" "3 alpha.test a1 2 beta.test b1 2 beta.test b2" "per tenant and vmta"
for t in alpha beta; do
  assert_eq "$(account warmup --tenant $t --now $DAY1 --json | jq -r '[.vmta,.sent_today,.remaining_today] | map(tostring) | join(" ")' | tr '\n' ';')" \
    "$([ $t = alpha ] && echo "a1 3 0;" || echo "b1 2 0;b2 2 0;")" "$t: account warmup agrees with what was sent"
done

# 5. The MTA's one accounting file, both tenants' rows: alpha's first recipient bounces hard
#    (a1), beta's first complains (b1), beta's mail to shared@x.test bounces hard (b2), the rest
#    delivered.
a_first=$(echo $alpha1 | cut -d' ' -f1); b_first=$(echo $beta1 | cut -d' ' -f1)
{ echo "type,timeLogged,rcpt,bounceCat,dsnStatus,dsnAction,vmta,jobId"
  jq -r 'select(.outcome=="sent") | [.email,.vmta] | @tsv' "$WORK/alpha-c1.out.ndjson" "$WORK/beta-c1.out.ndjson" | while read -r e v; do
    if [ "$e" = "$a_first" ] && [ "$v" = a1 ]; then echo "b,2026-11-23 10:00:00+0000,$e,bad-mailbox,5.1.1 (unknown user),failed,$v,c1"
    elif [ "$e" = shared@x.test ] && [ "${v#b}" != "$v" ]; then echo "b,2026-11-23 10:00:01+0000,$e,bad-mailbox,5.1.1 (unknown user),failed,$v,c1"
    else echo "d,2026-11-23 10:00:02+0000,$e,,2.0.0 (ok),delivered,$v,c1"; fi
    if [ "$e" = "$b_first" ] && [ "${v#b}" != "$v" ]; then echo "f,2026-11-23 11:00:00+0000,$e,,,,$v,c1"; fi
  done; } > "$WORK/acct.csv"
for t in alpha beta; do account events --tenant $t --now $DAY1 --pmta "$WORK/acct.csv" --stats "$WORK/$t-ev.json" 2>/dev/null; done
assert_eq "$(jq -c '[.new,.other_tenant]' "$WORK/alpha-ev.json" "$WORK/beta-ev.json" | tr -d '\n')" "[3,5][5,3]" "each tenant writes its rows, counts the other's"
assert_contains " $beta1 " " shared@x.test " "beta mailed shared@x.test on day 1"
exp_alpha="$( (echo ba@a.test; echo ua@a.test; echo "$a_first") | sort | tr '\n' ' ')"
exp_beta="$( (echo ub@b.test; echo "$b_first"; echo shared@x.test) | sort -u | tr '\n' ' ')"
assert_eq "$(supp alpha)" "$exp_alpha" "alpha suppresses its own bounce only"
assert_eq "$(supp beta)" "$exp_beta" "beta suppresses its complaint (and its bounce of shared@x.test) only"
assert_eq "$(jq -r '.vmtas | keys | join(" ")' "$MAILPIPE_STATE/alpha/ledger.json") / $(jq -r '.vmtas | keys | join(" ")' "$MAILPIPE_STATE/beta/ledger.json")" \
  "a1 / b1 b2" "no vmta of the other tenant in a ledger"

# 6. An unsubscribe (alpha's a2, through the List-Unsubscribe endpoint's event).
printf '{"tenant":"alpha","email":"a2@a.test","type":"unsubscribed","campaign":"c1","at":"2026-11-23T20:00:00Z","source":"webhook"}\n' \
  | account events --tenant alpha --now $DAY1 2>/dev/null
assert_contains "$(supp alpha)" "a2@a.test" "the unsubscribe is on alpha's list"

# 7. The next day: campaign c2 for both.
before=$(mail_lines | wc -l)
campaign alpha c2 $DAY2
campaign beta c2 $DAY2
never_alpha="ba@a.test ua@a.test a2@a.test $a_first"
for e in $never_alpha; do
  jq -e --arg e "$e" 'select(.email==$e)' "$WORK/alpha-c2.seg.ndjson" >/dev/null && fail "alpha c2 selected suppressed $e"
done
checks=$((checks + 1))
assert_eq "$(jq -r .email "$WORK/alpha-c2.seg.ndjson" | grep -c shared@x.test)" "1" "beta's bounce of shared@x.test does not stop alpha mailing it"
assert_eq "$(jq -r 'select(.outcome=="sent") | .vmta' "$WORK/alpha-c2.out.ndjson" | sort | uniq -c | xargs)" "3 a1" "alpha day 2: the quota again, through a1"
n_beta2=$(jq -r 'select(.outcome=="sent")' "$WORK/beta-c2.out.ndjson" | jq -s length)
[ "$n_beta2" -le 4 ] || fail "beta day 2 sent $n_beta2 > its quota 4"
checks=$((checks + 1))
wait_mail $((before + 3 + n_beta2))
# Over the whole life: nobody suppressed or unsubscribed was mailed after it, nobody got a
# campaign twice, and every message left from its own tenant's vmta.
assert_eq "$(mail_lines | awk '{print $1, $3}' | sort | uniq -d)" "" "nobody got one campaign twice"
for e in ba@a.test ua@a.test ub@b.test; do assert_eq "$(mail_lines | awk -v e=$e '$1==e' | wc -l)" "0" "$e (imported do-not-contact) never mailed"; done
assert_eq "$(mail_lines | awk -v e=a2@a.test '$1==e && $3=="c2"' | wc -l)" "0" "a2 unsubscribed: no c2"
assert_eq "$(mail_lines | awk -v e="$a_first" '$1==e && $3=="c2"' | wc -l)" "0" "alpha's hard bounce: no c2"
assert_eq "$(mail_lines | awk -v e="$b_first" '$2=="beta.test" && $1==e && $3=="c2"' | wc -l)" "0" "beta's complainer: no c2"
assert_eq "$(mail_lines | awk '($2=="alpha.test" && $4!="a1") || ($2=="beta.test" && $4!~/^b[12]$/)' | wc -l)" "0" "every message through its own tenant's vmta"
assert_eq "$(mail_lines | awk '$2=="alpha.test" && $1 ~ /@b\.test$/' | wc -l) $(mail_lines | awk '$2=="beta.test" && $1 ~ /@a\.test$/' | wc -l)" "0 0" \
  "no tenant mailed the other's contacts"
# The books: each tenant's report counts its own sends only.
assert_eq "$(account report --tenant alpha --now $DAY2 --json | jq -c 'select(.section=="totals") | [.sent,.bounced_hard,.unsubscribed]')" \
  "[6,1,1]" "alpha's report: 6 sends, its bounce, its unsubscribe"
done_ok

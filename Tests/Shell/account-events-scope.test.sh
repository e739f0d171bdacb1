#!/usr/bin/env bash
# Events scoped to their tenant (issue 13): two tenants share one PowerMTA accounting file and one
# MailWizz install. Each imports the whole file; a row is the tenant's by its vmta, its MailWizz
# list, its campaign, or its recipient being the tenant's contact (in that order). The other
# tenant's rows are counted (other_tenant) and never written: no suppression, no vmta, no event,
# no contact status of one tenant comes from the other's mail.
source "$(dirname "$0")/lib.sh"
NOW=2026-11-23T12:00:00Z
for t in alpha beta; do
  case $t in alpha) v='[{"name":"a1"},{"name":"a2"}]'; l=aa000001;; beta) v='[{"name":"b1"}]'; l=bb000001;; esac
  cat > "$WORK/$t.json" <<JSON
{"slug":"$t","sending_domain":"$t.test","vmtas":$v,
 "mailwizz":{"url":"http://127.0.0.1:9/api","list_uid":"$l","api_key_env":"MW_KEY"}}
JSON
  account init --tenant $t --config "$WORK/$t.json" 2>/dev/null
done
# both@x.test is a contact of both tenants.
printf '%s\n' '{"email":"ana@a.test","status":"validated"}' '{"email":"both@x.test","status":"validated"}' \
  | account commit --tenant alpha --now $NOW 2>/dev/null
printf '%s\n' '{"email":"bob@b.test","status":"validated"}' '{"email":"both@x.test","status":"validated"}' \
  | account commit --tenant beta --now $NOW 2>/dev/null
# What each tenant sent (its campaigns become its own).
sent() { printf '{"email":"%s","campaign":"%s","channel":"smtp","outcome":"sent","vmta":"%s","at":"2026-11-23T09:00:00Z"}\n' "$@"; }
{ sent ana@a.test camp-a a1; sent both@x.test camp-a a2; } | account record --tenant alpha --now $NOW 2>/dev/null
{ sent bob@b.test camp-b b1; sent both@x.test camp-b b1; } | account record --tenant beta --now $NOW 2>/dev/null

cat > "$WORK/shared.csv" <<'CSV'
type,timeLogged,rcpt,bounceCat,dsnStatus,dsnAction,vmta,jobId
b,2026-11-23 10:00:00+0000,ana@a.test,bad-mailbox,5.1.1 (bad destination mailbox address),failed,a1,camp-a
b,2026-11-23 10:00:01+0000,bob@b.test,bad-mailbox,5.1.1 (bad destination mailbox address),failed,b1,camp-b
b,2026-11-23 10:00:02+0000,both@x.test,bad-mailbox,5.1.1 (bad destination mailbox address),failed,b1,camp-b
f,2026-11-23 10:00:03+0000,both@x.test,,,,a2,camp-a
b,2026-11-23 10:00:04+0000,stray@x.test,bad-mailbox,5.1.1 (bad destination mailbox address),failed,zz9,other
d,2026-11-23 10:00:05+0000,ana@a.test,,2.0.0 (success),delivered,,camp-a
d,2026-11-23 10:00:06+0000,bob@b.test,,2.0.0 (success),delivered,,
CSV
cat > "$WORK/hooks.ndjson" <<'JSON'
{"event":{"type":"open","date_added":"2026-11-23 11:00:00"},"subscriber":{"fields":{"EMAIL":"ana@a.test"}},"campaign":{"name":"camp-a"},"list":{"list_uid":"aa000001"}}
{"event":{"type":"open","date_added":"2026-11-23 11:00:01"},"subscriber":{"fields":{"EMAIL":"bob@b.test"}},"campaign":{"name":"camp-b"},"list":{"list_uid":"bb000001"}}
{"event":{"type":"click","date_added":"2026-11-23 11:00:02","clicked_url":"https://x.test/"},"subscriber":{"fields":{"EMAIL":"both@x.test"}},"campaign":{"name":"nl"}}
JSON
ev() { zcat "$MAILPIPE_STATE/$1/events.ndjson.gz" | jq -r "$2" | sort -u | tr '\n' ' '; }
supp() { zcat "$MAILPIPE_STATE/$1/suppression.ndjson.gz" 2>/dev/null | jq -r .email | sort | tr '\n' ' '; }
status() { account export --tenant "$1" | jq -r "select(.email==\"$2\") | .status"; }

for t in alpha beta; do
  account events --tenant $t --now $NOW --pmta "$WORK/shared.csv" --mailwizz "$WORK/hooks.ndjson" --stats "$WORK/$t.json.stats" 2>/dev/null
done
# alpha: rows 1, 4 (vmta), 6 (its campaign); opens of ana (its list) and both (its contact).
# Others: rows 2, 3, 5 by vmta, 7 by recipient; bob's open by list.
assert_eq "$(jq -c '[.in,.new,.other_tenant]' "$WORK/alpha.json.stats")" "[10,5,5]" "alpha: in, written, other tenant's"
assert_eq "$(jq -cS '.other_tenant_by' "$WORK/alpha.json.stats")" '{"contact":1,"list":1,"vmta":3}' "alpha: how they were told"
assert_eq "$(jq -c '[.in,.new,.other_tenant]' "$WORK/beta.json.stats")" "[10,5,5]" "beta: in, written, other tenant's"
assert_eq "$(jq -cS '.other_tenant_by' "$WORK/beta.json.stats")" '{"contact":1,"list":1,"vmta":3}' "beta: how they were told"
assert_eq "$(supp alpha)" "ana@a.test both@x.test " "alpha suppresses its hard bounce and its complaint only"
assert_eq "$(supp beta)" "bob@b.test both@x.test " "beta suppresses its own two hard bounces"
assert_eq "$(zcat "$MAILPIPE_STATE/alpha/suppression.ndjson.gz" | jq -r 'select(.email=="both@x.test") | .reason')" "complaint" \
  "alpha: both@x.test is suppressed for alpha's complaint, not beta's bounce"
assert_eq "$(ev alpha '.email')" "ana@a.test both@x.test " "alpha's log: none of beta's recipients, no stray"
assert_eq "$(ev beta '.email')" "bob@b.test both@x.test " "beta's log: none of alpha's recipients, no stray"
assert_eq "$(ev alpha 'select(.vmta) | .vmta')" "a1 a2 " "alpha's log: only its vmtas"
assert_eq "$(ev beta 'select(.vmta) | .vmta')" "b1 " "beta's log: only its vmta"
assert_eq "$(jq -r '.vmtas | keys | join(" ")' "$MAILPIPE_STATE/alpha/ledger.json")" "a1 a2" "alpha's warm-up: its vmtas only"
assert_eq "$(jq -r '.vmtas | keys | join(" ")' "$MAILPIPE_STATE/beta/ledger.json")" "b1" "beta's warm-up: its vmta only"
assert_eq "$(jq -c '[.vmtas.a1.bounced["2026-11-23"], .vmtas.b1.bounced["2026-11-23"]]' "$MAILPIPE_STATE/alpha/ledger.json" "$MAILPIPE_STATE/beta/ledger.json" | tr -d '\n')" \
  "[1,null][null,2]" "bounces counted on the right tenant's vmta"
assert_eq "$(jq -r '.campaigns | keys | join(" ")' "$MAILPIPE_STATE/alpha/ledger.json")" "camp-a nl" "alpha's campaigns"
assert_eq "$(status alpha both@x.test) $(status beta both@x.test)" "complained bounced" "the shared contact's status in each tenant is its own"
assert_eq "$(status alpha ana@a.test) $(status beta bob@b.test)" "bounced bounced" "each tenant's hard bounce"
# Importing the file again: nothing new, the other tenant's rows counted again, never written.
account events --tenant alpha --now $NOW --pmta "$WORK/shared.csv" --stats "$WORK/again.json" 2>/dev/null
assert_eq "$(jq -c '[.in,.new,.duplicates,.other_tenant]' "$WORK/again.json")" "[7,0,3,4]" "re-import"
# A tenant without vmtas and without a list: a vmta another tenant of the state lists is that
# tenant's; the rest is told by campaign, then recipient.
echo '{"slug":"gamma","sending_domain":"gamma.test"}' > "$WORK/gamma.json"
account init --tenant gamma --config "$WORK/gamma.json" 2>/dev/null
echo '{"email":"bob@b.test","status":"validated"}' | account commit --tenant gamma --now $NOW 2>/dev/null
account events --tenant gamma --now $NOW --pmta "$WORK/shared.csv" --stats "$WORK/gamma.stats" 2>/dev/null
assert_eq "$(jq -c '[.new,.other_tenant]' "$WORK/gamma.stats")" "[1,6]" "gamma: bob's delivery without a vmta, by recipient"
assert_eq "$(jq -cS '.other_tenant_by' "$WORK/gamma.stats")" '{"contact":2,"vmta":4}' "gamma: beta's and alpha's vmtas are theirs"
assert_eq "$(ev gamma '.email')" "bob@b.test " "gamma's log: its contact only"
assert_eq "$(jq -c '.vmtas' "$MAILPIPE_STATE/gamma/ledger.json")" "{}" "gamma's warm-up: no vmta of another tenant"
# The summary line accounts for every row: another tenant's and ignored rows show when not zero
# (14 rows: 13 on beta's vmta, one `r` row, which PowerMTA logs for a received message).
{ echo 'type,timeLogged,rcpt,bounceCat,dsnStatus,dsnAction,vmta,jobId'
  for i in $(seq 10 22); do echo "d,2026-11-23 12:00:$i+0000,bob@b.test,,2.0.0 (success),delivered,b1,camp-b"; done
  echo 'r,2026-11-23 12:01:00+0000,ana@a.test,,,,a1,camp-a'; } > "$WORK/mostly-beta.csv"
account events --tenant alpha --now $NOW --pmta "$WORK/mostly-beta.csv" 2> "$WORK/err"
assert_eq "$(cat "$WORK/err")" \
  "account events: 14 in, 0 new, 0 duplicates, 0 unknown_contacts, 0 suppressed, 1 ignored, 13 other_tenant, 0 rejected" \
  "summary line: ignored and other_tenant rows shown"
# in = new + duplicates + ignored + other_tenant + rejected, read off the line (a row too short is rejected).
{ cat "$WORK/shared.csv"; echo 'r,2026-11-23 12:02:00+0000,ana@a.test,,,,a1,camp-a'; echo 'd,not a time,ana@a.test,,,delivered,a1,camp-a'; } > "$WORK/mixed.csv"
account events --tenant alpha --now $NOW --pmta "$WORK/mixed.csv" --rejects /dev/null 2> "$WORK/err"
line=$(cat "$WORK/err")
count() { local c; c=$(grep -oE "[0-9]+ $1\b" <<< "$line" | cut -d' ' -f1); echo "${c:-0}"; }
assert_eq "$(count in)" $(( $(count new) + $(count duplicates) + $(count ignored) + $(count other_tenant) + $(count rejected) )) \
  "every row on the line: $line"
assert_eq "$(count ignored) $(count other_tenant) $(count rejected)" "1 4 1" "the mixed file's set-aside and rejected rows"
done_ok

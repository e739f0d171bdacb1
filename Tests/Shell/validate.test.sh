#!/usr/bin/env bash
# validate: verdicts through the real binary, --verdict, --fix-typos, lists, rejects, exit codes.
source "$(dirname "$0")/lib.sh"
# quiet_status CMD… — the exit status of CMD, its output discarded
quiet_status() { set +e; "$@" >/dev/null 2>&1; local s=$?; set -e; echo "$s"; }

cat > "$WORK/in.ndjson" <<'IN'
{"email":"jean.dupont@gmail.com","first_name":"Jean"}
{"email":"info@sos-expat.com"}
{"email":"bob@gnail.com"}
{"email":"anna@bücher.de"}
{"email":"x@sub.mailinator.com"}
{"email":"a..b@firm.fr"}
{"email":"a@printer.local"}
{"name":"no email"}
IN
out=$(validate --rejects "$WORK/rejects" --stats "$WORK/stats" < "$WORK/in.ndjson")
assert_eq "$(echo "$out" | wc -l)" 7 "every record but the reject is written"
assert_eq "$(echo "$out" | jq -r '.validation.verdict' | tr '\n' ' ')" "valid risky risky valid risky invalid invalid " "verdicts"
assert_eq "$(echo "$out" | jq -r '.status' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" "invalid=2 risky=3 validated=2 " "statuses"
assert_eq "$(echo "$out" | sed -n 3p | jq -r .validation.suggestion)" "bob@gmail.com" "typo suggestion"
assert_eq "$(echo "$out" | sed -n 4p | jq -r .email_ascii)" "anna@xn--bcher-kva.de" "IDN in ASCII"
assert_eq "$(echo "$out" | sed -n 1p)" '{"email":"jean.dupont@gmail.com","first_name":"Jean","validation":{"verdict":"valid","score":90,"reasons":[]},"status":"validated"}' "record shape"
assert_eq "$(jq -r .reason "$WORK/rejects")" "missing_email" "reject reason"
assert_eq "$(jq -r .line "$WORK/rejects")" "8" "reject line"
assert_eq "$(jq -c '[.in,.out,.valid,.risky,.invalid,.rejected]' "$WORK/stats")" "[8,7,2,3,2,1]" "summary counts"
assert_eq "$(jq -c .reasons "$WORK/stats")" '{"disposable":1,"role":1,"special_use_domain":1,"syntax":1,"typo":1}' "per-reason counts"

# --verdict and --fix-typos
out=$(validate --verdict valid --fix-typos < "$WORK/in.ndjson" 2>/dev/null)
assert_eq "$(echo "$out" | jq -r .email | tr '\n' ' ')" "jean.dupont@gmail.com bob@gmail.com anna@bücher.de " "--verdict valid after fixing"
assert_eq "$(echo "$out" | sed -n 2p | jq -r .email_original)" "bob@gnail.com" "email_original kept"

# Lists from files: --disposable-list (public list format) and --allow.
printf '# comment\nthrowaway.example-firm.net\n' > "$WORK/disp.txt"
printf 'mailinator.com\n' > "$WORK/allow.txt"
out=$(printf '%s\n' '{"email":"a@x.throwaway.example-firm.net"}' '{"email":"a@mailinator.com"}' \
  | validate --disposable-list "$WORK/disp.txt" --allow "$WORK/allow.txt" --strict-disposable 2>/dev/null)
assert_eq "$(echo "$out" | jq -r .validation.verdict | tr '\n' ' ')" "invalid valid " "custom lists, parent match, allow"

# Exit codes: --strict with a reject → 3; bad flags → 2; bad list → 2.
assert_eq "$(quiet_status validate --strict < "$WORK/in.ndjson")" 3 "--strict with rejects"
assert_eq "$(quiet_status validate --verdict good < /dev/null)" 2 "bad --verdict"
printf 'not a domain\n' > "$WORK/bad.txt"
assert_eq "$(quiet_status validate --disposable-list "$WORK/bad.txt" < /dev/null)" 2 "bad list file"
err=$(validate --disposable-list "$WORK/bad.txt" < /dev/null 2>&1 >/dev/null || true)
assert_contains "$err" "bad.txt:1" "list error names its line"
# Same input → byte-identical output.
assert_eq "$(validate < "$WORK/in.ndjson" 2>/dev/null | md5sum)" "$(validate < "$WORK/in.ndjson" 2>/dev/null | md5sum)" "deterministic"
# A closed output ends quietly with 0.
assert_eq "$(run_status bash -c "yes '{\"email\":\"a@b.fr\"}' | head -n 200000 | validate 2>/dev/null | head -n 1 >/dev/null")" 0 "closed stdout"
# --threads: the same records, rejects and counts as one thread, in input order.
threads_agree validate
trickle "validate --threads 3" "validate --threads 3" - '{"email":"%s"}' a1@firm.fr b2@firm.fr c3@firm.fr
done_ok

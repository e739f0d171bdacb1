#!/usr/bin/env bash
# Where a command's tenant comes from (--tenant, MAILPIPE_TENANT, the records, the state's only
# tenant — said in the summary), and an input with nothing usable in it: exit 1 with a hint
# saying what it looks like and which stage reads that.
source "$(dirname "$0")/lib.sh"
S="$REPO/samples"
unset MAILPIPE_TENANT

# 1. account commit takes the tenant from the records (ingest put it there), and says so.
account init --tenant sos-expat --config "$S/sos-expat/tenant.json" 2>/dev/null
ingest --tenant sos-expat "$S/import/contacts.csv" 2>/dev/null | account commit 2> "$WORK/err" > /dev/null
assert_contains "$(cat "$WORK/err")" "tenant sos-expat taken from the records" "commit: tenant from the records, said in the summary"
n=$(account export --tenant sos-expat 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || fail "commit from the records' tenant stored nothing"
# --stats carries it as a member.
ingest --tenant sos-expat "$S/import/contacts.csv" 2>/dev/null > "$WORK/c.ndjson"
account commit --stats "$WORK/st.json" "$WORK/c.ndjson"
assert_eq "$(jq -r .tenant_from "$WORK/st.json")" "records" "--stats: tenant_from"

# Records of two tenants: the first one's tenant is taken, the other's are rejected, not stored.
account init --tenant ulixai --config "$S/ulixai/tenant.json" 2>/dev/null
status=$(run_status account commit --stats "$WORK/st2.json" --rejects "$WORK/rej" "$S/contacts.ndjson")
assert_eq "$status" "0" "mixed tenants: exit 0 (rejects allowed)"
assert_eq "$(jq -r '.reject_reasons.tenant_mismatch' "$WORK/st2.json")" "3" "the other tenant's records are rejected"
assert_eq "$(jq -r .record.tenant "$WORK/rej" | sort -u)" "ulixai" "rejects are the ulixai records"

# 2. MAILPIPE_TENANT when no flag; --tenant wins over it.
out=$(MAILPIPE_TENANT=ulixai account export 2>/dev/null | jq -r .tenant | sort -u)
assert_eq "$out" "" "ulixai has no contacts yet (export from MAILPIPE_TENANT)"
assert_eq "$(MAILPIPE_TENANT=ulixai account export --tenant sos-expat 2>/dev/null | wc -l)" "$(account export --tenant sos-expat 2>/dev/null | wc -l)" "--tenant wins over MAILPIPE_TENANT"
# Stdin read ahead for the tenant is read again whole: every record arrives.
assert_eq "$(jq -c 'select(.tenant=="ulixai")' "$S/contacts.ndjson" | account commit --stats "$WORK/st3.json" && jq -r '.in' "$WORK/st3.json")" "3" "commit from stdin: all records read after the look-ahead"

# 3. No tenant anywhere: a state with two tenants is a usage error naming them.
status=$(run_capture account report); cp "$WORK/stderr" "$WORK/err"
assert_eq "$status" "2" "no tenant: exit 2"
assert_contains "$(cat "$WORK/err")" "holds sos-expat, ulixai" "the error names the state's tenants"
# A state with one tenant: that one, said on the summary line.
export MAILPIPE_STATE="$WORK/one"
account init --tenant books-demo --config "$S/account/tenant.json" 2>/dev/null
account events --pmta "$S/pmta/acct-2026-11-23.csv" 2> "$WORK/err"
assert_contains "$(cat "$WORK/err")" "tenant books-demo, the state folder's only one" "events --pmta: the only tenant"
account warmup > /dev/null
export MAILPIPE_STATE="$WORK/state"

# 4. validate takes --tenant (records of another are rejected) and --now.
validate --tenant sos-expat --now 2026-11-23T09:00:00Z --stats "$WORK/v.json" "$S/contacts.ndjson" > /dev/null 2>&1
assert_eq "$(jq -r '.reject_reasons.tenant_mismatch' "$WORK/v.json")" "3" "validate --tenant rejects other tenants' records"
# --only is the hidden old name of --verdict.
assert_eq "$(validate --only valid "$S/contacts.ndjson" 2>/dev/null | wc -l)" "$(validate --verdict valid "$S/contacts.ndjson" 2>/dev/null | wc -l)" "--only still works"
case "$(validate --help)" in *"--only"*) fail "--only is shown in validate --help";; esac

# 5. Nothing usable: exit 1 and a hint.
status=$(run_capture validate "$S/import/contacts.csv"); cp "$WORK/stderr" "$WORK/err"
assert_eq "$status" "1" "validate on a CSV: exit 1"
assert_contains "$(cat "$WORK/err")" "nothing usable in the input" "says nothing was usable"
assert_contains "$(cat "$WORK/err")" "this looks like CSV" "says it looks like CSV"
assert_contains "$(cat "$WORK/err")" "use ingest" "says which stage reads it"
status=$(run_capture validate < "$S/account/mailwizz-webhooks.json"); cp "$WORK/stderr" "$WORK/err"
assert_eq "$status" "1" "validate on a JSON document: exit 1"
assert_contains "$(cat "$WORK/err")" "one JSON document" "says it is one JSON document"
status=$(run_capture account events --tenant sos-expat --pmta "$S/account/outcomes.ndjson"); cp "$WORK/stderr" "$WORK/err"
assert_eq "$status" "1" "account events --pmta on NDJSON: exit 1"
assert_contains "$(cat "$WORK/err")" "this looks like NDJSON" "says it is NDJSON"
status=$(run_capture tag "$S/pmta/acct-2026-11-23.csv"); cp "$WORK/stderr" "$WORK/err"
assert_eq "$status" "1" "tag on a PowerMTA file: exit 1"
assert_contains "$(cat "$WORK/err")" "use account events --pmta" "points to account events --pmta"
# Not an error: an empty input, or some usable records among bad lines.
assert_eq "$(run_capture validate < /dev/null)" "0" "an empty input is no error"
status=$(run_capture validate "$S/contacts.ndjson" "$S/import/contacts.csv")
assert_eq "$status" "0" "some records usable: exit 0 with rejects"
done_ok

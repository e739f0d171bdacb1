# The core's contract through real pipes: init, commit, export, rejects, exit codes, `| head -1`.
. "$(dirname "$0")/lib.sh"
gen="python3 $REPO/Tests/Shell/gen_contacts.py"

# Path tricks and bad slugs are refused with exit 2.
for bad in ../etc "a/b" "" "UPPER" "-lead"; do
  assert_eq "$(run_status account init --tenant="$bad" 2>/dev/null)" 2 "slug '$bad' refused"
done
assert_eq "$(run_status account commit --tenant nobody </dev/null 2>/dev/null)" 2 "uninitialised tenant is a usage error"

account init --tenant sos-expat 2>/dev/null
account init --tenant ulixai 2>/dev/null
assert_eq "$(stat -c %a "$MAILPIPE_STATE/sos-expat")" 700 "tenant folder is 0700"
assert_eq "$(stat -c %a "$MAILPIPE_STATE/sos-expat/tenant.json")" 600 "tenant.json is 0600"

# Commit: new, rejects with line numbers, summary line.
$gen 3 > "$WORK/a.ndjson"
{ head -1 "$WORK/a.ndjson"; echo 'not json'; printf '{"email":"x@y.z","tenant":"ulixai"}\n'; echo; printf '\xff\xfe\n'; tail -2 "$WORK/a.ndjson"; } > "$WORK/mixed.ndjson"
status=$(run_status account commit --tenant sos-expat --now 2026-11-23T10:00:00Z --rejects "$WORK/rej.ndjson" "$WORK/mixed.ndjson" 2>"$WORK/err")
assert_eq "$status" 0 "rejects alone do not fail a commit"
assert_contains "$(cat "$WORK/err")" "account commit: 6 in, 3 new, 0 updated, 0 unchanged, 3 rejected" "summary line"
assert_eq "$(jq -c '[.line,.reason]' "$WORK/rej.ndjson" | tr -d '\n')" '[2,"invalid_json"][3,"tenant_mismatch"][5,"invalid_utf8"]' "rejects carry line numbers"
assert_eq "$(account export --tenant sos-expat 2>/dev/null | wc -l)" 3 "three contacts stored"
assert_eq "$(account export --tenant ulixai 2>/dev/null | wc -l)" 0 "the other tenant is untouched"

# --strict: rejects → exit 3 and nothing written.
before=$(account export --tenant sos-expat | sha256sum)
$gen 2 100 > "$WORK/b.ndjson"; echo '{"no_email":1}' >> "$WORK/b.ndjson"
assert_eq "$(run_status account commit --tenant sos-expat --strict "$WORK/b.ndjson" 2>/dev/null)" 3 "strict exits 3"
assert_eq "$(account export --tenant sos-expat | sha256sum)" "$before" "strict commit with rejects wrote nothing"

# Same input twice: second run changes nothing. gzip input is read transparently.
$gen 2000 > "$WORK/c.ndjson"; gzip -k "$WORK/c.ndjson"
account commit --tenant sos-expat --now 2026-11-23T11:00:00Z "$WORK/c.ndjson.gz" 2>/dev/null
assert_contains "$(account commit --tenant sos-expat --now 2026-11-23T12:00:00Z < "$WORK/c.ndjson" 2>&1)" "2000 in, 0 new, 0 updated, 2000 unchanged" "re-commit is unchanged"

# Updates merge: tags unioned, created_at kept, updated_at set; numbers untouched.
$gen 1 5 sos-expat 7 | account commit --tenant sos-expat --now 2026-11-24T09:00:00Z 2>/dev/null
rec=$(account export --tenant sos-expat | grep contact0000005@)
assert_eq "$(echo "$rec" | jq -c .tags)" '["tag0","lang-ru","v7"]' "tags unioned"
assert_eq "$(echo "$rec" | jq -r .created_at)" 2026-11-23T11:00:00Z "created_at kept"
assert_eq "$(echo "$rec" | jq -r .updated_at)" 2026-11-24T09:00:00Z "updated_at set"
assert_contains "$rec" '"big":12345678901234567890' "long integers are not rounded"

# Export is sorted by email, each contact once, and zcat reads every store file.
assert_eq "$(account export --tenant sos-expat | jq -r .email | sort -c && echo sorted)" sorted "export in email order"
assert_eq "$(account export --tenant sos-expat | jq -r .email | sort | uniq -d | wc -l)" 0 "each contact once"
for f in "$MAILPIPE_STATE"/sos-expat/contacts/*.gz; do zcat "$f" >/dev/null || fail "zcat $f"; done
assert_eq "$(find "$MAILPIPE_STATE/sos-expat" -type f ! -perm 600 | wc -l)" 0 "state files are 0600"

# A closed stdout ends the stage quietly with 0.
$gen 50000 5000 > "$WORK/big.ndjson"
account commit --tenant sos-expat "$WORK/big.ndjson" 2>/dev/null
set +o pipefail
out=$(account export --tenant sos-expat 2>"$WORK/head-err" | head -1)
st=${PIPESTATUS[0]}
set -o pipefail
assert_eq "$st" 0 "export | head -1 exits 0"
assert_eq "$(cat "$WORK/head-err")" "" "nothing on stderr when the reader leaves"
assert_contains "$out" '"email":"contact0000000@' "first line arrived"

# Over-long lines are rejected with their line number, not loaded.
{ echo '{"email":"a@b.cd"}'; printf '{"email":"long@b.cd","x":"%s"}\n' "$(head -c 5000 /dev/zero | tr '\0' x)"; } \
  | account commit --tenant ulixai --max-line 1000 --rejects "$WORK/rej2" 2>/dev/null
assert_eq "$(jq -c '[.line,.reason]' "$WORK/rej2")" '[2,"line_too_long"]' "long line rejected"

# --help carries an example; --version answers.
assert_contains "$(account commit --help)" "Example" "help has an example"
assert_contains "$(account --version)" "0." "version"
done_ok

#!/usr/bin/env bash
# ingest | dedupe | account commit with the real binaries: run twice over the same file (the
# second run finds nothing new), repeats across two files, cross-tenant refusal, exit codes.
source "$(dirname "$0")/lib.sh"
samples="$REPO/samples/import"
NOW=2026-11-23T09:00:00Z

account init --tenant sos-expat 2>/dev/null
account init --tenant ulixai 2>/dev/null

# 1. The sample CSV twice through the whole import pipeline.
for run in 1 2; do
  ingest --tenant sos-expat --source csv-2026-11 --now $NOW --rejects "$WORK/ingest-rejects-$run" --stats "$WORK/ingest-$run.json" \
      "$samples/contacts.csv" \
    | dedupe --rejects "$WORK/dedupe-rejects-$run" --stats "$WORK/dedupe-$run.json" \
    | account commit --tenant sos-expat --now $NOW 2>"$WORK/commit-$run.txt"
done
assert_eq "$(jq -r .new "$WORK/dedupe-1.json")" 10 "first run: new contacts"
assert_eq "$(jq -r .repeats "$WORK/dedupe-1.json")" 1 "first run: the repeated Jean Dupont"
assert_eq "$(jq -r .new "$WORK/dedupe-2.json")" 0 "second run: nothing new"
assert_eq "$(jq -r .existing "$WORK/dedupe-2.json")" 10 "second run: all existing"
assert_contains "$(cat "$WORK/commit-2.txt")" "0 new" "second commit inserts nothing"
assert_eq "$(account export --tenant sos-expat 2>/dev/null | wc -l | tr -d ' ')" 10 "store holds each contact once"
assert_eq "$(jq -r '.reject_reasons | [.invalid_email, .missing_email, .ragged_row] | join(",")' "$WORK/ingest-1.json")" "1,1,1" "ingest reject reasons"
assert_eq "$(jq -r 'select(.reason=="ragged_row") | .line' "$WORK/ingest-rejects-1")" 15 "ragged row line (after a two-line field)"
assert_eq "$(jq -r 'select(.reason=="duplicate") | .first_line' "$WORK/dedupe-rejects-1")" 1 "duplicate points at the first occurrence"
stored=$(account export --tenant sos-expat 2>/dev/null | jq -c 'select(.email=="maria.garcia@despacho-garcia.es") | [.language,.country,.website,.phone]')
assert_eq "$stored" '["es","ES","https://www.despacho-garcia.es/contacto","+34911234567"]' "normalised fields reach the store"

# 2. Repeats across two files: the NDJSON repeats Emily (already stored) and Carlos (within itself).
ingest --tenant sos-expat --now $NOW "$samples/more-contacts.ndjson" "$samples/envelope.json" --rejects "$WORK/r3" 2>/dev/null \
  | dedupe --keep-repeats --stats "$WORK/dedupe-3.json" > "$WORK/three.ndjson"
assert_eq "$(jq -r '[.new,.existing,.repeats] | join(",")' "$WORK/dedupe-3.json")" "4,1,1" "new, existing, repeats across files"
assert_eq "$(jq -r 'select(.email=="carlos.lopez@example.mx") | .dedupe' "$WORK/three.ndjson" | tr '\n' ' ')" "new existing " "a kept repeat is marked existing"
account commit --tenant sos-expat --now $NOW "$WORK/three.ndjson" 2>/dev/null
assert_eq "$(account export --tenant sos-expat 2>/dev/null | jq -r 'select(.email=="carlos.lopez@example.mx") | .company')" "López Abogados" "the repeat's extra field is merged"
cat "$WORK/three.ndjson" "$WORK/three.ndjson" | dedupe --tenant sos-expat --rejects "$WORK/r4" --stats "$WORK/d4.json" > /dev/null
assert_eq "$(jq -r .repeats "$WORK/d4.json")" 7 "a stream read twice: every second copy is a repeat"

# 3. Cross-tenant refusal, at ingest (envelope of another tenant) and at dedupe.
ingest --tenant ulixai --now $NOW "$samples/envelope.json" --rejects "$WORK/r5" --stats "$WORK/i5.json" > /dev/null
assert_eq "$(jq -r .out "$WORK/i5.json")" 0 "an envelope of sos-expat is refused by --tenant ulixai"
assert_eq "$(jq -r .reason "$WORK/r5" | sort -u)" "tenant_mismatch" "reason tenant_mismatch"
ingest --tenant sos-expat --now $NOW "$samples/contacts.csv" 2>/dev/null | dedupe --tenant ulixai --rejects "$WORK/r6" --stats "$WORK/d6.json" > "$WORK/six"
assert_eq "$(wc -l < "$WORK/six" | tr -d ' ')" 0 "dedupe refuses another tenant's records"
assert_eq "$(jq -r .rejected "$WORK/d6.json")" 11 "each refused record is a reject"

# 4. Exit codes: --strict with rejects is 3, bad usage is 2, a closed pipe is 0.
quiet() { "$@" >/dev/null 2>&1 </dev/null; }
assert_eq "$(run_status quiet ingest --tenant sos-expat --strict "$samples/contacts.csv")" 3 "--strict with rejects"
assert_eq "$(run_status quiet ingest --tenant sos-expat --format xml "$samples/contacts.csv")" 2 "bad format"
assert_eq "$(run_status quiet dedupe --tenant 'Bad/Slug')" 2 "bad tenant slug"
assert_eq "$(run_status quiet ingest "$samples/contacts.csv")" 2 "CSV without --tenant"
set +o pipefail
first=$(ingest --tenant sos-expat --rejects /dev/null --stats /dev/null "$samples/contacts.csv" | head -n 1 | jq -r .email)
set -o pipefail
assert_eq "$first" "jean.dupont@cabinet-dupont.fr" "head closes the pipe quietly"

# 5. Same input, flags, state and --now: byte-identical output.
a=$(ingest --tenant sos-expat --now $NOW "$samples/contacts.csv" 2>/dev/null | dedupe 2>/dev/null | sha256sum)
b=$(ingest --tenant sos-expat --now $NOW "$samples/contacts.csv" 2>/dev/null | dedupe 2>/dev/null | sha256sum)
assert_eq "$a" "$b" "deterministic output"

# 6. Latin-1 export and gzip input.
printf 'Courriel;Pr\xe9nom\nrene@x.fr;Ren\xe9\n' > "$WORK/excel.csv"
assert_eq "$(ingest --tenant sos-expat --encoding latin1 "$WORK/excel.csv" 2>/dev/null | jq -r .first_name)" "René" "latin1"
gzip -c "$samples/contacts.csv" > "$WORK/contacts.csv.gz"
assert_eq "$(ingest --tenant sos-expat "$WORK/contacts.csv.gz" 2>/dev/null | wc -l | tr -d ' ')" 11 "gzip input"
# N. Threads: a CSV of 6,000 rows with bad rows scattered through it (ragged, binary, bad UTF-8,
#    no email, a field over --max-field, a quoted field over several lines, a line over
#    --max-line) gives the same output, rejects (in line order) and counts on 1 and 3 threads.
python3 - "$WORK/big.csv" <<'PY'
import sys, random
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    f.write(b"email,first_name,notes,tags\n")
    for i in range(6000):
        k = r.random()
        if k < 0.01: f.write(b"ragged%d@example.org,Ann\n" % i)
        elif k < 0.02: f.write(b"bin%d@example.org,Bo\x01b,x,t\n" % i)
        elif k < 0.03: f.write(b"utf%d@example.org,\xff\xfe,x,t\n" % i)
        elif k < 0.04: f.write(b",NoMail,x,t\n")
        elif k < 0.05: f.write(b"long%d@example.org,L,%s,t\n" % (i, b"y" * 300))
        elif k < 0.07: f.write(b'multi%d@example.org,M,"line one\nline two, with comma",a|b\n' % i)
        elif i in (1500, 4000): f.write(b"huge%d@example.org,H,%s,t\n" % (i, b"z" * 5000))
        else: f.write("c%d@example.org,Zoé%d,n,Tag %d\n".format().encode() % (i, i, i % 7))
PY
# on_threads PREFIX INPUT ARGS...: ingest on 1 and 3 threads into PREFIX-N.out, .rej and .json.
on_threads() {
  local p=$1 input=$2 t
  shift 2
  for t in 1 3; do
    set +e
    ingest --tenant sos-expat --now $NOW --threads $t "$@" --rejects "$p-$t.rej" --stats "$p-$t.json" "$input" > "$p-$t.out"
    set -e
  done
}
# (--encoding utf-8: rows that are not UTF-8 are rejected, not read as Windows-1252.)
on_threads "$WORK/thr" "$WORK/big.csv" --max-field 200 --max-line 4096 --encoding utf-8
# threads_agree LABEL PREFIX: the runs on 1 and 3 threads (PREFIX-N.out/.rej/.json) agree.
threads_agree() {
  local label=$1 p=$2
  assert_eq "$(cmp "$p-1.out" "$p-3.out" && cmp "$p-1.rej" "$p-3.rej" && echo same)" same "$label: same output and rejects"
  assert_eq "$(jq -c 'del(.elapsed_s)' "$p-3.json")" "$(jq -c 'del(.elapsed_s)' "$p-1.json")" "$label: same summary"
  assert_eq "$(jq -r .line "$p-3.rej" | sort -n -c && echo sorted)" sorted "$label: rejects in line order"
}
threads_agree threads "$WORK/thr"
assert_eq "$(( $(wc -l < "$WORK/thr-3.out") + $(wc -l < "$WORK/thr-3.rej") ))" 6000 "threads: every row is a contact or a reject"
assert_eq "$(jq -r '.reject_reasons | keys | join(",")' "$WORK/thr-3.json")" "binary_data,field_too_long,invalid_utf8,line_too_long,missing_email,ragged_row" "threads: every reason met"

# The same for NDJSON (converted on every core too): 12,000 lines, over one batch, with broken
# JSON, non-objects, records without an email, an envelope line, a line over --max-line, blank
# lines and a record of another tenant scattered through them.
python3 - "$WORK/big.ndjson" <<'PY'
import sys, random, json
r = random.Random(11)
with open(sys.argv[1], "w") as f:
    for i in range(12000):
        k = r.random()
        if k < 0.01: f.write('{"email": "broken%d@example.org",\n' % i)
        elif k < 0.02: f.write('[1,2,3]\n')
        elif k < 0.03: f.write('{"first_name":"NoMail%d"}\n' % i)
        elif k < 0.035: f.write('{"tenant":"ulixai","email":"other%d@example.org"}\n' % i)
        elif k < 0.04: f.write('\n')
        elif k < 0.045: f.write(json.dumps({"tenant_id": "sos-expat", "data_source_id": "hook", "contacts": [{"email": "e%d-a@example.org" % i}, {"Courriel": "e%d-b@example.org" % i}]}) + "\n")
        elif i in (3000, 9000): f.write(json.dumps({"email": "huge%d@example.org" % i, "notes": "z" * 5000}) + "\n")
        else: f.write(json.dumps({"E-mail": "N%d@Example.org" % i, "Prénom": "Zoé %d" % i, "tags": "a|B %d" % (i % 5), "extra": i}, ensure_ascii=False) + "\n")
PY
on_threads "$WORK/nd" "$WORK/big.ndjson" --max-line 4096
threads_agree "ndjson threads" "$WORK/nd"
blank=$(grep -c '^$' "$WORK/big.ndjson")
envelopes=$(grep -c '"contacts"' "$WORK/big.ndjson")
# Each envelope line holds two contacts: one row more than its line.
assert_eq "$(( $(wc -l < "$WORK/nd-3.out") + $(wc -l < "$WORK/nd-3.rej") + blank - envelopes ))" 12000 "ndjson threads: every line is a contact, a reject or a blank"
assert_eq "$(jq -r '.reject_reasons | keys | join(",")' "$WORK/nd-3.json")" "invalid_json,line_too_long,missing_email,not_an_object,tenant_mismatch" "ndjson threads: every reason met"
assert_eq "$(grep -m1 '"email":"n5@example.org"' "$WORK/nd-3.out" | jq -c '[.first_name, .tags, .custom.extra]')" '["Zoé 5",["a","b-0"],5]' "ndjson threads: keys mapped, values normalised"

# And for a whole JSON document: an envelope whose pretty-printed array holds 12,000 elements,
# among them non-objects, records without an email, another tenant's and one over --max-line.
python3 - "$WORK/big.json" <<'PY'
import sys, random, json
r = random.Random(5)
contacts = []
for i in range(12000):
    k = r.random()
    if k < 0.01: contacts.append([1, 2])
    elif k < 0.02: contacts.append({"first_name": "NoMail%d" % i})
    elif k < 0.025: contacts.append({"tenant": "ulixai", "email": "other%d@example.org" % i})
    elif i == 6000: contacts.append({"email": "huge@example.org", "notes": "z" * 5000})
    else: contacts.append({"Email Address": "J%d@Example.org" % i, "Vorname": "Jörg %d" % i, "tags": ["x", "Y %d" % (i % 3)]})
with open(sys.argv[1], "w") as f:
    json.dump({"tenant_id": "sos-expat", "data_source_id": "crm", "contacts": contacts}, f, indent=1, ensure_ascii=False)
PY
on_threads "$WORK/js" "$WORK/big.json" --max-line 4096
threads_agree "json threads" "$WORK/js"
assert_eq "$(( $(wc -l < "$WORK/js-3.out") + $(wc -l < "$WORK/js-3.rej") ))" 12000 "json threads: every element is a contact or a reject"
assert_eq "$(jq -r '.reject_reasons | keys | join(",")' "$WORK/js-3.json")" "line_too_long,missing_email,not_an_object,tenant_mismatch" "json threads: every reason met"
assert_eq "$(jq -r 'select(.email == "j7@example.org") | [.first_name, .source, (.tags | join(" "))] | join("|")' "$WORK/js-3.out")" "Jörg 7|crm|x y-1" \
  "json threads: keys mapped, envelope source kept"
# A structural fault ends the document: the elements before it come out, then its reject.
printf '[{"email":"a@x.org"},\n{"email":"b@x.org"} {"email":"c@x.org"}]\n' > "$WORK/fault.json"
set +e; ingest --tenant sos-expat --now $NOW --threads 3 --rejects "$WORK/fault.rej" "$WORK/fault.json" > "$WORK/fault.out"; set -e
assert_eq "$(jq -r .email "$WORK/fault.out" | tr '\n' ' ')" "a@x.org b@x.org " "json fault: elements before it kept"
assert_eq "$(jq -r '[.reason, .line] | join(" ")' "$WORK/fault.rej")" "invalid_json 2" "json fault: rejected with its line"

# Values that need JSON escaping (quote, backslash, tab) beside rows that need none: each row is
# judged on its own, so the plain rows' fast path never skips an escape.
out=$(printf 'email,first_name,company\na@b.org,"Jo ""J"" Doe",back\\slash\nc@d.org,Tab\there,x\ne@f.org,Plain,Co\n' \
  | ingest --tenant sos-expat --now $NOW 2>/dev/null)
assert_eq "$(echo "$out" | jq -r '.first_name + "|" + .company' | tr '\n' ';')" "Jo \"J\" Doe|back\\slash;Tab	here|x;Plain|Co;" \
  "escaped values come back from JSON as written"

# A trickling pipe (trickle: lib.sh).
for threads in 1 3; do
  trickle "dedupe --threads $threads" "dedupe --tenant sos-expat --threads $threads" - '{"email":"%s"}' \
    trickle1@example.org trickle2@example.org trickle3@example.org
done
trickle "ingest csv" "ingest --tenant sos-expat --format csv --now $NOW" "email,first_name" '%s,Row' \
  row1@example.org row2@example.org
trickle "ingest ndjson" "ingest --tenant sos-expat --format ndjson --now $NOW" - '{"email":"%s"}' \
  nd1@example.org nd2@example.org

done_ok

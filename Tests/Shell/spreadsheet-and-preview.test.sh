#!/usr/bin/env bash
# CSV for spreadsheets (account export --csv, segment --csv: fixed columns, RFC 4180 quoting,
# CRLF, --delimiter ';', --bom) read back by Python's csv module as Excel would read it; and
# render --preview's --html page and --eml message, the latter parsed by Python's email package
# as a mail client would.
source "$(dirname "$0")/lib.sh"
S="$REPO/samples"
T=sos-expat
account init --tenant $T --config "$S/sos-expat/tenant.json" 2>/dev/null
jq -c 'select(.tenant == "sos-expat")' "$S/contacts.ndjson" | account commit 2>/dev/null
# A contact whose values need quoting: delimiter, quote, newline, leading space, CJK.
echo '{"tenant":"sos-expat","email":"zz@example.cn","first_name":" Li","last_name":"王","company":"Wang; \"Partners\", Ltd\nBeijing","tags":["avocat","移民"],"custom":{"plan":"gold"},"validation":{"verdict":"valid","score":97}}' \
  | account commit --tenant $T 2>/dev/null
n=$(account export --tenant $T 2>/dev/null | wc -l)

account export --tenant $T --csv > "$WORK/plain.csv" 2>/dev/null
account export --tenant $T --csv --delimiter ';' --bom > "$WORK/excel.csv" 2>/dev/null
python3 - "$WORK/plain.csv" "$WORK/excel.csv" "$n" <<'PY'
import csv, io, sys
plain, excel, n = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read(), int(sys.argv[3])
assert not plain.startswith(b'\xef\xbb\xbf'), "no BOM unless asked"
assert excel.startswith(b'\xef\xbb\xbf'), "--bom starts with the UTF-8 byte order mark"
assert plain.count(b'\r\n') >= n + 1, "CRLF line ends"
for data, delimiter in ((plain, ','), (excel, ';')):
    rows = list(csv.reader(io.StringIO(data.decode('utf-8-sig'), newline=''), delimiter=delimiter))
    header, body = rows[0], rows[1:]
    assert header[:4] == ['email', 'first_name', 'last_name', 'company'], header
    assert len(body) == n, (len(body), n)
    assert all(len(r) == len(header) for r in body), "every row has every column"
    row = dict(zip(header, next(r for r in body if r[0] == 'zz@example.cn')))
    assert row['first_name'] == ' Li' and row['last_name'] == '王', row
    assert row['company'] == 'Wang; "Partners", Ltd\nBeijing', row['company']
    assert row['tags'] == 'avocat, 移民' and row['verdict'] == 'valid' and row['score'] == '97', row
    assert row['custom'] == '{"plan":"gold"}', row['custom']
print("csv ok")
PY
checks=$((checks + 1))
# segment --csv: the same columns, only the audience.
segment --tenant $T --all avocat --csv > "$WORK/seg.csv" 2>/dev/null
rows=$(python3 -c 'import csv, sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))) - 1)' "$WORK/seg.csv")
assert_eq "$rows" "$(segment --tenant $T --all avocat 2>/dev/null | wc -l)" "segment --csv: one row per contact"
assert_eq "$(head -c 6 "$WORK/seg.csv")" "email," "segment --csv: the header"
assert_eq "$(run_capture segment --tenant $T --count --csv)" "2" "--csv with --count is refused"
assert_eq "$(run_capture account export --tenant $T --bom)" "2" "--bom without --csv is refused"
# A reader that stops early: quiet exit 0.
assert_eq "$(set +o pipefail; account export --tenant $T --csv 2>/dev/null | head -1 >/dev/null; echo "${PIPESTATUS[0]}")" "0" "--csv | head: exit 0"

# render --preview: --html writes the page, --eml a message a mail client opens.
export SOS_EXPAT_UNSUB_SECRET=test-secret
render --tenant $T --campaign welcome-nov --templates "$S/templates" --now 2026-11-23T09:00:00Z \
  --preview claire.martin@cabinet-martin-avocats.fr --html "$WORK/p.html" --eml "$WORK/p.eml" > "$WORK/preview.txt"
assert_contains "$(cat "$WORK/preview.txt")" "Subject:" "the text preview is still printed"
python3 - "$WORK/p.eml" "$WORK/p.html" <<'PY'
import email, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
assert msg['To'] == 'claire.martin@cabinet-martin-avocats.fr', msg['To']
assert msg['Subject'] and msg['From'] and msg['Message-ID'] and msg['Date'], dict(msg)
assert msg['List-Unsubscribe'], "the unsubscribe headers are in the message"
assert msg.get_content_type() == 'multipart/alternative', msg.get_content_type()
html = msg.get_body(preferencelist=('html',)).get_content()
text = msg.get_body(preferencelist=('plain',)).get_content()
assert text.strip(), "a text part"
page = open(sys.argv[2], encoding='utf-8').read()
assert html.strip() == page.strip(), "the .html file is the message's HTML part"
assert '<html' in page and 'Martin' in page, page[:200]
assert all(len(l) <= 998 for l in open(sys.argv[1], 'rb').read().split(b'\r\n')), "line lengths"
print("eml ok")
PY
checks=$((checks + 1))
assert_eq "$(run_capture render --campaign welcome-nov --templates "$S/templates" --html x.html < /dev/null)" "2" "--html without --preview is refused"
done_ok

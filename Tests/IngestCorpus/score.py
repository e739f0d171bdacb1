#!/usr/bin/env python3
"""Scores ingest's output on the corpus against the expected records (written from the tools'
documentation, see README.md). Every address must be found, as a contact of its own file and
no other; fields are compared one by one (a field expected as null must be absent).

    score.py EXPECTED.ndjson OUTDIR   (OUTDIR/<layout>.ndjson: ingest's output for each layout)
Prints a line per wrong field and `addresses A/B, fields F/G (P %)`; exits 1 when an address
is missing or an extra contact appears.
"""
import json, os, sys

expected = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
outdir = sys.argv[2]
got = {}
extra = 0
for name in sorted({e["file"] for e in expected}):
    records = [json.loads(l) for l in open(os.path.join(outdir, name + ".ndjson"), encoding="utf-8") if l.strip()]
    wanted = {e["email"] for e in expected if e["file"] == name}
    for r in records:
        if r["email"] not in wanted:
            print(f"EXTRA {name}: a contact that should not be one: {r['email']}")
            extra += 1
        got[(name, r["email"])] = r

def actual(record, field):
    if field in ("other_emails", "other_phones"):
        return record.get("custom", {}).get(field)
    return record.get(field)

found = fields = right = 0
for e in expected:
    r = got.get((e["file"], e["email"]))
    if r is None:
        print(f"MISSING {e['file']}: {e['email']}")
        continue
    found += 1
    for field, want in e.items():
        if field in ("file", "email"):
            continue
        fields += 1
        have = actual(r, field)
        if field == "tags" and have is not None and want is not None:
            have, want = sorted(have), sorted(want)
        if have == want:
            right += 1
        else:
            print(f"WRONG {e['file']}: {e['email']} {field}: expected {json.dumps(want, ensure_ascii=False)}, got {json.dumps(have, ensure_ascii=False)}")
percent = 100.0 * right / fields if fields else 0.0
print(f"addresses {found}/{len(expected)}, fields {right}/{fields} ({percent:.1f} %)")
sys.exit(0 if found == len(expected) and extra == 0 else 1)

#!/usr/bin/env python3
"""Deterministic contact records for shell tests: gen_contacts.py COUNT [START] [TENANT] [VARIANT].

VARIANT changes some fields so a second file updates contacts the first one created."""
import json, sys

count = int(sys.argv[1])
start = int(sys.argv[2]) if len(sys.argv) > 2 else 0
tenant = sys.argv[3] if len(sys.argv) > 3 else "sos-expat"
variant = int(sys.argv[4]) if len(sys.argv) > 4 else 0
langs = ["fr", "en", "es", "de", "pt", "ru", "zh", "hi", "ar"]
names = ["Émilie", "John", "José", "Jürgen", "João", "Иван", "王伟", "अमित", "محمد"]
for i in range(start, start + count):
    lang = langs[i % 9]
    rec = {
        "tenant": tenant,
        "email": f"contact{i:07d}@example{i % 97}.fr",
        "first_name": names[i % 9],
        "language": lang,
        "tags": [f"tag{i % 5}", f"lang-{lang}"] + ([f"v{variant}"] if variant else []),
        "phone": f"+336{i:08d}",
        "custom": {"score": i % 100, "big": 12345678901234567890},
    }
    if variant:
        rec["city"] = f"City {variant}"
    print(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))

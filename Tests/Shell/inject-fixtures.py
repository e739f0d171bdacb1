#!/usr/bin/env python3
"""Fixtures for the inject tests and benches (render's message records, docs/design.md §2).

    inject-fixtures.py messages N [--tenant T] [--campaign C] [--size BYTES]
    inject-fixtures.py contacts N [--tenant T] [--suppressed K]
"""
import json, sys, argparse

SUBJECTS = ["Bonjour {n} — offre spéciale ✓", "Привет, {n}!", "你好 {n}，欢迎", "مرحبا {n}",
            "Hello {n}", "Ünïcödé {n} " + "ä" * 40]

def messages(a):
    for i in range(a.n):
        name = f"Zoé{i}"
        subj = SUBJECTS[i % len(SUBJECTS)].format(n=name)
        text = f"Bonjour {name},\nCeci est un message de test n°{i}.\n.\nUne ligne qui commence par un point ci-dessus.\n"
        html = f"<html><body><p>Bonjour <b>{name}</b>,</p><p>Message n°{i} — “quotes” &amp; 日本語</p></body></html>"
        if a.size:
            pad = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
            text += (pad * (a.size // len(pad) // 2 + 1))[: a.size // 2]
            html += "<p>" + (pad * (a.size // len(pad) // 2 + 1))[: a.size // 2] + "</p>"
        rec = {"tenant": a.tenant, "email": f"user{i:06d}@example.test", "campaign": a.campaign,
               "template": "welcome", "language": "fr", "subject": subj, "html": html, "text": text,
               "headers": {"List-Unsubscribe": f"<mailto:unsub@example.test?subject=u{i}>",
                           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
               "from": "Équipe SOS <hello@sos-expat.test>", "reply_to": "support@sos-expat.test",
               "contact": {"first_name": name}}
        print(json.dumps(rec, ensure_ascii=False))

def contacts(a):
    for i in range(a.n):
        rec = {"tenant": a.tenant, "email": f"contact{i:07d}@example.test", "first_name": f"Zoé{i}",
               "last_name": f"Müller+{i}", "status": "validated", "tags": ["avocat"]}
        if i < a.suppressed:
            rec["status"] = "unsubscribed"
        print(json.dumps(rec, ensure_ascii=False))

p = argparse.ArgumentParser()
p.add_argument("kind", choices=["messages", "contacts"])
p.add_argument("n", type=int)
p.add_argument("--tenant", default="acme")
p.add_argument("--campaign", default="nov")
p.add_argument("--size", type=int, default=0)
p.add_argument("--suppressed", type=int, default=0)
a = p.parse_args()
(messages if a.kind == "messages" else contacts)(a)

#!/usr/bin/env python3
"""Minimal DNS client (standard library only) for checking the test resolver.

    dnsquery.py --port PORT [--server 127.0.0.1] [--timeout 2] NAME [TYPE]

Prints one JSON object: {"rcode": "NOERROR", "answers": [{"name", "type", "ttl", "data"}]}
("data" for MX is "PREF TARGET", the root being "."). On no reply it prints
{"rcode": null, "error": "timeout"} and exits 3. Exit 0 whenever a reply arrived.
"""
import argparse
import json
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            raw = label.encode("idna") if not label.isascii() else label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def read_name(msg, off):
    """Decode a possibly compressed name at off; return (name, offset after it)."""
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:  # compression pointer
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 64:
                raise ValueError("name compression loop")
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    return (".".join(labels) + "." if labels else "."), (end if end is not None else off)


def rdata_text(msg, rtype, off, rdlen):
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, msg[off:off + 4])
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, msg[off:off + 16])
    if rtype == 15:
        pref = struct.unpack("!H", msg[off:off + 2])[0]
        return f"{pref} {read_name(msg, off + 2)[0]}"
    if rtype in (2, 5):
        return read_name(msg, off)[0]
    if rtype == 16:
        parts, p = [], off
        while p < off + rdlen:
            ln = msg[p]
            parts.append(msg[p + 1:p + 1 + ln].decode("utf-8", "replace"))
            p += 1 + ln
        return " ".join(json.dumps(s) for s in parts)
    return msg[off:off + rdlen].hex()


def query(server, port, name, qtype, timeout):
    qid = random.randrange(65536)
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + encode_name(name) + \
        struct.pack("!HH", TYPES.get(qtype, 1) if not qtype.isdigit() else int(qtype), 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, port))
        while True:
            msg, _ = s.recvfrom(65535)
            if len(msg) >= 12 and struct.unpack("!H", msg[:2])[0] == qid:
                break
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        off = read_name(msg, off)[1] + 4
    answers = []
    for _ in range(an):
        rname, off = read_name(msg, off)
        rtype, _, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        answers.append({"name": rname, "type": TYPE_NAMES.get(rtype, str(rtype)), "ttl": ttl,
                        "data": rdata_text(msg, rtype, off, rdlen)})
        off += rdlen
    rcode = flags & 0xF
    return {"rcode": RCODES.get(rcode, str(rcode)), "answers": answers}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("name")
    ap.add_argument("type", nargs="?", default="A")
    a = ap.parse_args()
    try:
        result = query(a.server, a.port, a.name, a.type.upper(), a.timeout)
    except socket.timeout:
        print(json.dumps({"rcode": None, "error": "timeout"}))
        return 3
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

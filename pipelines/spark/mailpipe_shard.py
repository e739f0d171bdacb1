#!/usr/bin/env python3
"""The mailpipe shard hash in Python, identical to `EmailKey` in Sources/MailpipeCore:

    key   = the address's UTF-8 bytes, trimmed of space/tab/CR/LF, ASCII A-Z lower-cased
    hash  = FNV-1a 64 over key
    shard = hash % n

Used by the Spark job (pipelines/spark/mailpipe_job.py) and, as a command, by
pipelines/parallel-import.sh in development mode only (when `dedupe` is not built):

    python3 mailpipe_shard.py filter 1/4 < contacts.ndjson   # lines of shard 1 of 4
    python3 mailpipe_shard.py hash someone@example.org        # the 64-bit hash and key
"""
import json
import sys

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = 0xFFFFFFFFFFFFFFFF


def email_key(email):
    """The store's identity and sort key of an address, as bytes."""
    raw = email.encode("utf-8", "surrogatepass") if isinstance(email, str) else bytes(email)
    return raw.strip(b" \t\r\n").lower()  # bytes.lower() folds ASCII only, as EmailKey does


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def shard_of_key(key, n):
    return fnv1a64(key) % n


def line_key(line):
    """The key of an NDJSON contact line (str or bytes), or None when it has no string email."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    email = record.get("email") if isinstance(record, dict) else None
    return email_key(email) if isinstance(email, str) else None


def parse_shard(text):
    i, n = (int(x) for x in text.split("/"))
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"a shard is i/n with 0 <= i < n, got {text}")
    return i, n


def main(argv):
    if len(argv) == 3 and argv[1] == "filter":
        i, n = parse_shard(argv[2])
        out = sys.stdout.buffer
        for line in sys.stdin.buffer:
            key = line_key(line)
            # Lines without an email go to shard 0, where the next stage rejects them once.
            if (shard_of_key(key, n) if key is not None else 0) == i:
                out.write(line if line.endswith(b"\n") else line + b"\n")
        return 0
    if len(argv) == 3 and argv[1] == "hash":
        key = email_key(argv[2])
        print(fnv1a64(key), key.decode("utf-8", "surrogatepass"))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

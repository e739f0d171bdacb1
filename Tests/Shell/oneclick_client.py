#!/usr/bin/env python3
"""A client of `account serve`'s one-click unsubscribe (RFC 8058), for the tests and bench/.

Signs links the way `render` does — token = base64url(HMAC-SHA256(secret, tenant \\0 email \\0
campaign)), no padding — for addresses NAME-00000@DOMAIN…, and POSTs
`List-Unsubscribe=One-Click` to each over keep-alive connections from several threads.

    oneclick_client.py --base http://127.0.0.1:PORT/unsubscribe --tenant T --campaign C \\
        --count 2000 --secret-env VAR --out results.txt [--threads 16] [--retry-from prev.txt]

Each answer is a line `INDEX STATUS MILLISECONDS` in --out (written as it comes, so a test can
watch it); STATUS is 0 when the connection failed (server gone). --retry-from sends again every
index whose line there is not 200, plus the first --also-repeat ones that were 200.
--hold-at N --hold-file F: no request past the first N is sent before F exists (a test kills
the server meanwhile, sure that the burst is not over). Loopback only, bounded by --count. The secret is read from the environment, never from argv.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import os
import sys
import threading
import time
from urllib.parse import quote, urlsplit


def token(secret, tenant, email, campaign):
    mac = hmac.new(secret.encode(), f"{tenant}\0{email}\0{campaign}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def email_of(prefix, domain, i):
    return f"{prefix}-{i:05d}@{domain}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--campaign", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--prefix", default="oneclick")
    ap.add_argument("--domain", default="load.mailpipe.test")
    ap.add_argument("--secret-env", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--retry-from")
    ap.add_argument("--also-repeat", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--hold-at", type=int)
    ap.add_argument("--hold-file")
    args = ap.parse_args()
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        sys.exit(f"oneclick_client: {args.secret_env} is not set")
    parts = urlsplit(args.base)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("oneclick_client: loopback only")
    indexes = list(range(args.count))
    if args.retry_from:
        ok = set()
        with open(args.retry_from) as f:
            for line in f:
                i, status, _ = line.split()
                if status == "200":
                    ok.add(int(i))
        repeat = sorted(ok)[: args.also_repeat]
        indexes = [i for i in indexes if i not in ok] + repeat
    lock = threading.Lock()
    out = open(args.out, "w", buffering=1)
    next_index = [0]
    body = b"List-Unsubscribe=One-Click"

    def path_of(i):
        email = email_of(args.prefix, args.domain, i)
        q = (f"t={quote(args.tenant, safe='')}&c={quote(args.campaign, safe='')}&e={quote(email, safe='')}"
             f"&s={token(secret, args.tenant, email, args.campaign)}")
        return f"{parts.path}?{q}"

    def worker():
        conn = None
        while True:
            with lock:
                if next_index[0] >= len(indexes):
                    break
                position = next_index[0]
                i = indexes[position]
                next_index[0] += 1
            if args.hold_at is not None and position >= args.hold_at:
                while not os.path.exists(args.hold_file):
                    if not os.path.isdir(os.path.dirname(os.path.abspath(args.hold_file))):
                        return  # the test is gone (its folder removed): end, do not wait forever
                    time.sleep(0.01)
            start = time.monotonic()
            status = 0
            for attempt in range(2):  # a keep-alive connection the server closed: one reconnect
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=args.timeout)
                    conn.request("POST", path_of(i), body,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    break
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    status = 0
            ms = (time.monotonic() - start) * 1000
            with lock:
                out.write(f"{i} {status} {ms:.2f}\n")

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.threads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


if __name__ == "__main__":
    main()

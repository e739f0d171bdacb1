#!/usr/bin/env python3
"""strict_smtp.py --port-file F --log F [--port P] [--announce-pipelining] [--auth-file F] [--greeting REPLY] [--refuse ADDR]...

A tiny SMTP server on 127.0.0.1 that catches clients sending commands ahead of its replies.
It never accepts pipelining: after each command line it looks whether more bytes are already
waiting (its own buffer, then the socket); if so it logs "violation after <CMD>", answers
554 and closes. A client that waits for every reply never trips it. With
--announce-pipelining the EHLO reply still lists PIPELINING (to show that the check catches a
client that does pipeline). Accepted messages are logged as "message <rcpt> <bytes>".
With --auth-file (one line "user:password") it offers AUTH PLAIN and requires it before MAIL:
235 for the right pair, 535 otherwise (logged as "auth ok <user>" / "auth failed <user>"; the
password is never logged).
With --greeting "421 4.3.2 busy" it greets with that reply instead and closes (a server that
refuses at connect; logged as "refused at connect").
With --refuse ADDR (repeatable) a RCPT TO that address is answered 550 5.1.1 (a permanent failure;
logged as "refused <ADDR>").
Standard library only; stops on SIGTERM.
"""
import argparse, base64, select, socket, socketserver, threading

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--announce-pipelining", action="store_true")
ap.add_argument("--auth-file")
ap.add_argument("--greeting")
ap.add_argument("--refuse", action="append", default=[])
args = ap.parse_args()
credentials = open(args.auth_file).readline().rstrip("\n") if args.auth_file else None
lock = threading.Lock()


def log(line):
    with lock, open(args.log, "a") as f:
        f.write(line + "\n")


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        self.buf = b""
        if args.greeting:
            log("refused at connect")
            s.sendall(args.greeting.encode() + b"\r\n")
            return
        s.sendall(b"220 strict.test ESMTP\r\n")
        rcpt = None
        authed = credentials is None
        while True:
            line = self.readline()
            if line is None:
                return
            cmd = line.split(b" ", 1)[0].split(b":", 1)[0].upper().decode("ascii", "replace")
            if self.buf or select.select([s], [], [], 0)[0] and s.recv(1, socket.MSG_PEEK):
                log("violation after %s" % cmd)
                s.sendall(b"554 5.5.0 command sent ahead without PIPELINING\r\n")
                return
            if cmd in ("EHLO", "HELO"):
                ext = b"250-PIPELINING\r\n" if args.announce_pipelining else b""
                if credentials is not None:
                    ext += b"250-AUTH PLAIN\r\n"
                s.sendall(b"250-strict.test\r\n" + ext + b"250 8BITMIME\r\n")
            elif cmd == "AUTH" and credentials is not None:
                parts = line.split()
                if len(parts) < 2 or parts[1].upper() != b"PLAIN":
                    s.sendall(b"504 5.5.4 PLAIN only\r\n")
                    continue
                if len(parts) >= 3:
                    response = parts[2]
                else:
                    s.sendall(b"334 \r\n")
                    response = self.readline()
                    if response is None:
                        return
                try:
                    _, user, password = base64.b64decode(response).split(b"\0", 2)
                except Exception:
                    user = password = b""
                if user + b":" + password == credentials.encode():
                    authed = True
                    log("auth ok %s" % user.decode("utf-8", "replace"))
                    s.sendall(b"235 2.7.0 Authentication successful\r\n")
                else:
                    log("auth failed %s" % user.decode("utf-8", "replace"))
                    s.sendall(b"535 5.7.8 Authentication credentials invalid\r\n")
            elif cmd == "MAIL" and not authed:
                s.sendall(b"530 5.7.0 Authentication required\r\n")
            elif cmd == "MAIL":
                rcpt = None
                s.sendall(b"250 2.1.0 Ok\r\n")
            elif cmd == "RCPT":
                rcpt = line[8:].strip().decode("utf-8", "replace")
                if rcpt.strip("<>") in args.refuse:
                    log("refused %s" % rcpt)
                    rcpt = None
                    s.sendall(b"550 5.1.1 no such user\r\n")
                else:
                    s.sendall(b"250 2.1.5 Ok\r\n")
            elif cmd == "DATA":
                s.sendall(b"354 go ahead\r\n")
                size = 0
                while True:
                    body = self.readline()
                    if body is None:
                        return
                    if body == b".":
                        break
                    size += len(body) + 2
                log("message %s %d" % (rcpt, size))
                s.sendall(b"250 2.0.0 Ok: queued as STRICT\r\n")
            elif cmd == "RSET":
                s.sendall(b"250 2.0.0 Ok\r\n")
            elif cmd == "QUIT":
                s.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                s.sendall(b"502 5.5.2 not here\r\n")

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.request.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(("127.0.0.1", args.port), Handler) as server:
    with open(args.port_file, "w") as f:
        f.write("%d\n" % server.server_address[1])
    import signal
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()

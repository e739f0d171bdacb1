#!/usr/bin/env python3
"""A Telegram Bot API double: POST /bot<TOKEN>/sendMessage on 127.0.0.1.

    telegram_double.py --port-file F --log F --token-file F

Answers {"ok":true,...} when the token in the path is the one in --token-file, else 401
{"ok":false,"error_code":401,"description":"Unauthorized"}, as the real API does. Each request
is a line of --log: {"path_token_ok", "body", "token_in_argv"} — token_in_argv is whether any
process's command line (/proc/*/cmdline) held the token while the request was open (a secret
must never be passed in argv)."""
import argparse, http.server, json, os

p = argparse.ArgumentParser()
p.add_argument("--port-file", required=True)
p.add_argument("--log", required=True)
p.add_argument("--token-file", required=True)
a = p.parse_args()
TOKEN = open(a.token_file).read().strip()


def token_in_argv():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if TOKEN.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                return True
        except OSError:
            pass
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = self.path == f"/bot{TOKEN}/sendMessage"
        with open(a.log, "a") as f:
            f.write(json.dumps({"path_token_ok": ok, "content_type": self.headers.get("Content-Type"),
                                "body": json.loads(body or b"null"), "token_in_argv": token_in_argv()}) + "\n")
        answer = {"ok": True, "result": {"message_id": 1}} if ok else {"ok": False, "error_code": 401, "description": "Unauthorized"}
        raw = json.dumps(answer).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(a.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(a.port_file + ".tmp", a.port_file)
server.serve_forever()

#!/usr/bin/env python3
"""An HTTP endpoint for examples: answers every JSON POST with 202 and {"data":{"id":…}}.
Usage: http_sink.py PORT_FILE — listens on 127.0.0.1 (a free port, written to PORT_FILE)."""
import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    count = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
        Handler.count += 1
        raw = json.dumps({"data": {"id": "msg-%d" % Handler.count}}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()

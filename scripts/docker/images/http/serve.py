"""Test HTTP service: /healthz answers 200, /status/NNN answers NNN, everything else 200.

START_DELAY (seconds) holds the listening socket back, like a service that takes a while to start.
"""

import http.server
import os
import time

PORT = int(os.environ.get("PORT", "8080"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
        body = f"{code} {self.path} {os.environ.get('GREETING', 'hello')}\n".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


time.sleep(float(os.environ.get("START_DELAY", "0")))
http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()

"""Small real servers for the readiness tests (docs/readiness.md): a web server that binds
after a delay and answers with the status code found in a file, and a client that connects
once, at once."""

from __future__ import annotations

import socket

SLOW_SERVER = """\
import http.server, os, sys, time
time.sleep(float(sys.argv[1]))
status_file = sys.argv[3] if len(sys.argv) > 3 else None

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200
        if status_file and os.path.exists(status_file):
            code = int(open(status_file).read() or 200)
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"hello\\n")

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
print("listening on", sys.argv[2], flush=True)
server.serve_forever()
"""

# Connects once, at once: exit 0 only if the server already answers.
CLIENT = """\
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2):
    pass
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

"""Child programs for the socket tests: an HTTP server on an inherited fd, and a probe that
records what a process inherited. Written into the test's directory and run with sys.executable.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

# `server.py FD`: a stdlib HTTP server on the inherited listening socket FD. Each reply is the
# server's pid. On SIGTERM it finishes the request in hand and exits, leaving the connections
# still in the backlog to the socket's other (or next) processes.
HTTP_SERVER = """\
import http.server, os, signal, socket, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

stopping = False

def stop(signum, frame):
    global stopping
    stopping = True

signal.signal(signal.SIGTERM, stop)
server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=int(sys.argv[1]))
server.timeout = 0.05  # how soon a SIGTERM between requests is noticed
print("serving", flush=True)
while not stopping:
    server.handle_request()
"""

# `probe.py ARGS…`: writes `probe-PID.json` in PROBE_DIR: its argv, its PROBE_* variables and
# every socket among its open fds (family, type, address, listening, non-blocking).
PROBE = """\
import fcntl, json, os, socket, stat, sys, time

sockets = {}
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            continue
    except OSError:
        continue
    with socket.socket(fileno=os.dup(fd)) as sock:
        sockets[str(fd)] = {
            "family": sock.family.name,
            "type": sock.type.name,
            "address": sock.getsockname(),
            "listening": bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)),
            "nonblocking": bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK),
        }
record = {
    "argv": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith("PROBE_")},
    "sockets": sockets,
}
path = os.path.join(os.environ["PROBE_DIR"], f"probe-{os.getpid()}.json")
with open(path + ".tmp", "w") as out:
    json.dump(record, out)
os.rename(path + ".tmp", path)
time.sleep(300)
"""


def write_children(directory: Path) -> None:
    (directory / "server.py").write_text(HTTP_SERVER)
    (directory / "probe.py").write_text(PROBE)


def probe_records(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("probe-*.json"))]


def http_get(port: int, timeout: float = 15.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
        body: bytes = response.read()
    return body.decode()


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

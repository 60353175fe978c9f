"""`https://` probes, and OpenSSL loaded only for them (docs/supervision.md#memory): the real
`tuiman` command, a real TLS web server with a certificate made here by `openssl`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import kill_quietly
from tests.support.servers import free_port
from tests.test_cli_headless import run_tuiman, start_headless, write_config

TLS_SERVER = """\
import http.server, ssl, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello\\n")

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl here")


def certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_stack(tmp_path: Path, port: int, cert: Path, key: Path) -> Path:
    (tmp_path / "tls_server.py").write_text(TLS_SERVER)
    return write_config(
        tmp_path,
        f"""
        [watchers.web]
        cmd = "python3 {tmp_path}/tls_server.py {port} {cert} {key}"
        [watchers.web.ready]
        http = "https://127.0.0.1:{port}/"
        interval = 0.1
        """,
    )


def run_until_ready(
    tmp_path: Path, config: Path, timeout: int, trusted: Path
) -> subprocess.CompletedProcess[str]:
    """Headless until the stack is ready (`--run true`), trusting only `trusted`: it becomes
    OpenSSL's default trust store for this run."""
    return run_tuiman(
        "--headless",
        "-c",
        str(config),
        "--run",
        "true",
        "--ready-timeout",
        str(timeout),
        cwd=tmp_path,
        env={"SSL_CERT_FILE": str(trusted)},
    )


@needs_openssl
def test_an_https_probe_passes_against_a_trusted_certificate(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "server")
    config = tls_stack(tmp_path, free_port(), cert, key)
    result = run_until_ready(tmp_path, config, timeout=20, trusted=cert)
    assert result.returncode == 0, result.stderr
    assert "web ready (all processes)" in result.stdout


@needs_openssl
def test_an_https_probe_refuses_a_certificate_nobody_vouches_for(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "server")
    other, _ = certificate(tmp_path, "other")
    config = tls_stack(tmp_path, free_port(), cert, key)
    result = run_until_ready(tmp_path, config, timeout=3, trusted=other)
    assert result.returncode == 1
    assert "web: not ready (last try: http: TLS: CERTIFICATE_VERIFY_FAILED)" in result.stderr


def test_a_manager_without_https_probes_never_loads_openssl(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        [watchers.web]
        cmd = "sleep 60"
        [watchers.web.ready]
        http = "http://127.0.0.1:9/"
        interval = 0.1
        """,
    )
    proc = start_headless(config, "--json")
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line)["kind"] == "spawn":
                break
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "/python3" in maps or "libpython" in maps  # the right process, still running
        for library in ("libssl", "libcrypto", "_ssl.", "_hashlib."):
            assert library not in maps
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        kill_quietly(proc.pid)
        proc.wait(timeout=10)

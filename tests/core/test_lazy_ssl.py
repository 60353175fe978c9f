"""asyncio imported without `ssl` still speaks TLS once anyone imports `ssl`
(docs/supervision.md#memory): a real TLS server and client in a fresh interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_tls_probes import certificate

ECHO_OVER_TLS = """
import sys
from tuiman.core.lazy_ssl import import_asyncio

import_asyncio()
assert "ssl" not in sys.modules and "_ssl" not in sys.modules, "ssl imported with asyncio"
import asyncio

{get_ssl}

async def main(cert, key):
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    client_side = ssl.create_default_context(cafile=cert)

    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_side)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_side)
    writer.write(b"over tls\\n")
    answer = await reader.readline()
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    server.close()
    print(answer.decode().strip(), version.startswith("TLS"))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl here")
@pytest.mark.parametrize(
    "get_ssl",
    [
        "import ssl  # as any hook or library would",
        "from tuiman.core.lazy_ssl import ssl_for_asyncio; ssl = ssl_for_asyncio()",
    ],
)
def test_tls_works_after_asyncio_was_imported_without_ssl(tmp_path: Path, get_ssl: str) -> None:
    cert, key = certificate(tmp_path, "server")
    result = subprocess.run(
        [sys.executable, "-c", ECHO_OVER_TLS.format(get_ssl=get_ssl), str(cert), str(key)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["over", "tls", "True"]

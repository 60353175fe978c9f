"""CPython's own SHA-1 and SHA-256 give hashlib's digests (docs/supervision.md#memory)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from tuiman.core.digest import hexdigest


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
@pytest.mark.parametrize(
    "data", [b"", b"web", "caf\u00e9/\udcff".encode("utf-8", "surrogateescape")]
)
def test_the_same_digest_as_hashlib(algorithm: str, data: bytes) -> None:
    assert hexdigest(algorithm, data) == hashlib.new(algorithm, data).hexdigest()


def test_no_openssl_is_loaded_for_it() -> None:
    code = (
        "import sys; from tuiman.core.digest import hexdigest; hexdigest('sha256', b'x');"
        "hexdigest('sha1', b'x'); print(sorted({'_hashlib', 'hashlib'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

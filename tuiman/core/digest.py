"""Hex digests without OpenSSL (docs/supervision.md#memory).

`hashlib` loads OpenSSL's libcrypto through `_hashlib` (about 1 MiB of a manager) for digests
CPython also builds in: the same SHA-1 and SHA-256 from its own small modules, falling back on
`hashlib` where a build lacks them.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any

# Where CPython keeps its own implementations (3.12 merged _sha256 into _sha2).
_BUILTIN = {"sha1": ("_sha1",), "sha256": ("_sha256", "_sha2")}


def hexdigest(algorithm: str, data: bytes) -> str:
    """`hashlib.new(algorithm, data).hexdigest()` for "sha1" or "sha256"."""
    return _constructor(algorithm)(data).hexdigest()  # type: ignore[no-any-return]


def _constructor(algorithm: str) -> Any:
    for module in _BUILTIN[algorithm]:
        try:
            return getattr(importlib.import_module(module), algorithm)
        except (ImportError, AttributeError):
            continue
    import hashlib

    return getattr(hashlib, algorithm)

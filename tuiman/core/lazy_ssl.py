"""asyncio without `ssl` until something needs TLS (docs/supervision.md#memory).

asyncio imports `ssl` for its TLS transports, and `ssl` loads OpenSSL: about 1.8 MiB of a
manager that never speaks TLS, which is most of them (only an `https://` probe does).
`import_asyncio()` imports asyncio while `ssl` cannot be imported; afterwards `ssl` imports as
usual for any other code. `ssl_for_asyncio()`, on the first https probe, imports `ssl` for real
and hands it to the asyncio modules that were imported without it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_asyncio() -> None:
    """Import asyncio without `ssl`, unless either is imported already."""
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` now raises ImportError
    try:
        import asyncio  # noqa: F401
    finally:
        if "ssl" in sys.modules and sys.modules["ssl"] is None:
            del sys.modules["ssl"]


def ssl_for_asyncio() -> ModuleType:
    """The `ssl` module, with asyncio's TLS transports working. Idempotent."""
    import ssl

    # Each asyncio module that found no `ssl` at its import holds `ssl = None` (its own
    # `try: import ssl / except ImportError`); sslproto also derived constants from it.
    stale = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("asyncio.") and module is not None and _holds_no_ssl(module)
    ]
    for module in stale:
        module.ssl = ssl  # type: ignore[attr-defined]
    for module in stale:
        if module.__name__ == "asyncio.sslproto":
            importlib.reload(module)
    return ssl


def _holds_no_ssl(module: ModuleType) -> bool:
    namespace = vars(module)
    return "ssl" in namespace and namespace["ssl"] is None

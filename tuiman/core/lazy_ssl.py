"""asyncio without `ssl` until something needs TLS (docs/supervision.md#memory).

asyncio imports `ssl` for its TLS transports, and `ssl` loads OpenSSL: about 1 MiB of a manager
that never speaks TLS, which is most of them (in tuiman only an `https://` probe does; a hook
may too). `import_asyncio()` imports asyncio while `ssl` cannot be imported, and leaves a
finder on `sys.meta_path` that watches for the first `import ssl`, by anyone: once that module
is loaded, it is handed to the asyncio modules that were imported without it, and the finder
goes away. `ssl_for_asyncio()` does the same on purpose.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy knows it)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec


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
    sys.meta_path.insert(0, _SslImportWatch())


def ssl_for_asyncio() -> ModuleType:
    """The `ssl` module, with asyncio's TLS transports working. Idempotent."""
    import ssl

    _hand_over(ssl)
    return ssl


def _hand_over(ssl: ModuleType) -> None:
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


def _holds_no_ssl(module: ModuleType) -> bool:
    namespace = vars(module)
    return "ssl" in namespace and namespace["ssl"] is None


class _SslImportWatch:
    """A meta path finder for `ssl` only: the real finders find it, and its loader is wrapped
    so that asyncio gets the module as soon as it is executed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "ssl":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec = None if find_spec is None else find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _HandOverLoader(spec.loader)
                return spec  # type: ignore[no-any-return]
        return None


class _HandOverLoader:
    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _hand_over(module)

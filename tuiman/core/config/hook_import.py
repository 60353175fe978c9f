"""A hook module's import, bounded: a daemon thread with a deadline (docs/hooks.md#configuration).

A module's top level is user code that runs at config load: in `tuiman check`, at start-up and on a
config reload. It may loop forever, block, start threads or call `os._exit`. The import runs in a
daemon thread that the loader waits for at most `hook_import_timeout` seconds; a thread that never
returns is left behind (a later import of the same module fails at once instead of waiting on its
lock again), and tuiman's exit does not wait for it (`tuiman.cli.entry`). While a module imports,
`os._exit` called from that import's thread raises instead of ending tuiman, so it is reported.
A module holding the GIL in C code (a regex that backtracks for minutes) still stalls the process
while it runs: Python gives no way to interrupt it.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import NoReturn

_stuck_imports: dict[str, threading.Thread] = {}
_guarded_threads: set[tuple[int, int]] = set()  # (pid, thread ident): a fork has its own pid
_guard_lock = threading.Lock()
_real_exit: Callable[[int], NoReturn] | None = None


class ImportNeverFinished(RuntimeError):
    pass


class _ExitAtImport(BaseException):
    """Raised in place of `os._exit(code)` inside a guarded import thread."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def lingering_imports() -> list[str]:
    """Modules whose import never returned (their threads are still alive)."""
    return [name for name, thread in _stuck_imports.items() if thread.is_alive()]


def import_bounded(module_name: str, timeout: float) -> ModuleType:
    """`importlib.import_module`, bounded in time; the module's own failures are re-raised."""
    earlier = _stuck_imports.get(module_name)
    if earlier is not None and earlier.is_alive():
        raise ImportNeverFinished("an earlier import of it never finished")
    importlib.invalidate_caches()
    outcome: list[ModuleType | BaseException] = []

    def work() -> None:
        me = (os.getpid(), threading.get_ident())
        with _guard_lock:
            _guarded_threads.add(me)
        try:
            outcome.append(importlib.import_module(module_name))
        except _ExitAtImport as exit_call:
            outcome.append(ImportNeverFinished(f"it called os._exit({exit_call.code}) at import"))
        except BaseException as error:  # a module's own code: SystemExit included
            outcome.append(error)
        finally:
            with _guard_lock:
                _guarded_threads.discard(me)

    _guard_exit()
    thread = threading.Thread(target=work, name=f"tuiman-import-{module_name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or not outcome:
        _stuck_imports[module_name] = thread
        raise ImportNeverFinished(
            f"still importing after {timeout:g}s (a loop or a blocking call at import?)"
        )
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _guard_exit() -> None:
    """Wrap `os._exit` once: from a guarded import thread it raises, from anywhere else it exits."""
    global _real_exit
    with _guard_lock:
        if _real_exit is not None:
            return
        real_exit = _real_exit = os._exit

        def guarded_exit(status: int) -> NoReturn:
            if (os.getpid(), threading.get_ident()) in _guarded_threads:
                raise _ExitAtImport(status)
            real_exit(status)

        os._exit = guarded_exit

"""Signal handlers that still run when the loop's wake-up socket is full
(docs/reliability.md#no-orphans-whatever-happens-to-tuiman).

asyncio learns which signal arrived from one byte its C-level handler writes to a socket. When
thousands of children exit at once, the SIGCHLD bytes fill that socket (each one-byte write
takes about a kilobyte of its buffer, so a few hundred are enough): the byte of a SIGTERM that
arrives then is dropped, asyncio never runs its handler, and Python prints "Exception ignored
when trying to write to the signal wakeup fd" for every dropped byte. Here a stop signal's
handler is a Python-level one, which the interpreter runs in the main thread whether or not its
byte got through; the byte is only what wakes the loop, and a full socket wakes it anyway.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any


def handle_signal(
    loop: asyncio.AbstractEventLoop, signum: int, callback: Callable[..., object], *args: Any
) -> None:
    """`loop.add_signal_handler(signum, callback, *args)` that no full wake-up socket loses."""
    # The loop's own registration sets the wake-up fd (the loop is woken for the signal) and
    # dispatches the byte to a no-op; ours replaces the Python-level handler it installed.
    loop.add_signal_handler(signum, _nothing)
    signal.signal(signum, lambda _signum, _frame: loop.call_soon_threadsafe(callback, *args))
    quiet_wakeup_fd()


def quiet_wakeup_fd() -> None:
    """No "Exception ignored" per dropped wake-up byte (main thread only)."""
    fd = signal.set_wakeup_fd(-1)
    if fd != -1:
        signal.set_wakeup_fd(fd, warn_on_full_buffer=False)


def _nothing() -> None:
    pass

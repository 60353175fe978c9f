"""Losing the terminal (its window closed, ssh dropped) without freezing
(docs/supervision.md#commands, docs/reliability.md).

On a hangup the kernel sends SIGHUP and then SIGCONT. Textual's SIGCONT handler restarts
application mode on the dead terminal, and its writer thread dies on the first EIO; after 30
more queued writes the event loop would block in `Queue.put` for ever, with every managed
process still running. So tuiman's SIGHUP handler runs at Python level — CPython runs pending
handlers in signal-number order, SIGHUP (1) before SIGCONT (18) — and first points fds 0-2
away from the terminal; only then is the quit requested on the loop.
"""

from __future__ import annotations

import os
import signal
import termios
import threading
from typing import Any

_kept_fds: list[int] = []  # the write end of the stand-in stdin must stay open


def terminal_gone() -> bool:
    """True when our controlling terminal hung up."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return True
    try:
        termios.tcgetattr(fd)
    except termios.error:
        return True
    finally:
        os.close(fd)
    return False


def detach_from_terminal(app: Any) -> None:
    """Make every later terminal read and write harmless; safe to call from a signal handler."""
    signal.signal(signal.SIGCONT, signal.SIG_DFL)  # no restart of application mode on a dead tty
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    # A pipe that never has data: Textual's input thread keeps waiting (EOF would make it spin).
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    _kept_fds.append(write_end)
    _drain_if_writer_dies(app)


def release_stdin() -> None:
    """End the stand-in stdin (EOF), so Textual's input thread can finish when the app exits."""
    while _kept_fds:
        os.close(_kept_fds.pop())


def _drain_if_writer_dies(app: Any) -> None:
    # Textual 8.2.8 internals (pinned): LinuxDriver._writer_thread is a WriterThread whose
    # bounded `_queue` would fill up once the thread died on EIO.
    writer = getattr(getattr(app, "_driver", None), "_writer_thread", None)
    queue = getattr(writer, "_queue", None)
    if not isinstance(writer, threading.Thread) or queue is None:
        return

    def drain() -> None:
        writer.join()
        while True:
            queue.get()

    threading.Thread(target=drain, name="tuiman-tty-drain", daemon=True).start()

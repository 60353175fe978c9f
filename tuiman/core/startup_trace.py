"""Timestamps of start-up phases, for bench/startup.py; off unless TUIMAN_STARTUP_TRACE is set.

With TUIMAN_STARTUP_TRACE=FILE, `mark(phase)` appends `<time.monotonic()> <phase>` to FILE when
`phase` ends; the first spawn ends the trace. The variable is read once, and removed from the
environment so that no child (a tuiman under tuiman) writes to the same file. Off, a mark is
one global lookup.
"""

from __future__ import annotations

import os
import time

_fd: int | None = None
if (_path := os.environ.pop("TUIMAN_STARTUP_TRACE", None)) is not None:
    try:
        _fd = os.open(_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    except OSError:
        _fd = None


def mark(phase: str) -> None:
    """Note that `phase` ends now (a few microseconds of a local write, only when tracing)."""
    if _fd is not None:
        os.write(_fd, f"{time.monotonic():.6f} {phase}\n".encode())


def mark_last(phase: str) -> None:
    """The last mark: `phase` ends now, and so does the trace."""
    global _fd
    if _fd is not None:
        mark(phase)
        os.close(_fd)
        _fd = None

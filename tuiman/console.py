"""Writing to stdout and stderr without ever letting the write decide what tuiman does.

stdout and stderr may be a closed pipe (`tuiman … | head -1`), a terminal that hung up (EIO),
a full disk or a closed descriptor. None of that may stop a signal handler half-way, turn an
exit code into a traceback, or keep tuiman from exiting: every write here reports failure by
returning False, never by raising. `settle` runs last, so the interpreter's own final flush of
a broken stream cannot turn the exit code into 120.
"""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy knows it)
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["ensure_standard_streams", "say", "settle", "write_line"]


def write_line(text: str, stream: TextIO | None = None) -> bool:
    """`text` and a newline on `stream` (stdout by default), flushed; False if it failed."""
    target = sys.stdout if stream is None else stream
    try:
        target.write(text + "\n")
        target.flush()
    except (OSError, ValueError, AttributeError):
        return False
    return True


def say(text: str, prefix: str = "tuiman: ") -> bool:
    """One notice on stderr; False if stderr is gone."""
    return write_line(f"{prefix}{text}", sys.stderr)


def settle() -> None:
    """Flush stdout and stderr one last time; a stream that cannot take it is pointed at
    /dev/null, so what it still buffers is dropped instead of failing the exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            _discard(stream)


def _discard(stream: TextIO) -> None:
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
        with contextlib.suppress(OSError, ValueError):
            stream.flush()  # now into /dev/null: the buffer empties


def ensure_standard_streams() -> None:
    """Give closed descriptors 0-2 /dev/null (`tuiman >&-`), before anything opens a file.

    Otherwise the next pipe or socket tuiman opens would become "stdout", and sys.stdout would
    be None for every write after.
    """
    for fd, mode in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, mode)
                if devnull != fd:
                    os.dup2(devnull, fd)
                    os.close(devnull)
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 (lives as long as the process)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115

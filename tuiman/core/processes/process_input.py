"""Writing to a process' input — its pty's master or its stdin pipe — without blocking the loop
(docs/terminals.md#sending-input).

A write the kernel cannot take at once waits in a bounded buffer and goes out when the fd is
writable (`add_writer`); a process that never reads cannot make tuiman wait or grow without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

MAX_PENDING = 1024 * 1024


class InputClosed(Exception):
    """The input cannot take more: the process closed it, or too much is still waiting."""


class InputWriter:
    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop, *, owns_fd: bool) -> None:
        self.fd = fd
        self._loop = loop
        self._owns_fd = owns_fd
        self._pending = bytearray()
        self.closed = False
        self.error: str | None = None

    def write(self, data: bytes) -> None:
        """Queue `data` in order after what is waiting; raises `InputClosed`."""
        if self.closed:
            raise InputClosed(self.error or "its input is closed")
        if len(self._pending) + len(data) > MAX_PENDING:
            raise InputClosed(f"more than {MAX_PENDING} bytes wait for the process to read them")
        if self._pending:
            self._pending += data
            return
        written = self._write_now(data)
        if written < len(data) and not self.closed:
            self._pending += data[written:]
            self._loop.add_writer(self.fd, self._flush)

    def _write_now(self, data: bytes) -> int:
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0
        except OSError as error:  # EPIPE (pipe reader gone), EIO (terminal hung up)
            self._fail(os.strerror(error.errno) if error.errno else str(error))
            return 0

    def _flush(self) -> None:
        written = self._write_now(bytes(self._pending))
        del self._pending[:written]
        if not self._pending and not self.closed:
            self._loop.remove_writer(self.fd)

    def _fail(self, reason: str) -> None:
        self.error = f"its input is closed ({reason})"
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._pending:
            self._loop.remove_writer(self.fd)
            self._pending.clear()
        if self._owns_fd:
            with contextlib.suppress(OSError):
                os.close(self.fd)

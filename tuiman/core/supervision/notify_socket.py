"""`NOTIFY_SOCKET` for a `notify = true` process (docs/readiness.md#notify): a datagram socket
of its own, mode 0600, in a 0700 directory private to this tuiman instance (0711 once a child
runs as another user: it owns its socket), read on the loop.

What `sd_notify(3)` clients and `systemd-notify` send is newline-separated `KEY=VALUE`
assignments; tuiman understands READY=1, STATUS=, WATCHDOG=1, WATCHDOG=trigger and STOPPING=1
and ignores the rest. One socket per process: whatever process writes to it (a `systemd-notify`
run by a shell script, say) speaks for that process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import Callable

NOTIFY_ENV = "NOTIFY_SOCKET"
_DATAGRAM_MAX = 4096
_DIRECTORIES: dict[str, str] = {}  # marker -> the instance's private directory
_COUNTER = itertools.count(1)

NotifyCallback = Callable[[dict[str, str]], None]


def instance_directory(marker: str) -> str:
    """The instance's private directory for notify sockets, made on first use (0700)."""
    directory = _DIRECTORIES.get(marker)
    if directory is None or not os.path.isdir(directory):
        base = os.environ.get("XDG_RUNTIME_DIR") or None
        if base is not None and not os.path.isdir(base):
            base = None
        import tempfile  # only with notify readiness: not paid by every start

        directory = tempfile.mkdtemp(prefix="tuiman-notify-", dir=base)
        _DIRECTORIES[marker] = directory
    return directory


def remove_instance_directory(marker: str) -> None:
    directory = _DIRECTORIES.pop(marker, None)
    if directory is not None:
        import shutil  # only with notify readiness, at its end

        shutil.rmtree(directory, ignore_errors=True)


def parse_datagram(data: bytes) -> dict[str, str]:
    assignments: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition("=")
        if sep and key:
            assignments[key.strip()] = value
    return assignments


class NotifySocket:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        marker: str,
        label: str,
        owner: tuple[int, int] | None = None,
    ) -> None:
        self._loop = loop
        self._callback: NotifyCallback | None = None
        self._reading = False
        directory = instance_directory(marker)
        self.path = os.path.join(directory, f"{label[:40]}-{next(_COUNTER)}.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._socket.bind(self.path)
            os.chmod(self.path, 0o600)
            if owner is not None:
                # A child that drops to another user must reach its socket: it owns the socket,
                # and may pass through the directory (0711: never list it).
                os.chown(self.path, *owner)
                os.chmod(directory, 0o711)
            self._socket.setblocking(False)
        except OSError:
            self.close()
            raise
        loop.add_reader(self._socket.fileno(), self._on_readable)
        self._reading = True

    def listen(self, callback: NotifyCallback) -> None:
        self._callback = callback

    def _on_readable(self) -> None:
        for _ in range(64):  # a bounded batch per wake-up: a chatty child cannot hog the loop
            try:
                data = self._socket.recv(_DATAGRAM_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.close()
                return
            if self._callback is not None:
                self._callback(parse_datagram(data))

    def close(self) -> None:
        if self._reading:
            self._reading = False
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._socket.fileno())
        self._socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

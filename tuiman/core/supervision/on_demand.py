"""`on_demand = true` watchers: started on the first connection to their sockets
(docs/configuration.md#sockets).

While such a watcher is stopped, the loop watches its listening sockets with `add_reader`
(tuiman never accepts: the connection waits in the backlog for the process it starts). The
first readable socket starts every watcher waiting on it. One reader per fd, whichever number
of watchers wait on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from tuiman.core.config.model import SocketConfig, WatcherConfig
from tuiman.core.config.sockets import sockets_used_by


class OnDemandStarts:
    """Which watchers wait on which socket fds, and the loop readers that wake them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: Callable[[str], None]) -> None:
        self._loop = loop
        self._start = start
        self._waiting: dict[int, set[str]] = {}  # fd -> names of the watchers waiting on it

    def waiting(self, watcher_name: str) -> bool:
        return any(watcher_name in names for names in self._waiting.values())

    def arm(
        self, watcher: WatcherConfig, sockets: Sequence[SocketConfig], fds: dict[str, int]
    ) -> None:
        """Wait for a connection to any socket `watcher` uses (a no-op if it is not on_demand)."""
        if not watcher.on_demand:
            return
        for socket_name in sockets_used_by(watcher, sockets):
            fd = fds.get(socket_name)
            if fd is None:
                continue
            if fd not in self._waiting:
                self._waiting[fd] = set()
                self._loop.add_reader(fd, self._ready, fd)
            self._waiting[fd].add(watcher.name)

    def disarm(self, watcher_name: str) -> None:
        for fd in list(self._waiting):
            names = self._waiting[fd]
            names.discard(watcher_name)
            if not names:
                self._forget(fd)

    def close(self) -> None:
        for fd in list(self._waiting):
            self._forget(fd)

    def _forget(self, fd: int) -> None:
        del self._waiting[fd]
        self._loop.remove_reader(fd)

    def _ready(self, fd: int) -> None:
        names = sorted(self._waiting.get(fd, ()))
        for watcher_name in names:
            self.disarm(watcher_name)
        for watcher_name in names:
            self._start(watcher_name)

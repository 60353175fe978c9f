"""Telling systemd how the instance is doing, for a `Type=notify` unit (docs/systemd.md).

systemd passes `NOTIFY_SOCKET` (and `WATCHDOG_USEC` with `WatchdogSec=`); tuiman takes them out
of its environment before the config is read, so no managed process inherits them, and sends
datagrams of `KEY=VALUE` lines: `READY=1` once the watchers are ready (`wait_ready`'s
definition), `STATUS=` as watchers change state, `WATCHDOG=1` every half watchdog period while
the loop runs, `STOPPING=1` when the quit begins. A send never blocks the loop and never fails
the instance: systemd going away only loses the notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

_ENVIRONMENT = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
ReadyWait = Callable[[Arbiter, float], Awaitable[str | None]]


class SystemdNotifier:
    """The datagram socket to systemd, and the watchdog period it asked for."""

    def __init__(self, address: str, watchdog_seconds: float | None) -> None:
        # An address starting with "@" is in the abstract namespace.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_seconds = watchdog_seconds
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)

    def send(self, *lines: str) -> bool:
        """One datagram; False when it could not be sent (systemd gone, queue full)."""
        try:
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except OSError:
            return False
        return True

    def close(self) -> None:
        self._socket.close()


_claimed: SystemdNotifier | None = None


def claim_environment(environ: MutableMapping[str, str] | None = None) -> SystemdNotifier | None:
    """Take systemd's variables out of the environment (before the config copies it) and keep
    the notifier for `start_notifying`. None when tuiman is not run by systemd."""
    global _claimed
    env = os.environ if environ is None else environ
    values = {name: env.pop(name, "") for name in _ENVIRONMENT}
    address = values["NOTIFY_SOCKET"]
    if not address or not (address.startswith("/") or address.startswith("@")):
        _claimed = None
        return None
    watchdog_seconds: float | None = None
    with contextlib.suppress(ValueError):
        for_us = values["WATCHDOG_PID"] in ("", str(os.getpid()))
        usec = int(values["WATCHDOG_USEC"] or 0)
        if usec > 0 and for_us:
            watchdog_seconds = usec / 1_000_000
    _claimed = SystemdNotifier(address, watchdog_seconds)
    return _claimed


class Notifications:
    """The tasks that keep systemd informed about one running arbiter."""

    def __init__(self, arbiter: Arbiter, notifier: SystemdNotifier, wait_ready: ReadyWait) -> None:
        self._arbiter = arbiter
        self._notifier = notifier
        self._wait_ready = wait_ready
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = False
        self._stopping_sent = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._lifecycle()))
        if self._notifier.watchdog_seconds is not None:
            self._tasks.append(loop.create_task(self._watchdog(self._notifier.watchdog_seconds)))

    async def close(self) -> None:
        """After the quit: the last status, then the socket closed."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stopping()
        self._notifier.close()

    def _stopping(self) -> None:
        if not self._stopping_sent:
            self._stopping_sent = True
            self._notifier.send("STOPPING=1", "STATUS=stopping")

    async def _lifecycle(self) -> None:
        arbiter, notifier = self._arbiter, self._notifier
        notifier.send(f"STATUS=starting {_count(len(arbiter.watchers))}")
        quitting = asyncio.ensure_future(arbiter.quit_requested.wait())
        try:
            ready = asyncio.ensure_future(self._wait_ready(arbiter, math.inf))
            await asyncio.wait({ready, quitting}, return_when=asyncio.FIRST_COMPLETED)
            if quitting.done():
                ready.cancel()
                self._stopping()
                return
            problem = ready.result()
            if problem is None:
                self.ready = True
                notifier.send("READY=1", f"STATUS={self.status()}")
            else:
                # No READY=1: systemd fails the start when TimeoutStartSec= runs out.
                notifier.send(f"STATUS=not ready: {problem}")
            await self._follow_states(quitting)
            self._stopping()
        finally:
            quitting.cancel()

    async def _follow_states(self, quitting: asyncio.Future[Any]) -> None:
        """STATUS= after each batch of state changes, until the quit."""
        subscription = self._arbiter.bus.subscribe(snapshot=False, name="systemd")
        try:
            while not quitting.done():
                next_event: asyncio.Future[Any] = asyncio.ensure_future(subscription.get())
                await asyncio.wait({next_event, quitting}, return_when=asyncio.FIRST_COMPLETED)
                if not next_event.done():
                    next_event.cancel()
                    return
                batch = [next_event.result(), *subscription.drain()]
                if self.ready and any(e.kind in _STATUS_KINDS for e in batch):
                    self._notifier.send(f"STATUS={self.status()}")
        except EOFError:
            return
        finally:
            subscription.close()

    def status(self) -> str:
        """`3 of 4 watchers active` (running, flapping and failed ones named when there are)."""
        watchers = self._arbiter.watchers.values()
        active = sum(1 for w in watchers if w.state == WatcherState.ACTIVE)
        text = f"{active} of {_count(len(watchers))} active"
        troubled = [
            f"{w.name} {w.state}"
            for w in watchers
            if w.state in (WatcherState.FLAPPING, WatcherState.FAILED)
        ]
        return f"{text}; {', '.join(troubled)}" if troubled else text

    async def _watchdog(self, period: float) -> None:
        # Sent by the loop itself: a loop that stalls stops the pings, and systemd steps in.
        while True:
            self._notifier.send("WATCHDOG=1")
            await asyncio.sleep(period / 2)


_STATUS_KINDS = frozenset({Kind.STATE, Kind.ADD, Kind.REMOVE})


def _count(number: int) -> str:
    return f"{number} watcher" if number == 1 else f"{number} watchers"


def start_notifying(arbiter: Arbiter, wait_ready: ReadyWait) -> Notifications | None:
    """Start telling systemd (when `claim_environment` found it); None otherwise."""
    if _claimed is None:
        return None
    notifications = Notifications(arbiter, _claimed, wait_ready)
    notifications.start()
    return notifications

"""Keeping the watchdog alive (docs/reliability.md#the-watchdog-cannot-be-blinded-or-lost).

The watchdog's pidfd is on the loop: when it dies while tuiman runs, the guard reaps it,
restarts it (the handle tells the new one every group and cgroup again) and publishes a
`watchdog` event; `status()` is what the snapshot, `ctl status` and the UI header show. A
watchdog that keeps dying right after each restart is given up on: the state says `lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.payloads import WatchdogStatus
from tuiman.core.processes.process import exit_code_from_waitid, poll_pidfd_exit
from tuiman.core.processes.watchdog import Watchdog

RESTART_BURST = 5  # restarts within RESTART_WINDOW seconds before giving up
RESTART_WINDOW = 10.0


class WatchdogGuard:
    def __init__(self, watchdog: Watchdog | None, bus: Bus, cgroups: str) -> None:
        self.watchdog = watchdog
        self.cgroups = cgroups  # "on <path>" or "off: <why>"
        self.lost: str | None = None  # why it is not running (and not restarted)
        self._bus = bus
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pidfd = -1
        self._recent: list[float] = []

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if self.watchdog is None or self.watchdog.closed:
            return
        try:
            self._pidfd = os.pidfd_open(self.watchdog.pid)
        except OSError as error:  # already gone (and reaped?): handle it like a death
            self._pidfd = -1
            self._loop.call_soon(self._replace, f"could not watch it: {error.strerror}")
            return
        loop.add_reader(self._pidfd, self._on_exit)

    def stop(self) -> None:
        """Before a clean shutdown closes the watchdog: its exit is expected from here on."""
        if self._pidfd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
        self._pidfd = -1

    def status(self) -> WatchdogStatus:
        if self.watchdog is None:
            return {"pid": None, "state": "off", "restarts": 0, "cgroups": self.cgroups}
        return {
            "pid": None if self.lost else self.watchdog.pid,
            "state": "lost" if self.lost else "running",
            "restarts": self.watchdog.restarts,
            "cgroups": self.cgroups,
        }

    def _on_exit(self) -> None:
        exited, result = poll_pidfd_exit(self._pidfd)
        if not exited:
            return  # spurious wake-up
        self.stop()
        if self.watchdog is None or self.watchdog.closed:
            return
        how = "exited" if result is None else describe_exit(exit_code_from_waitid(result))
        self._replace(how)

    def _replace(self, how: str) -> None:
        watchdog = self.watchdog
        if watchdog is None or watchdog.closed or self._loop is None:
            return
        previous = watchdog.pid
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t < RESTART_WINDOW] + [now]
        detail = f"watchdog pid {previous} {how}"
        if len(self._recent) > RESTART_BURST:
            self._give_up(previous, f"{detail}; it died {RESTART_BURST} times in a row")
            return
        try:
            watchdog.restart()
        except (OSError, ValueError) as error:
            self._give_up(previous, f"{detail}; restarting it failed: {error}")
            return
        self.lost = None
        self._bus.emit(
            Kind.WATCHDOG,
            None,
            {
                "state": "restarted",
                "previous_pid": previous,
                "pid": watchdog.pid,
                "detail": f"{detail}; restarted as pid {watchdog.pid}",
            },
        )
        self.start(self._loop)

    def _give_up(self, previous: int, detail: str) -> None:
        self.lost = detail
        self._bus.emit(
            Kind.WATCHDOG,
            None,
            {"state": "lost", "previous_pid": previous, "pid": None, "detail": detail},
        )


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"

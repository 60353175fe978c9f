"""Reaps children tuiman did not spawn itself: escapees reparented to it as a child subreaper
(or as PID 1 in a container), by pid, never with `waitpid(-1)`
(docs/supervision.md#orphans-and-escapees).

An unknown zombie is only reaped once it has stayed a zombie for `ZOMBIE_GRACE` seconds, so a
hook's own `subprocess.run` still collects its child's exit status first.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable

from tuiman.core.processes.procfs import stat_fields, task_children
from tuiman.core.signal_delivery import quiet_wakeup_fd

ZOMBIE_GRACE = 0.5
# What reading another process' /proc entry may answer when that process is simply not one to
# kill: gone meanwhile, or not ours to read.
_NOT_A_CANDIDATE = frozenset({errno.ENOENT, errno.ESRCH, errno.EACCES, errno.EPERM})


class OrphanReaper:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, managed_pids: Callable[[], set[int]]
    ) -> None:
        self._loop = loop
        self._managed_pids = managed_pids
        self._zombie_since: dict[int, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._installed = False
        self.reaped = 0

    def install(self) -> None:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            self._loop.add_signal_handler(signal.SIGCHLD, self._on_sigchld)
            self._installed = True
            quiet_wakeup_fd()  # a flood of SIGCHLDs may fill it: a dropped byte is no news

    def uninstall(self) -> None:
        if self._installed:
            with contextlib.suppress(ValueError, RuntimeError):
                self._loop.remove_signal_handler(signal.SIGCHLD)
            self._installed = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_sigchld(self) -> None:
        # Every wake means "something changed": signals coalesce, so sweep rather than count.
        if self._timer is None:
            self._timer = self._loop.call_later(ZOMBIE_GRACE / 2, self.sweep)

    def sweep(self) -> None:
        self._timer = None
        managed = self._managed_pids()
        now = time.monotonic()
        zombies = {pid for pid in own_children() if pid not in managed and is_zombie(pid)}
        for pid in list(self._zombie_since):
            if pid not in zombies:
                del self._zombie_since[pid]
        for pid in zombies:
            first_seen = self._zombie_since.setdefault(pid, now)
            if now - first_seen >= ZOMBIE_GRACE:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                    self.reaped += 1
                self._zombie_since.pop(pid, None)
        if self._zombie_since:
            self._timer = self._loop.call_later(ZOMBIE_GRACE / 2, self.sweep)


def reap_group_zombies(pgid: int) -> int:
    """Reap our zombie children that belong to a managed process group, without grace:
    they are escapees of a watcher's group (reparented to us as subreaper), never a hook's."""
    reaped = 0
    for pid in own_children():
        stat = read_stat(pid)
        if stat is None or stat[0] != "Z" or stat[2] != pgid:
            continue
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
            reaped += 1
    return reaped


def read_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) from /proc/<pid>/stat, or None if it is gone."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return fields[0].decode(), int(fields[1]), int(fields[2])


def own_children() -> set[int]:
    """Children of every thread of this process, from /proc (no psutil on the loop)."""
    return set(task_children(os.getpid()))


def is_zombie(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat[0] == "Z"


def kill_marked(entries: tuple[str, ...]) -> int:
    """SIGKILL every process whose environment holds all of `entries` (exact `NAME=value`):
    the `setsid` escapees of a watcher's groups, which `killpg` cannot reach
    (docs/supervision.md#stop, F1).

    A candidate is pinned with a pidfd and its environment read again before it is signalled,
    so a recycled pid is never hit. Blocking /proc reads: call it off the event loop.
    Returns how many processes were signalled. Raises OSError when it cannot look (no fds
    left, no memory): "found nothing" must never stand for "could not look".
    """
    needles = [b"\0" + os.fsencode(entry) + b"\0" for entry in entries]
    me = os.getpid()

    def matches(pid: str) -> bool:
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                env = b"\0" + environ.read() + b"\0"
        except OSError as error:
            if error.errno in _NOT_A_CANDIDATE:
                return False
            raise
        return all(needle in env for needle in needles)

    killed = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me or not matches(name):
            continue
        try:
            pidfd = os.pidfd_open(int(name))
        except OSError as error:
            if error.errno in _NOT_A_CANDIDATE:
                continue
            raise
        try:
            if matches(name):  # still the same process: the pidfd pins it from here on
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                killed += 1
        except OSError:
            pass
        finally:
            os.close(pidfd)
    return killed

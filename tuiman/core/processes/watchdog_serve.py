"""The watchdog process itself (docs/supervision.md#orphans-and-escapees), the other side of
`watchdog.Watchdog`. It runs in a fresh interpreter started with `-I -S` that imports this module
and nothing of tuiman beyond it and `cgroups`: a fork of tuiman would end up with a private copy
of every page of tuiman's heap that tuiman touches afterwards (reference counts write to nearly
all of them), about 13 MiB; this interpreter costs a fraction of that.
"""

# ruff: noqa: SIM105  (try/except, not contextlib: the watchdog imports neither it nor its deps)
from __future__ import annotations

import os
import resource
import select
import time

from tuiman.core.processes.cgroup_removal import kill_tree, remove_tree

MARKER_ENV = "TUIMAN_INSTANCE"
_SWEEP_ROUNDS = 7
_SWEEP_PAUSE = 0.05  # 7 rounds x 50 ms: catches processes forked while we sweep
_PARENT_POLL_MS = 500  # only without pidfds (Linux < 5.3): how often getppid() is checked
_CGROUP_EMPTY_WAIT = 2.0
# Every import is memory this process keeps: no typing, no contextlib, and `signal`'s C half,
# `_signal` (already loaded by the interpreter): `signal` itself imports enum, ~0.8 MiB here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from typing import NoReturn
else:
    import _signal


# Only os-level calls: no threads, logging or asyncio, and everything ends in os._exit.
def serve(argv: list[str]) -> NoReturn:
    """The watchdog's entry point: `rfd marker tuiman_pid [cgroup_to_move_into]`."""
    _watchdog_main(int(argv[0]), argv[1], int(argv[2]), argv[3] if len(argv) > 3 else None)


class _Orders:
    __slots__ = ("buf", "cgroups", "groups")

    def __init__(self) -> None:
        self.groups: set[int] = set()
        self.cgroups: list[str] = []
        self.buf = b""


def _watchdog_main(rfd: int, marker: str, parent: int, leave_cgroup: str | None) -> NoReturn:
    try:
        # First, before anything else: a ^C in the terminal or a TERM to tuiman's group must not
        # take the watchdog down with it.
        for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
            _signal.signal(sig, _signal.SIG_IGN)
        try:
            os.setsid()
        except OSError:  # a restarted one leads its session already
            pass
        _close_fds_except(rfd)
        os.chdir("/")
        if leave_cgroup:
            _move_into(leave_cgroup)
        orders = _watch(rfd, parent)
        if orders is not None:
            _kill_everything(orders, marker)
    except BaseException:
        pass
    finally:
        os._exit(0)


def _move_into(cgroup: str) -> None:
    try:
        fd = os.open(f"{cgroup}/cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    except OSError:
        pass


def _close_fds_except(keep: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ceiling = 1 << 20 if hard == resource.RLIM_INFINITY else max(hard, keep + 1)
    os.closerange(0, keep)
    os.closerange(keep + 1, ceiling)


def _watch(rfd: int, parent: int) -> _Orders | None:
    """Follow the orders until tuiman dies (the orders to carry out) or says `q` (None)."""
    orders = _Orders()
    os.set_blocking(rfd, False)
    try:
        parent_fd: int | None = os.pidfd_open(parent)
    except OSError:
        parent_fd = None
    if os.getppid() != parent:  # tuiman died before its pidfd was open
        return None if _read(rfd, orders) == "quit" else orders
    poller = select.poll()
    poller.register(rfd, select.POLLIN)
    if parent_fd is not None:
        poller.register(parent_fd, select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll(None if parent_fd is not None else _PARENT_POLL_MS)}
        outcome = _read(rfd, orders)
        if outcome == "quit":
            return None
        gone = parent_fd in ready if parent_fd is not None else os.getppid() != parent
        if outcome == "eof" or gone:
            return orders


def _read(rfd: int, orders: _Orders) -> str | None:
    """Read what is there: "eof" (every writer gone), "quit" (`q`, or a read error) or None."""
    while True:
        try:
            chunk = os.read(rfd, 4096)
        except BlockingIOError:
            return None
        except OSError:
            return "quit"
        if not chunk:
            return "eof"
        *lines, orders.buf = (orders.buf + chunk).split(b"\n")
        for line in lines:
            if line == b"q":
                return "quit"
            if line[:1] == b"c" and len(line) > 1:
                orders.cgroups.append(os.fsdecode(line[1:]))
            elif line[:1] in (b"+", b"-") and line[1:].isdigit():
                if line[:1] == b"+":
                    orders.groups.add(int(line[1:]))
                else:
                    orders.groups.discard(int(line[1:]))


def _kill_everything(orders: _Orders, marker: str) -> None:
    for path in orders.cgroups:  # first: nothing in a cgroup can fork its way out of this
        kill_tree(path)
    for pgid in orders.groups:
        try:
            os.killpg(pgid, _signal.SIGKILL)
        except OSError:  # ESRCH: the group is already empty
            pass
    # Exact NUL-delimited entry, so "X_TUIMAN_INSTANCE=m" or "TUIMAN_INSTANCE=m2" never match.
    needle = b"\0%s=%s\0" % (MARKER_ENV.encode(), os.fsencode(marker))
    for i in range(_SWEEP_ROUNDS):
        if i:
            time.sleep(_SWEEP_PAUSE)
        _sweep(needle)
    for path in orders.cgroups:
        remove_tree(path, _CGROUP_EMPTY_WAIT)


def _sweep(needle: bytes) -> None:
    me = os.getpid()
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            fd = os.open(f"/proc/{name}/environ", os.O_RDONLY)
        except OSError:
            continue
        try:
            env = _read_all(fd)
        finally:
            os.close(fd)
        if needle in b"\0" + env + b"\0":
            try:
                os.kill(int(name), _signal.SIGKILL)
            except OSError:
                pass


def _read_all(fd: int) -> bytes:
    parts: list[bytes] = []
    try:
        while chunk := os.read(fd, 65536):
            parts.append(chunk)
    except OSError:
        pass
    return b"".join(parts)

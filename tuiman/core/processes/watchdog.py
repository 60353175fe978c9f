"""The orphan killer (docs/supervision.md#orphans-and-escapees): a tiny process that outlives a
SIGKILLed tuiman.

`Watchdog.start()` forks it first thing in `main()`, before any thread exists. tuiman tells it
every process group (and its cgroup subtree, where there is one) over a pipe. The watchdog
holds a pidfd of tuiman: when tuiman is gone without a clean `q`, it kills the cgroup subtree,
SIGKILLs those groups and then sweeps /proc for processes whose environment carries this
instance's marker, which also catches `setsid` escapees. The pipe is only for messages, never
the sign of life: a process forked by a hook inherits its write end whatever its flags, and
must not keep the watchdog from noticing tuiman's death
(docs/reliability.md#the-watchdog-cannot-be-blinded-or-lost).

A watchdog that dies while tuiman runs is restarted by `restart()`: a fresh interpreter
(fork and exec, safe with threads), told again every group and cgroup.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import NoReturn

from tuiman.core.processes.cgroups import kill_tree, remove_tree

__all__ = ["MARKER_ENV", "Watchdog", "new_marker", "serve", "set_child_subreaper"]

MARKER_ENV = "TUIMAN_INSTANCE"

_PR_SET_CHILD_SUBREAPER = 36
_SWEEP_ROUNDS = 7
_SWEEP_PAUSE = 0.05  # 7 rounds x 50 ms: catches processes forked while we sweep
_PARENT_POLL_MS = 500  # only without pidfds (Linux < 5.3): how often getppid() is checked
_CGROUP_EMPTY_WAIT = 2.0
_SERVE = "import sys; from tuiman.core.processes.watchdog import serve; serve(sys.argv[1:])"


def new_marker() -> str:
    """A value for MARKER_ENV unique to this tuiman instance."""
    return f"{os.getpid()}-{os.urandom(6).hex()}"  # secrets.token_hex, without its imports


def set_child_subreaper() -> bool:
    """Make orphaned descendants reparent to this process (Linux >= 3.4); True on success."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except Exception:
        return False


class Watchdog:
    """Parent-side handle: `track`/`untrack` process groups, `close` on a clean shutdown.

    Only `start` and `restart` raise (a failed fork or exec). If the watchdog is gone or a
    write fails, the reason is kept in `failure` and later messages are dropped until
    `restart`; the handle remembers every group and cgroup, so a restart tells them again.
    """

    def __init__(self, pid: int, wfd: int, marker: str) -> None:
        self.pid = pid
        self.marker = marker
        self.failure: str | None = None
        self.restarts = 0
        # Where a restarted watchdog moves itself: out of the subtree it would kill.
        self.leave_cgroup: str | None = None
        self._wfd: int | None = wfd
        self._pending = b""
        self._groups: set[int] = set()
        self._cgroups: list[str] = []

    @classmethod
    def start(cls, marker: str) -> Watchdog:
        """Fork the watchdog; call before any thread exists (forking with threads is unsafe)."""
        parent = os.getpid()
        rfd, wfd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(rfd)
            os.close(wfd)
            raise
        if pid == 0:
            _watchdog_main(rfd, marker, parent, None)
        os.close(rfd)
        return cls(pid, _parent_end(wfd), marker)

    def restart(self) -> None:
        """Start a new watchdog in place of a dead one and tell it everything again.

        Fork and exec (threads exist by now); the caller has reaped the old one.
        """
        if self._wfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._wfd)
            self._wfd = None
        rfd, wfd = os.pipe()
        try:
            args = [str(rfd), self.marker, str(os.getpid()), self.leave_cgroup or ""]
            child = subprocess.Popen(
                [sys.executable, "-c", _SERVE, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(rfd,),
                start_new_session=True,
                cwd="/",
            )
        except BaseException:
            os.close(wfd)
            raise
        finally:
            os.close(rfd)
        child.returncode = 0  # the arbiter reaps it by pid; Popen must never wait on it
        self.pid = child.pid
        self._wfd = _parent_end(wfd)
        self._pending = b""
        self.failure = None
        self.restarts += 1
        orders = [b"c%s\n" % os.fsencode(path) for path in self._cgroups]
        orders += [b"+%d\n" % pgid for pgid in sorted(self._groups)]
        if orders:
            self._send(b"".join(orders))

    @property
    def alive(self) -> bool:
        """False once closed or after a failed write."""
        return self._wfd is not None and self.failure is None

    @property
    def closed(self) -> bool:
        return self._wfd is None

    def track(self, pgid: int) -> None:
        """Kill this process group if tuiman dies."""
        self.update([(True, pgid)])

    def untrack(self, pgid: int) -> None:
        """Forget a group (call once it is empty, so a recycled pgid is never killed)."""
        self.update([(False, pgid)])

    def update(self, changes: list[tuple[bool, int]]) -> None:
        """Track (True) or untrack (False) several groups with one write, in order."""
        for add, pgid in changes:
            if pgid > 1:
                (self._groups.add if add else self._groups.discard)(pgid)
        message = b"".join(
            b"%s%d\n" % (b"+" if add else b"-", pgid) for add, pgid in changes if pgid > 1
        )
        if message:
            self._send(message)

    def kill_cgroup(self, path: str) -> None:
        """Kill this cgroup subtree (and remove it) if tuiman dies."""
        self._cgroups.append(path)
        self._send(b"c%s\n" % os.fsencode(path))

    def close(self) -> None:
        """Clean shutdown: the watchdog exits without killing anything. Idempotent."""
        if self._wfd is None:
            return
        self._send(b"q\n")
        if self._pending and self.failure is None:
            self.failure = "could not deliver the shutdown message"
        with contextlib.suppress(OSError):
            os.close(self._wfd)
        self._wfd = None

    def wait(self, timeout: float) -> int | None:
        """Block up to `timeout` s for the watchdog to exit and reap it; its wait status or None.

        Meant for the shutdown path after `close()`; never on the event loop.
        """
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:
            return self._reap()
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            poller.poll(max(0, int(timeout * 1000)))
        finally:
            os.close(pidfd)
        return self._reap()

    def _reap(self) -> int | None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        return status if pid == self.pid else None

    def _send(self, msg: bytes) -> None:
        if self._wfd is None or self.failure is not None:
            return
        data = self._pending + msg
        try:
            while data:
                data = data[os.write(self._wfd, data) :]
        except BlockingIOError:
            pass
        except BrokenPipeError:
            self.failure = "watchdog exited (broken pipe)"
        except OSError as exc:
            self.failure = f"watchdog pipe: {exc.strerror or exc}"
        self._pending = data


def _parent_end(wfd: int) -> int:
    # os.pipe() fds are already close-on-exec (PEP 446); say so explicitly. A plain fork (a
    # hook's multiprocessing helper) still copies it: that is why it is not the sign of life.
    os.set_inheritable(wfd, False)
    # A stopped or stuck watchdog must never freeze the event loop: writes are non-blocking
    # and whatever does not fit is kept and flushed by the next call.
    os.set_blocking(wfd, False)
    return wfd


# ----------------------------------------------------------------------------- the forked side
# Only os-level calls below: no threads, logging or asyncio, and everything ends in os._exit.


def serve(argv: list[str]) -> NoReturn:
    """The entry point of a restarted watchdog: `rfd marker tuiman_pid [cgroup_to_move_into]`."""
    _watchdog_main(int(argv[0]), argv[1], int(argv[2]), argv[3] if len(argv) > 3 else None)


@dataclass
class _Orders:
    groups: set[int] = field(default_factory=set)
    cgroups: list[str] = field(default_factory=list)
    buf: bytes = b""


def _watchdog_main(rfd: int, marker: str, parent: int, leave_cgroup: str | None) -> NoReturn:
    try:
        # First, before anything else: a ^C in the terminal or a TERM to tuiman's group must not
        # take the watchdog down with it.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        with contextlib.suppress(OSError):  # a restarted one leads its session already
            os.setsid()
        _close_fds_except(rfd)
        os.chdir("/")
        if leave_cgroup:
            with contextlib.suppress(OSError):
                fd = os.open(f"{leave_cgroup}/cgroup.procs", os.O_WRONLY)
                try:
                    os.write(fd, b"0")
                finally:
                    os.close(fd)
        orders = _watch(rfd, parent)
        if orders is not None:
            _kill_everything(orders, marker)
    except BaseException:
        pass
    finally:
        os._exit(0)


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
        with contextlib.suppress(OSError):  # ESRCH: the group is already empty
            os.killpg(pgid, signal.SIGKILL)
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
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)


def _read_all(fd: int) -> bytes:
    parts: list[bytes] = []
    try:
        while chunk := os.read(fd, 65536):
            parts.append(chunk)
    except OSError:
        pass
    return b"".join(parts)

"""The orphan killer (docs/supervision.md#orphans-and-escapees): a tiny process that outlives a
SIGKILLed tuiman.

`Watchdog.start()` forks it first thing in `main()`, before any thread exists. tuiman tells it
every process group over a pipe; if the pipe reaches EOF without a clean `q` (tuiman died), it
SIGKILLs those groups and then sweeps /proc for processes whose environment carries this
instance's marker, which also catches `setsid` escapees. Parent-death signals cannot do this:
they need `preexec_fn`, reach only direct children and fire per thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import secrets
import select
import signal
import time
from typing import NoReturn

__all__ = ["MARKER_ENV", "Watchdog", "new_marker", "set_child_subreaper"]

MARKER_ENV = "TUIMAN_INSTANCE"

_PR_SET_CHILD_SUBREAPER = 36
_SWEEP_ROUNDS = 7
_SWEEP_PAUSE = 0.05  # 7 rounds x 50 ms: catches processes forked while we sweep


def new_marker() -> str:
    """A value for MARKER_ENV unique to this tuiman instance."""
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def set_child_subreaper() -> bool:
    """Make orphaned descendants reparent to this process (Linux >= 3.4); True on success."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except Exception:
        return False


class Watchdog:
    """Parent-side handle: `track`/`untrack` process groups, `close` on a clean shutdown.

    Only `start` raises (a failed fork). If the watchdog is gone or a write fails, the reason
    is kept in `failure` and later messages are dropped; supervision goes on unprotected.
    """

    def __init__(self, pid: int, wfd: int) -> None:
        self.pid = pid
        self.failure: str | None = None
        self._wfd: int | None = wfd
        self._pending = b""

    @classmethod
    def start(cls, marker: str) -> Watchdog:
        """Fork the watchdog; call before any thread exists (forking with threads is unsafe)."""
        rfd, wfd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(rfd)
            os.close(wfd)
            raise
        if pid == 0:
            _watchdog_main(rfd, marker)
        os.close(rfd)
        # os.pipe() fds are already close-on-exec (PEP 446); say so explicitly, since a child
        # that inherited the write end would keep the watchdog from ever seeing EOF.
        os.set_inheritable(wfd, False)
        # A stopped or stuck watchdog must never freeze the event loop: writes are non-blocking
        # and whatever does not fit is kept and flushed by the next call.
        os.set_blocking(wfd, False)
        return cls(pid, wfd)

    @property
    def alive(self) -> bool:
        """False once closed or after a failed write."""
        return self._wfd is not None and self.failure is None

    def track(self, pgid: int) -> None:
        """Kill this process group if tuiman dies."""
        if pgid > 1:
            self._send(b"+%d\n" % pgid)

    def untrack(self, pgid: int) -> None:
        """Forget a group (call once it is empty, so a recycled pgid is never killed)."""
        if pgid > 1:
            self._send(b"-%d\n" % pgid)

    def update(self, changes: list[tuple[bool, int]]) -> None:
        """Track (True) or untrack (False) several groups with one write, in order."""
        message = b"".join(
            b"%s%d\n" % (b"+" if add else b"-", pgid) for add, pgid in changes if pgid > 1
        )
        if message:
            self._send(message)

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


# ----------------------------------------------------------------------------- the forked side
# Only os-level calls below: no threads, logging or asyncio, and everything ends in os._exit.


def _watchdog_main(rfd: int, marker: str) -> NoReturn:
    try:
        # First, before anything else: a ^C in the terminal or a TERM to tuiman's group must not
        # take the watchdog down with it.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        os.setsid()
        _close_fds_except(rfd)
        os.chdir("/")
        tracked = _read_until_eof(rfd)
        if tracked is not None:
            _kill_everything(tracked, marker)
    except BaseException:
        pass
    finally:
        os._exit(0)


def _close_fds_except(keep: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ceiling = 1 << 20 if hard == resource.RLIM_INFINITY else max(hard, keep + 1)
    os.closerange(0, keep)
    os.closerange(keep + 1, ceiling)


def _read_until_eof(rfd: int) -> set[int] | None:
    """Track groups until EOF (tuiman died: the groups to kill) or `q` / a read error (None)."""
    tracked: set[int] = set()
    buf = b""
    while True:
        try:
            chunk = os.read(rfd, 4096)
        except OSError:
            return None
        if not chunk:
            return tracked
        *lines, buf = (buf + chunk).split(b"\n")
        for line in lines:
            if line == b"q":
                return None
            if line[:1] in (b"+", b"-") and line[1:].isdigit():
                if line[:1] == b"+":
                    tracked.add(int(line[1:]))
                else:
                    tracked.discard(int(line[1:]))


def _kill_everything(tracked: set[int], marker: str) -> None:
    for pgid in tracked:
        with contextlib.suppress(OSError):  # ESRCH: the group is already empty
            os.killpg(pgid, signal.SIGKILL)
    # Exact NUL-delimited entry, so "X_TUIMAN_INSTANCE=m" or "TUIMAN_INSTANCE=m2" never match.
    needle = b"\0%s=%s\0" % (MARKER_ENV.encode(), os.fsencode(marker))
    for i in range(_SWEEP_ROUNDS):
        if i:
            time.sleep(_SWEEP_PAUSE)
        _sweep(needle)


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

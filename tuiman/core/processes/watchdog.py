"""The orphan killer (docs/supervision.md#orphans-and-escapees): a tiny process that outlives a
SIGKILLed tuiman.

`Watchdog.start()` starts it first thing in `main()`: a fresh interpreter running
`watchdog_serve` (fork and exec, safe with threads, and far smaller than a fork of tuiman would
stay once tuiman's pages are copied on write). tuiman tells it
every process group (and its cgroup subtree, where there is one) over a pipe. The watchdog
holds a pidfd of tuiman: when tuiman is gone without a clean `q`, it kills the cgroup subtree,
SIGKILLs those groups and then sweeps /proc for processes whose environment carries this
instance's marker, which also catches `setsid` escapees. The pipe is only for messages, never
the sign of life: a process forked by a hook inherits its write end whatever its flags, and
must not keep the watchdog from noticing tuiman's death
(docs/reliability.md#the-watchdog-cannot-be-blinded-or-lost).

A watchdog that dies while tuiman runs is restarted by `restart()`: the same start, told again
every group and cgroup.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import subprocess
import sys

from tuiman.core.processes.watchdog_serve import MARKER_ENV

__all__ = ["MARKER_ENV", "Watchdog", "new_marker", "set_child_subreaper"]

_PR_SET_CHILD_SUBREAPER = 36
# -I -S: no site-packages, no PYTHONPATH: only the directory that holds this tuiman package.
_SERVE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from tuiman.core.processes.watchdog_serve import serve; serve(sys.argv[2:])"
)
_PACKAGE_PARENT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)


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
        """Start the watchdog (its own session: a ^C or a TERM to tuiman's group misses it)."""
        pid, wfd = _launch(marker, None)
        return cls(pid, wfd, marker)

    def restart(self) -> None:
        """Start a new watchdog in place of a dead one and tell it everything again.

        The caller has reaped the old one.
        """
        if self._wfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._wfd)
            self._wfd = None
        self.pid, self._wfd = _launch(self.marker, self.leave_cgroup)
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


def _launch(marker: str, leave_cgroup: str | None) -> tuple[int, int]:
    """(pid, write end of its pipe) of a new watchdog process."""
    rfd, wfd = os.pipe()
    try:
        args = [_PACKAGE_PARENT, str(rfd), marker, str(os.getpid()), leave_cgroup or ""]
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _SERVE, *args],
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
    child.returncode = 0  # reaped by pid (Watchdog.wait, the guard); Popen must never wait on it
    return child.pid, _parent_end(wfd)


def _parent_end(wfd: int) -> int:
    # os.pipe() fds are already close-on-exec (PEP 446); say so explicitly. A plain fork (a
    # hook's multiprocessing helper) still copies it: that is why it is not the sign of life.
    os.set_inheritable(wfd, False)
    # A stopped or stuck watchdog must never freeze the event loop: writes are non-blocking
    # and whatever does not fit is kept and flushed by the next call.
    os.set_blocking(wfd, False)
    return wfd

"""Spawning from a thread with its own, small fd table (docs/supervision.md#spawn).

A spawn (vfork) copies the caller's fd table, and the child closes every inherited descriptor
before exec: both cost O(open fds). tuiman holds three per child (two pipes and a pidfd), so
with thousands of children every spawn got slower with their number. The spawner thread
unshares its fd table and its working directory and umask (`unshare(CLONE_FILES | CLONE_FS)`),
keeps only a socket and /dev/null in it, spawns with `posix_spawn` (vfork and exec, no Python
in the child) and hands the pipes' read ends to the shared table over the socket (SCM_RIGHTS).
The loop thread waits for each spawn, as it waited for `Popen` itself.

The thread blocks every signal, so the kernel never runs a signal handler on it (Python's
would write to the loop's wake-up fd, which is not in this thread's table); the child gets an
empty signal mask, and SIGPIPE and SIGXFSZ back to their defaults (Popen's `restore_signals`).
As with Popen's own posix_spawn path, glibc leaves its two internal signals (32 and 33, below
SIGRTMIN) ignored in the child; a program linked with glibc sets them up itself.

Only the plain spawn goes this way (pipes, stdin from /dev/null, no ids, limits, sockets or
pty, a program given by its path); the others, and every spawn where the thread could not be
set up, use `Popen` directly.
"""

from __future__ import annotations

import ctypes
import errno
import os
import queue
import resource
import signal
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_CLONE_FILES = 0x400
_CLONE_FS = 0x200
_RESTORED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


@dataclass(frozen=True, slots=True)
class PlainSpawn:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    program: str  # the path to execute (relative: to cwd)
    umask: int | None


class SpawnedChild:
    """What `ManagedProcess` needs of a `Popen`: the pid, the pipes, kill and wait."""

    __slots__ = ("pid", "returncode", "stderr", "stdin", "stdout")

    def __init__(self, pid: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = None
        self.stdout = open(stdout, "rb", buffering=0)  # noqa: SIM115 (closed by the process)
        self.stderr = open(stderr, "rb", buffering=0)  # noqa: SIM115

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


_Reply = tuple[int, BaseException | None]


class Spawner:
    """The spawner thread and the socket its pipes come over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[PlainSpawn] = queue.SimpleQueue()
        self._replies: queue.SimpleQueue[_Reply] = queue.SimpleQueue()
        self._ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._ours.set_inheritable(False)
        self._their_fd = theirs.detach()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        threading.Thread(target=self._run, name="tuiman-spawner", daemon=True).start()
        self._ready.wait()
        os.close(self._their_fd)  # our table's copy; the thread keeps its own
        if self._failure is not None:
            self._ours.close()
            raise self._failure

    def spawn(self, request: PlainSpawn) -> SpawnedChild:
        """Spawn in the spawner thread; raises what posix_spawn raised (ENOENT, ...)."""
        with self._lock:
            self._requests.put(request)
            pid, error = self._replies.get()
            if error is not None:
                raise error
            _, fds, _, _ = socket.recv_fds(self._ours, 1, 2)
        if len(fds) != 2:  # no room in our fd table for them: the kernel dropped them
            for fd in fds:
                os.close(fd)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)  # SIGKILLed: collected within microseconds
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return SpawnedChild(pid, fds[0], fds[1])

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(_CLONE_FILES | _CLONE_FS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_FILES | CLONE_FS)")
            # From here on this thread's fd table is its own: empty it of tuiman's descriptors.
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            ceiling = 1 << 20 if hard == resource.RLIM_INFINITY else hard
            os.closerange(3, self._their_fd)
            os.closerange(self._their_fd + 1, ceiling)
            sock = socket.socket(fileno=self._their_fd)
            for fd in (0, 1, 2):  # a pipe must never land on a free 0-2 and be dup2'ed over
                try:
                    os.fstat(fd)
                except OSError:
                    os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            default_umask = os.umask(0o022)
            os.umask(default_umask)
        except BaseException as error:
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        while True:
            request = self._requests.get()
            try:
                pid = self._spawn(request, sock, devnull, default_umask)
            except BaseException as error:
                self._replies.put((0, error))
                continue
            self._replies.put((pid, None))

    @staticmethod
    def _spawn(request: PlainSpawn, sock: socket.socket, devnull: int, umask: int) -> int:
        os.chdir(request.cwd)  # this thread's own working directory (CLONE_FS)
        os.umask(umask if request.umask is None else request.umask)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            pid = os.posix_spawn(
                request.program,
                list(request.argv),
                dict(request.env),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, out_write, 1),
                    (os.POSIX_SPAWN_DUP2, err_write, 2),
                ],
                setsid=True,
                setsigmask=(),
                setsigdef=_RESTORED_SIGNALS,
            )
            try:
                socket.send_fds(sock, [b"p"], [out_read, err_read])
            except BaseException:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise
            return pid
        finally:
            for fd in (out_read, out_write, err_read, err_write):
                os.close(fd)  # this table's copies: the sent ones live on in tuiman's


_spawner: Spawner | None = None
_spawner_failed = False


def plain_spawner() -> Spawner | None:
    """The process' spawner, started on first use; None where it cannot run (no unshare)."""
    global _spawner, _spawner_failed
    if _spawner is None and not _spawner_failed:
        try:
            _spawner = Spawner()
        except Exception:
            _spawner_failed = True
    return _spawner

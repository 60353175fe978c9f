"""Claiming an instance's control endpoint: the lock, then the bound socket
(docs/control-protocol.md#where-the-socket-is).

`claim_endpoint` runs before the arbiter starts anything: it takes an exclusive lock on the
lock file beside the socket (a second tuiman on the same config fails here, naming the first
one's pid and socket), replaces a stale socket only while holding that lock, and binds the new
socket under umask 0177 so that it is 0600 from the first instant.

The lock is a POSIX record lock (`lockf`), not a `flock`: a record lock belongs to the process,
so it ends with tuiman even when a process forked by a hook still holds a copy of the fd (a
`flock` belongs to the open file and would outlive tuiman in that copy). Record locks never
conflict within one process, so this module also remembers which lock files it holds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from pathlib import Path

from tuiman.control.paths import (
    ControlSetupError,
    check_path_length,
    ensure_chosen_dir,
    ensure_private_dir,
    lock_path_for,
)

LISTEN_BACKLOG = 128
# (st_dev, st_ino) of the lock files this process holds: a second claim here is refused too.
# Only ever checked before opening: closing any fd of a locked file drops a record lock.
_held: set[tuple[int, int]] = set()


class InstanceRunning(ControlSetupError):
    """Another tuiman holds the lock of this config."""

    def __init__(self, pid: int | None, socket_path: Path) -> None:
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"another tuiman is already running this config ({who}); control socket: {socket_path}"
        )
        self.pid = pid
        self.socket_path = socket_path


class ControlEndpoint:
    """The held lock and the listening socket of one instance."""

    def __init__(self, socket_path: Path, lock_fd: int, listener: socket.socket) -> None:
        self.socket_path = socket_path
        self.lock_path = lock_path_for(socket_path)
        self.listener = listener
        self._lock_fd: int | None = lock_fd
        self._inode = os.stat(socket_path).st_ino

    def remove_socket(self) -> None:
        """Unlink the socket file if it is still ours (never someone else's replacement)."""
        with contextlib.suppress(OSError):
            if os.lstat(self.socket_path).st_ino == self._inode:
                os.unlink(self.socket_path)

    def close(self) -> None:
        """Remove the socket, close the listener, then release the lock (in that order)."""
        self.remove_socket()
        with contextlib.suppress(OSError):
            self.listener.close()
        if self._lock_fd is not None:
            # Unlinked while still held: a waiting instance notices (see _take_lock) and retries.
            with contextlib.suppress(OSError):
                if os.lstat(self.lock_path).st_ino == os.fstat(self._lock_fd).st_ino:
                    os.unlink(self.lock_path)
            with contextlib.suppress(OSError):
                info = os.fstat(self._lock_fd)
                _held.discard((info.st_dev, info.st_ino))
            os.close(self._lock_fd)
            self._lock_fd = None


def claim_endpoint(socket_path: Path, *, private_dir: bool) -> ControlEndpoint:
    """Lock the instance and bind its socket; raises ControlSetupError (exit 2)."""
    check_path_length(socket_path)
    if private_dir:
        ensure_private_dir(socket_path.parent)
    else:
        ensure_chosen_dir(socket_path.parent)
    lock_fd = _take_lock(lock_path_for(socket_path), socket_path)
    try:
        _remove_stale_socket(socket_path)
        listener = _bind(socket_path)
        return ControlEndpoint(socket_path, lock_fd, listener)
    except BaseException:
        with contextlib.suppress(OSError):
            info = os.fstat(lock_fd)
            _held.discard((info.st_dev, info.st_ino))
        os.close(lock_fd)
        raise


def _take_lock(lock_path: Path, socket_path: Path) -> int:
    for _ in range(10):
        fd = _lock_once(lock_path, socket_path)
        if fd is not None:
            return fd
    raise ControlSetupError(f"lock file {lock_path} keeps being replaced")


def _lock_once(lock_path: Path, socket_path: Path) -> int | None:
    """The locked fd; None if the file was unlinked (by an exiting owner) while we locked it."""
    with contextlib.suppress(OSError):
        existing = os.lstat(lock_path)
        if (existing.st_dev, existing.st_ino) in _held:
            raise InstanceRunning(os.getpid(), socket_path)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(lock_path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ControlSetupError(f"lock file {lock_path} is a symlink; refusing it") from None
        raise ControlSetupError(f"cannot open lock file {lock_path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise ControlSetupError(f"lock file {lock_path} is not a regular file of ours")
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise ControlSetupError(f"cannot lock {lock_path}: {error.strerror}") from None
            raise InstanceRunning(_read_pid(fd), socket_path) from None
        try:
            current = os.lstat(lock_path).st_ino
        except FileNotFoundError:
            current = None
        if current != info.st_ino:
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held.add((info.st_dev, info.st_ino))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _remove_stale_socket(socket_path: Path) -> None:
    """Called with the lock held: whatever socket is there belongs to a dead instance."""
    try:
        info = os.lstat(socket_path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ControlSetupError(f"control socket {socket_path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlSetupError(f"{socket_path} exists and is not a socket; not replacing it")
    try:
        os.unlink(socket_path)
    except OSError as exc:
        raise ControlSetupError(
            f"cannot remove stale socket {socket_path}: {exc.strerror}"
        ) from None


def _bind(socket_path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous_umask = os.umask(0o177)
    try:
        listener.bind(str(socket_path))
    except OSError as exc:
        listener.close()
        raise ControlSetupError(
            f"cannot bind control socket {socket_path}: {exc.strerror}"
        ) from None
    finally:
        os.umask(previous_umask)
    listener.listen(LISTEN_BACKLOG)
    listener.setblocking(False)
    return listener

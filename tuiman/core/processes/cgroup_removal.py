"""Killing and removing a cgroup v2 subtree: what the watchdog needs of `cgroups`, with nothing
it does not (the watchdog process imports this module, and every import is memory it keeps)."""

# ruff: noqa: SIM105  (try/except, not contextlib: the watchdog imports neither it nor its deps)
from __future__ import annotations

import os
import select
import time

__all__ = ["kill_tree", "remove_tree"]


def kill_tree(root: str) -> None:
    """`cgroup.kill` a subtree (every descendant leaf with it); quiet if it is gone."""
    try:
        _write(f"{root}/cgroup.kill", b"1")
    except OSError:
        pass


def remove_tree(root: str, timeout: float) -> bool:
    """rmdir the subtree, leaves first, once the processes killed in it have exited."""
    try:
        events = os.open(f"{root}/cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        _wait_unpopulated(events, time.monotonic() + timeout)
    finally:
        os.close(events)
    for directory, subdirs, _files in os.walk(root, topdown=False):
        for name in subdirs:
            try:
                os.rmdir(os.path.join(directory, name))
            except OSError:
                pass
    try:
        os.rmdir(root)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _populated(events_fd: int) -> bool:
    return b"populated 1" in os.pread(events_fd, 256, 0)


def _wait_unpopulated(events_fd: int, deadline: float) -> bool:
    """Wait until the cgroup (with its descendants) holds no process: the kernel wakes poll()
    with POLLPRI whenever `cgroup.events` changes, and a read re-arms it. True once empty."""
    poller = select.poll()
    poller.register(events_fd, select.POLLPRI)
    while _populated(events_fd):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        poller.poll(remaining * 1000)
    return True


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)

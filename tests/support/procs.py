"""The one reader of the process table (/proc, Linux) for the tests, and killing by pid.

Processes are found by pid or by an environment tag (`TEST_TAG=...`), never by name. A zombie
counts as dead: it has exited, only its exit status is left to collect.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/PID/stat the tests look at."""

    state: str  # one letter: R, S, D, T, Z, X, ...
    ppid: int
    pgid: int
    rss_pages: int


def stat(pid: int) -> Stat | None:
    """`pid`'s /proc/PID/stat, or None once it is gone (reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            data = stat_file.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold ')' or spaces: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return Stat(fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[21]))


def state(pid: int) -> str | None:
    """The one-letter state of `pid` (R, S, Z, ...), or None once it is gone."""
    found = stat(pid)
    return None if found is None else found.state


def alive(pid: int) -> bool:
    """Running (or stopped), not a zombie and not gone."""
    return state(pid) not in (None, "Z", "X")


def ppid(pid: int) -> int | None:
    found = stat(pid)
    return None if found is None else found.ppid


def pgid(pid: int) -> int | None:
    found = stat(pid)
    return None if found is None else found.pgid


def command_name(pid: int) -> str | None:
    """The kernel's name of `pid`'s program (/proc/PID/comm, 15 characters at most): what it
    last exec'd, or its parent's name while a forked child has not exec'd yet."""
    try:
        with open(f"/proc/{pid}/comm") as comm_file:
            return comm_file.read().rstrip("\n")
    except OSError:
        return None


def children(pid: int) -> set[int]:
    """Direct children of every thread of `pid` (hook threads spawn too)."""
    found: set[int] = set()
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError), open(path) as children_file:
            found.update(int(child) for child in children_file.read().split())
    return found


def zombie_children(pid: int | None = None) -> set[int]:
    """Zombies whose parent is `pid` (default: this test process)."""
    parent = os.getpid() if pid is None else pid
    return {child for child in children(parent) if state(child) == "Z"}


def environ(pid: int) -> dict[str, str] | None:
    """`pid`'s environment as it was at exec, or None if it is gone or not ours to read."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ_file:
            raw = environ_file.read()
    except OSError:
        return None
    pairs = (entry.partition(b"=") for entry in raw.split(b"\0") if entry)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, _, value in pairs}


def pids_with_env(name: str, value: str) -> list[int]:
    """Live processes whose environment has `name=value`."""
    needle = f"{name}={value}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ_file:
                if needle in environ_file.read().split(b"\0") and alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return sorted(found)


def tagged_pids(tag: str) -> list[int]:
    """Live processes whose environment carries TEST_TAG=tag."""
    return pids_with_env("TEST_TAG", tag)


def kill_quietly(pid: int) -> None:
    """SIGKILL `pid`'s process group (if it leads one) and `pid`; gone already is fine."""
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(pid, signal.SIGKILL)


def kill_tagged(tag: str) -> None:
    for pid in tagged_pids(tag):
        kill_quietly(pid)


def fd_count() -> int:
    """Open file descriptors of this test process."""
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    """Resident memory of this test process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

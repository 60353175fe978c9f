"""Linux /proc helpers for the benchmark: process trees, tags, CPU, memory, threads, sweeping.

Stdlib only. Everything is read straight from /proc so that the measuring side costs little:
no psutil objects, no per-poll full scans unless asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterable

CLK_TCK = os.sysconf("SC_CLK_TCK")
TAG_ENV = "TUIMAN_BENCH_TAG"  # set only on the workload processes of one measured run
RUN_ENV = "TUIMAN_BENCH_RUN"  # set on the harness and inherited by everything it starts

_PR_SET_CHILD_SUBREAPER = 36


def read_bytes(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        parts = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return None
            if not chunk:
                break
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def environ(pid: int) -> bytes:
    """The NUL-separated environment of a process; empty for zombies, gone or unreadable ones."""
    return read_bytes(f"/proc/{pid}/environ") or b""


def env_needle(name: str, value: str) -> bytes:
    return b"\0" + f"{name}={value}".encode() + b"\0"


def has_needle(pid: int, needle: bytes) -> bool:
    env = environ(pid)
    return bool(env) and needle in b"\0" + env


def stat_fields(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat fields after the command name: [state, ppid, pgrp, ...]."""
    data = read_bytes(f"/proc/{pid}/stat")
    if not data:
        return None
    return data[data.rfind(b")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """Exists and is not a zombie (a zombie is dead for every purpose here)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the whole process (all its threads, living and exited)."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def system_busy_seconds() -> float:
    """CPU-seconds all CPUs have spent busy since boot (everything but idle and iowait)."""
    data = read_bytes("/proc/stat") or b""
    fields = [int(x) for x in data.split(b"\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # user..steal minus idle, iowait


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def status_value(pid: int, key: str) -> int | None:
    data = read_bytes(f"/proc/{pid}/status")
    if not data:
        return None
    prefix = key.encode() + b":"
    for line in data.splitlines():
        if line.startswith(prefix):
            return int(line.split()[1])
    return None


def rss_kib(pid: int) -> int | None:
    return status_value(pid, "VmRSS")


def threads(pid: int) -> int | None:
    return status_value(pid, "Threads")


def pss_kib(pid: int) -> int | None:
    data = read_bytes(f"/proc/{pid}/smaps_rollup")
    if not data:
        return None
    for line in data.splitlines():
        if line.startswith(b"Pss:"):
            return int(line.split()[1])
    return None


def children(pid: int) -> list[int]:
    """Direct children of every thread of `pid` (CONFIG_PROC_CHILDREN)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for tid in tids:
        data = read_bytes(f"/proc/{pid}/task/{tid}/children")
        if data:
            out.extend(int(x) for x in data.split())
    return out


def children_supported() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def scan(needles: Iterable[bytes], prefix_needles: Iterable[bytes] = ()) -> list[int]:
    """Full /proc scan: living processes whose environment holds one of the needles.

    A needle is an exact `\\0NAME=VALUE\\0`; a prefix needle `\\0NAME=VALUE-PREFIX` matches any
    value starting with it. Zombies have an empty environ and never match.
    """
    needles = tuple(needles)
    prefix_needles = tuple(prefix_needles)
    me = os.getpid()
    found = []
    for pid in all_pids():
        if pid == me:
            continue
        env = environ(pid)
        if not env:
            continue
        env = b"\0" + env
        if any(n in env for n in needles) or any(p in env for p in prefix_needles):
            found.append(pid)
    return found


def set_child_subreaper() -> bool:
    """Orphans of the managers reparent to the harness, which reaps them (no zombies linger)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except Exception:
        return False


def reap_adopted(keep: Iterable[int] = ()) -> int:
    """waitpid() every zombie child of the harness that no Popen object owns."""
    keep = set(keep)
    reaped = 0
    for pid in children(os.getpid()):
        if pid in keep:
            continue
        fields = stat_fields(pid)
        if fields is not None and fields[0] == b"Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
                reaped += 1
    return reaped


def kill_all(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def killpg(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def sweep(
    needles: Iterable[bytes],
    prefix_needles: Iterable[bytes] = (),
    timeout: float = 10.0,
    keep: Iterable[int] = (),
) -> list[int]:
    """SIGKILL every tagged process until none is left (or timeout); the pids still alive."""
    needles = tuple(needles)
    prefix_needles = tuple(prefix_needles)
    keep = set(keep)
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in scan(needles, prefix_needles) if p not in keep]
        if not pids:
            reap_adopted(keep)
            return []
        kill_all(pids)
        reap_adopted(keep)
        if time.monotonic() > deadline:
            return pids
        time.sleep(0.02)


class Tracker:
    """Finds the tagged workload processes under a manager, cheaply enough to poll every few ms.

    Walks the manager's children; a child carrying the tag is a workload process (not descended
    into); a child without it (a helper such as tuiman's watchdog or Circus' plugin, or a child
    between fork and exec, which still shows the manager's environment) is descended into and
    looked at again on the next poll. Known tagged pids are not re-read.
    """

    def __init__(self, root: int, tag: str) -> None:
        self.root = root
        self.needle = env_needle(TAG_ENV, tag)
        self.tagged: set[int] = set()

    def poll(self) -> set[int]:
        """Tagged pids currently listed as children (zombies not yet reaped included)."""
        current: set[int] = set()
        frontier = [self.root]
        seen = {self.root}
        while frontier:
            parent = frontier.pop()
            for pid in children(parent):
                if pid in seen:
                    continue
                seen.add(pid)
                if pid in self.tagged:
                    current.add(pid)
                elif has_needle(pid, self.needle):
                    self.tagged.add(pid)
                    current.add(pid)
                else:
                    frontier.append(pid)
        return current

    def helpers(self) -> list[int]:
        """Non-workload descendants of the manager (its own helper processes)."""
        out = []
        frontier = [self.root]
        while frontier:
            parent = frontier.pop()
            for pid in children(parent):
                if pid in self.tagged or has_needle(pid, self.needle):
                    continue
                out.append(pid)
                frontier.append(pid)
        return out

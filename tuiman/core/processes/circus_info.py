"""Circus' per-process info dict (what `extended_stats` hooks get), key for key and in its
formats: `circus.util.get_info` and `circus.process.Process.info` of Circus 0.19.

`read_details` reads what the periodic sampler does not (user, nice, command line, CPU times
with the children's, start time): blocking, for a worker thread, and only when extended stats
are asked for, so the sampler stays at one /proc read per process.
"""

from __future__ import annotations

import os
import pwd
import shlex
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tuiman.core.processes.procfs import read_small, stat_fields
from tuiman.core.processes.stats import ProcessStats, boot_time, bytes2human

NOT_AVAILABLE = "N/A"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcessDetails:
    username: str
    nice: int | str  # "N/A", or "Zombie" as Circus when the process is gone
    create_time: float | str
    ctime: str
    cmdline: str


def ctime_text(cpu_seconds: float) -> str:
    """Circus' `ctime`: minutes:seconds.centiseconds — with its quirk of taking the first two
    digits of the microseconds (5 ms shows as `.50`)."""
    spent = timedelta(seconds=cpu_seconds)
    minutes, seconds = spent.seconds // 60 % 60, str(spent.seconds % 60).zfill(2)
    return f"{minutes}:{seconds}.{str(spent.microseconds)[:2]}"


def cmdline_name(argv: list[str]) -> str:
    """Circus' `cmdline`: the base name of the program (argv[0], split as a shell would)."""
    try:
        return os.path.basename(shlex.split(argv[0])[0])
    except (IndexError, ValueError):
        return NOT_AVAILABLE


def read_details(pids: Iterable[int]) -> dict[int, ProcessDetails]:
    """Blocking (/proc): run it in a worker thread. A process that is gone is left out.

    What psutil would answer, read directly: /proc/PID/stat (nice, CPU times, start time),
    /proc/PID/status (the real uid) and /proc/PID/cmdline — about 6x less than psutil's objects
    cost per process, for a view that repeats every second.
    """
    booted = boot_time()
    names: dict[int, str] = {}  # uid -> user name: one passwd lookup per user and call
    details: dict[int, ProcessDetails] = {}
    for pid in pids:
        found = _details(pid, booted, names)
        if found is not None:
            details[pid] = found
    return details


def _details(pid: int, boot_time: float, names: dict[int, str]) -> ProcessDetails | None:
    fields = stat_fields(pid)
    if fields is None or fields[0] in (b"Z", b"X"):
        return None
    try:
        # utime, stime, cutime, cstime and the block I/O delay: psutil's cpu_times(), summed
        # as Circus sums them (each converted to seconds first).
        cpu_seconds = sum(float(fields[i]) / _CLOCK_TICKS for i in (11, 12, 13, 14, 39))
        nice: int | str = int(fields[16])
        create_time: float | str = float(fields[19]) / _CLOCK_TICKS + boot_time
    except (IndexError, ValueError):
        return None
    return ProcessDetails(
        username=_username(pid, names),
        nice=nice,
        create_time=create_time,
        ctime=ctime_text(cpu_seconds),
        cmdline=_cmdline(pid),
    )


def _username(pid: int, names: dict[int, str]) -> str:
    status = read_small(f"/proc/{pid}/status")
    start = -1 if status is None else status.find(b"\nUid:")
    if status is None or start < 0:
        return NOT_AVAILABLE
    real_uid = int(status[start + 5 : status.index(b"\n", start + 5)].split()[0])
    if real_uid not in names:
        try:
            names[real_uid] = pwd.getpwuid(real_uid).pw_name
        except KeyError:
            names[real_uid] = str(real_uid)  # as psutil: a uid with no name
    return names[real_uid]


def _cmdline(pid: int) -> str:
    """psutil's cmdline() (NUL-separated; a rewritten title with spaces is split on them),
    then Circus' base name of its first word."""
    data = read_small(f"/proc/{pid}/cmdline")
    if not data:
        return NOT_AVAILABLE
    text = os.fsdecode(data)
    separator = "\0" if text.endswith("\0") else " "
    text = text.removesuffix(separator)
    argv = text.split(separator)
    if separator == "\0" and len(argv) == 1 and " " in text:
        argv = text.split(" ")
    return cmdline_name(argv)


def circus_info(
    stats: ProcessStats, details: Mapping[int, ProcessDetails], *, wid: int, started: float
) -> dict[str, Any]:
    """One managed process as `Process.info()`: `get_info` of it, with `age` since its spawn,
    `started`, `wid`, and `children` each as `get_info` of the child. tuiman's `rss`, `vms`
    and `num_threads` come last."""
    info = _get_info(stats, details.get(stats.pid))
    info["age"] = max(0.0, time.time() - started)
    info["started"] = started
    info["children"] = [_get_info(child, details.get(child.pid)) for child in stats.children_stats]
    info["wid"] = wid
    info.update(rss=stats.rss, vms=stats.vms, num_threads=stats.num_threads)
    return info


def _get_info(stats: ProcessStats, details: ProcessDetails | None) -> dict[str, Any]:
    create_time = details.create_time if details is not None else NOT_AVAILABLE
    age: float | str = (
        time.time() - create_time if isinstance(create_time, float) else NOT_AVAILABLE
    )
    return {
        "mem_info1": bytes2human(stats.rss),
        "mem_info2": bytes2human(stats.vms),
        "cpu": stats.cpu_percent,
        "mem": round(stats.memory_percent, 3),
        "ctime": details.ctime if details is not None else NOT_AVAILABLE,
        "pid": stats.pid,
        "username": details.username if details is not None else NOT_AVAILABLE,
        "nice": details.nice if details is not None else NOT_AVAILABLE,
        "create_time": create_time,
        "age": age,
        "cmdline": details.cmdline if details is not None else NOT_AVAILABLE,
        "children": [],
    }

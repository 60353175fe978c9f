"""Circus' per-process info dict (what `extended_stats` hooks get), key for key and in its
formats: `circus.util.get_info` and `circus.process.Process.info` of Circus 0.19.

`read_details` reads what the periodic sampler does not (user, nice, command line, CPU times
with the children's, start time): blocking, for a worker thread, and only when extended stats
are asked for, so the sampler stays at one /proc read per process.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs in the deps

from tuiman.core.processes.stats import ProcessStats, bytes2human

NOT_AVAILABLE = "N/A"


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
    """Blocking (/proc): run it in a worker thread. A process that is gone is left out."""
    details: dict[int, ProcessDetails] = {}
    for pid in pids:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                details[pid] = _details(process)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return details


def _details(process: psutil.Process) -> ProcessDetails:
    def attempt(read: Any, denied: Any = NOT_AVAILABLE) -> Any:
        try:
            return read()
        except psutil.AccessDenied:
            return denied

    try:
        nice: int | str = process.nice()
    except psutil.AccessDenied:
        nice = NOT_AVAILABLE
    except psutil.NoSuchProcess:
        nice = "Zombie"
    cpu_times = attempt(process.cpu_times, None)
    argv = attempt(process.cmdline, None)
    return ProcessDetails(
        username=attempt(process.username),
        nice=nice,
        create_time=attempt(process.create_time),
        ctime=NOT_AVAILABLE if cpu_times is None else ctime_text(sum(cpu_times)),
        cmdline=NOT_AVAILABLE if argv is None else cmdline_name(argv),
    )


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

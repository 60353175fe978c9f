"""Sampling of managed processes (docs/output-and-stats.md#stats): CPU, memory, threads, children.

`StatsSampler.sample` is synchronous and meant for a worker thread; `sample_async` runs it in
the default executor so that no /proc read ever happens on the event-loop thread.

Each process costs one read of /proc/PID/stat, which holds everything shown (state, CPU ticks,
threads, start time, virtual size, resident pages). psutil reads three or four files per
process for the same figures; with 100 processes sampled every second that was most of the
sampler's cost.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass, replace

from tuiman.core.payloads import ProcessStatsEntry
from tuiman.core.processes.procfs import stat_fields, task_children

__all__ = ["ProcessStats", "StatsSampler", "bytes2human"]

_SYMBOLS = ("K", "M", "G", "T", "P", "E", "Z", "Y")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def bytes2human(n: int) -> str:
    """Circus' memory format: 10000 -> '9.77K', 100001221 -> '95.37M', 512 -> '512B'."""
    for i in range(len(_SYMBOLS) - 1, -1, -1):
        unit = 1 << (i + 1) * 10
        if n >= unit:
            return f"{round(n / unit, 2):.2f}{_SYMBOLS[i]}"
    return f"{n}B"


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """One process at one sample. `age` is wall-clock based: for display only."""

    pid: int
    cpu_percent: float  # 0.0 on the first sample of a pid (no interval to span yet)
    rss: int
    vms: int
    memory_percent: float
    num_threads: int
    children: tuple[int, ...]  # direct children, as Circus
    age: float
    children_stats: tuple[ProcessStats, ...] = ()  # the children that could be sampled
    status: str = ""  # the state letter of /proc/PID/stat (T: stopped by a signal)

    def as_circus_dict(self, wid: int) -> ProcessStatsEntry:
        """Circus' extended-stats shape (what `extended_stats` hooks receive), plus tuiman keys."""
        info = self._circus_info()
        info["wid"] = wid
        info["children"] = [child._circus_info() for child in self.children_stats]
        return info

    def _circus_info(self) -> ProcessStatsEntry:
        return {
            "pid": self.pid,
            "cpu": self.cpu_percent,
            "mem": round(self.memory_percent, 3),
            "mem_info1": bytes2human(self.rss),
            "mem_info2": bytes2human(self.vms),
            "age": self.age,
            "children": [],
            # tuiman's additions
            "rss": self.rss,
            "vms": self.vms,
            "num_threads": self.num_threads,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class _Reading:
    """The last sample of a pid: what the next CPU % is computed against."""

    started_ticks: int  # start time since boot: a recycled pid has another one
    cpu_ticks: int
    when: float  # monotonic


class StatsSampler:
    """Samples processes from /proc, keeping each pid's last reading so that CPU % spans two
    samples (as psutil's `cpu_percent(interval=None)`: 0.0 on the first one).

    `sample` may be called from any one thread at a time (a lock serialises callers).
    """

    def __init__(self) -> None:
        self._procs: dict[int, _Reading] = {}
        self._lock = threading.Lock()
        self._total_memory = 0  # read by the first sample: nothing of this runs on the loop
        self._boot_time = 0.0
        self._inflight: tuple[asyncio.Future[dict[int, ProcessStats]], frozenset[int]] | None
        self._inflight = None

    def sample(self, pids: Iterable[int]) -> dict[int, ProcessStats]:
        """Stats for those of `pids` that are alive (gone, zombie or unreadable: absent).

        Blocking (reads /proc): run it in a worker thread. Never raises for a process that
        vanishes mid-sample.
        """
        wanted = {pid for pid in pids if pid > 0}
        with self._lock:
            if not self._total_memory:
                self._total_memory = os.sysconf("SC_PHYS_PAGES") * _PAGE_SIZE
                self._boot_time = boot_time()
            fields_of = {pid: stat_fields(pid) for pid in wanted}
            single = {
                pid for pid, fields in fields_of.items() if fields and fields[17:18] == [b"1"]
            }
            tree = _children_map(wanted, single_threaded=single)
            keep = set(wanted)
            for pid in wanted:
                keep.update(tree.get(pid, ()))
            for pid in self._procs.keys() - keep:
                del self._procs[pid]

            now, monotonic = time.time(), time.monotonic()
            done: dict[int, ProcessStats | None] = {}

            def once(pid: int) -> ProcessStats | None:
                if pid not in done:
                    fields = fields_of[pid] if pid in fields_of else stat_fields(pid)
                    done[pid] = self._one(pid, fields, tuple(tree.get(pid, ())), now, monotonic)
                return done[pid]

            result: dict[int, ProcessStats] = {}
            for pid in wanted:
                stats = once(pid)
                if stats is None:
                    continue
                if not stats.children:
                    result[pid] = stats
                    continue
                kids = (once(child) for child in stats.children)
                result[pid] = replace(stats, children_stats=tuple(k for k in kids if k is not None))
            return result

    async def sample_async(self, pids: Iterable[int]) -> dict[int, ProcessStats]:
        """`sample` in the default executor, with at most one sample in flight.

        A call made while a sample runs joins it if that sample covers every pid it asks for
        (and gets the result restricted to its pids); otherwise it waits for it to finish and
        then runs its own. Cancelling a caller never cancels the shared sample.
        """
        wanted = frozenset(pids)
        while self._inflight is not None and not self._inflight[0].done():
            future, covered = self._inflight
            result = await asyncio.shield(future)
            if wanted <= covered:
                return {pid: s for pid, s in result.items() if pid in wanted}
        future = asyncio.get_running_loop().run_in_executor(None, self.sample, wanted)
        self._inflight = (future, wanted)
        # Cleared when the worker is done, not when this caller is: a cancelled caller must
        # not let a second sample start while the first still runs in its thread.
        future.add_done_callback(self._clear_inflight)
        return await asyncio.shield(future)

    def _clear_inflight(self, future: asyncio.Future[dict[int, ProcessStats]]) -> None:
        if self._inflight is not None and self._inflight[0] is future:
            self._inflight = None
        if not future.cancelled():
            future.exception()  # retrieved, so an orphaned failure is not logged as unhandled

    def _one(
        self,
        pid: int,
        fields: list[bytes] | None,
        children: tuple[int, ...],
        now: float,
        monotonic: float,
    ) -> ProcessStats | None:
        if fields is None or fields[0] in (b"Z", b"X"):  # gone, or exited and not reaped
            self._procs.pop(pid, None)
            return None
        try:
            cpu_ticks = int(fields[11]) + int(fields[12])  # utime + stime
            threads, started_ticks = int(fields[17]), int(fields[19])
            vms, rss = int(fields[20]), int(fields[21]) * _PAGE_SIZE
        except (IndexError, ValueError):
            return None
        previous = self._procs.get(pid)
        cpu = 0.0
        if previous is not None and previous.started_ticks == started_ticks:
            elapsed = monotonic - previous.when
            if elapsed > 0:
                cpu = (cpu_ticks - previous.cpu_ticks) / _CLOCK_TICKS / elapsed * 100
        self._procs[pid] = _Reading(started_ticks, cpu_ticks, monotonic)
        return ProcessStats(
            pid=pid,
            cpu_percent=max(cpu, 0.0),
            rss=rss,
            vms=vms,
            memory_percent=100.0 * rss / self._total_memory if self._total_memory else 0.0,
            num_threads=threads,
            children=children,
            age=max(0.0, now - (self._boot_time + started_ticks / _CLOCK_TICKS)),
            status=fields[0].decode("ascii", "replace"),
        )


def boot_time() -> float:
    """When the machine booted, in epoch seconds (/proc/stat's btime, as psutil reads it)."""
    with open("/proc/stat", "rb") as stat_file:
        for line in stat_file:
            if line.startswith(b"btime "):
                return float(line.split()[1])
    return 0.0  # pragma: no cover - every Linux /proc/stat has btime


def _children_map(
    parents: Iterable[int], single_threaded: Container[int] = ()
) -> dict[int, list[int]]:
    """ppid -> child pids for `parents`, built once per sample.

    The kernel keeps each task's children list (/proc/PID/task/TID/children), so the map costs
    one small read per managed process instead of a scan of every process on the machine (a
    busy host has thousands); a process known to have one thread has one such file, named
    after itself. Without that file (CONFIG_PROC_CHILDREN off), one pass over the process table.
    """
    tree: dict[int, list[int]] = {}
    parent_list = list(parents)
    if parent_list and not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        return _children_map_by_scan()
    for parent in parent_list:
        kids = task_children(parent, [str(parent)] if parent in single_threaded else None)
        if kids:
            tree[parent] = kids
    return tree


def _children_map_by_scan() -> dict[int, list[int]]:
    import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs in the deps

    tree: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["pid", "ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            tree.setdefault(ppid, []).append(proc.info["pid"])
    return tree

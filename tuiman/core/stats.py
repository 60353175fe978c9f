"""psutil sampling of managed processes (SPEC §6.2).

`StatsSampler.sample` is synchronous and meant for a worker thread; `sample_async` runs it in
the default executor so that no psutil call ever happens on the event-loop thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import psutil  # type: ignore[import-untyped, unused-ignore]  # no stubs in the deps

__all__ = ["ProcessStats", "StatsSampler", "bytes2human"]

_SYMBOLS = ("K", "M", "G", "T", "P", "E", "Z", "Y")


def bytes2human(n: int) -> str:
    """Circus' memory format: 10000 -> '9K', 100001221 -> '95M', 512 -> '512B'."""
    for i in range(len(_SYMBOLS) - 1, -1, -1):
        unit = 1 << (i + 1) * 10
        if n >= unit:
            return f"{n // unit}{_SYMBOLS[i]}"
    return f"{n}B"


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """One process at one sample. `age` is wall-clock based: for display only."""

    pid: int
    cpu_percent: float  # 0.0 on the first sample of a pid (psutil needs a previous reading)
    rss: int
    vms: int
    memory_percent: float
    num_threads: int
    children: tuple[int, ...]  # direct children, as Circus
    age: float
    children_stats: tuple[ProcessStats, ...] = ()  # the children that could be sampled

    def as_circus_dict(self, wid: int) -> dict[str, Any]:
        """Circus' extended-stats shape (what `extended_stats` hooks receive), plus tuiman keys."""
        info = self._circus_info()
        info["wid"] = wid
        info["children"] = [child._circus_info() for child in self.children_stats]
        return info

    def _circus_info(self) -> dict[str, Any]:
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
        }


class StatsSampler:
    """Samples processes with cached `psutil.Process` objects, so that CPU % spans two samples.

    `sample` may be called from any one thread at a time (a lock serialises callers).
    """

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        self._total_memory = 0  # read by the first sample: no psutil call on the loop thread
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
                self._total_memory = psutil.virtual_memory().total
            tree = _children_map(wanted)
            keep = set(wanted)
            for pid in wanted:
                keep.update(tree.get(pid, ()))
            for pid in self._procs.keys() - keep:
                del self._procs[pid]

            now = time.time()
            done: dict[int, ProcessStats | None] = {}

            def once(pid: int) -> ProcessStats | None:
                if pid not in done:
                    done[pid] = self._one(pid, tuple(tree.get(pid, ())), now)
                return done[pid]

            result: dict[int, ProcessStats] = {}
            for pid in wanted:
                stats = once(pid)
                if stats is None:
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

    def _one(self, pid: int, children: tuple[int, ...], now: float) -> ProcessStats | None:
        proc = self._procs.get(pid)
        try:
            if proc is None or not proc.is_running():  # new, or the pid was recycled
                proc = self._procs[pid] = psutil.Process(pid)
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.ZombieProcess(pid)
                cpu = proc.cpu_percent(interval=None)
                mem = proc.memory_info()
                threads = proc.num_threads()
                created = proc.create_time()
        except psutil.Error:  # NoSuchProcess, ZombieProcess, AccessDenied
            self._procs.pop(pid, None)
            return None
        return ProcessStats(
            pid=pid,
            cpu_percent=cpu,
            rss=mem.rss,
            vms=mem.vms,
            memory_percent=100.0 * mem.rss / self._total_memory if self._total_memory else 0.0,
            num_threads=threads,
            children=children,
            age=max(0.0, now - created),
        )


def _children_map(parents: Iterable[int]) -> dict[int, list[int]]:
    """ppid -> child pids for `parents`, built once per sample.

    The kernel keeps each task's children list (/proc/PID/task/TID/children), so the map costs
    one small read per managed process instead of a scan of every process on the machine (a
    busy host has thousands). Without that file (CONFIG_PROC_CHILDREN off), one pass over the
    process table.
    """
    tree: dict[int, list[int]] = {}
    parent_list = list(parents)
    if parent_list and not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        return _children_map_by_scan()
    for parent in parent_list:
        kids: list[int] = []
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as children_file:
                    kids.extend(int(pid) for pid in children_file.read().split())
            except (OSError, ValueError):
                continue
        if kids:
            tree[parent] = kids
    return tree


def _children_map_by_scan() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["pid", "ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            tree.setdefault(ppid, []).append(proc.info["pid"])
    return tree

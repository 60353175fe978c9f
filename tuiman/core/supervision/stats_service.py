"""CPU and memory stats of the watchers' processes, sampled only while someone asks for them.

Each subscriber that wants periodic `stats` events (the UI, `ctl stats --stream`) acquires the
service and releases it when done; the sampling task runs only while the count is above zero,
so an instance nobody watches spends nothing on /proc.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tuiman.core.events import Kind, plain_payload

if TYPE_CHECKING:
    from tuiman.core.processes.stats import ProcessStats, StatsSampler
    from tuiman.core.supervision.arbiter import Arbiter


class StatsService:
    def __init__(self, arbiter: Arbiter) -> None:
        self._arbiter = arbiter
        self._consumers = 0
        self._task: asyncio.Task[None] | None = None
        self._sampler: StatsSampler | None = None  # created on first use
        self.last: dict[int, ProcessStats] = {}  # pid -> its latest sample

    @property
    def consumers(self) -> int:
        """How many subscribers asked for periodic samples."""
        return self._consumers

    @property
    def sampler(self) -> StatsSampler:
        if self._sampler is None:
            from tuiman.core.processes.stats import StatsSampler

            self._sampler = StatsSampler()
        return self._sampler

    def acquire(self) -> None:
        self._consumers += 1
        if self._task is None:
            self._task = self._arbiter.loop.create_task(self._sample_periodically())

    def release(self) -> None:
        self._consumers = max(self._consumers - 1, 0)
        if self._consumers == 0:
            self.stop()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _sample_periodically(self) -> None:
        interval = self._arbiter.config.arbiter.stats_interval
        while self._consumers > 0:
            await self.sample()
            await asyncio.sleep(interval)

    async def sample(self, names: Iterable[str] | None = None) -> dict[int, ProcessStats]:
        """Sample the named watchers' processes (all without names); one `stats` event each."""
        arbiter = self._arbiter
        watchers = (
            list(arbiter.watchers.values()) if names is None else [arbiter.get(n) for n in names]
        )
        pids = [pid for w in watchers for pid, p in w.processes.items() if p.alive]
        stats = await self.sampler.sample_async(pids)
        self.last.update(stats)
        for gone in set(self.last) - arbiter.managed_pids():
            self.last.pop(gone, None)
        for watcher in watchers:
            per_process = {pid: stats[pid] for pid in watcher.processes if pid in stats}
            arbiter.bus.emit(
                Kind.STATS,
                watcher.name,
                {
                    "cpu": round(sum(s.cpu_percent for s in per_process.values()), 2),
                    "rss": sum(s.rss for s in per_process.values()),
                    "processes": {
                        str(pid): s.as_circus_dict(watcher.processes[pid].wid)
                        for pid, s in per_process.items()
                    },
                },
            )
        return stats

    async def extended(self, name: str) -> dict[int, dict[str, Any]]:
        """Stats of one watcher's processes, extended by its `extended_stats` hook."""
        arbiter = self._arbiter
        watcher = arbiter.get(name)
        stats = await self.sample([name])
        from tuiman.core.processes.circus_info import circus_info, read_details

        every_pid = [p.pid for s in stats.values() for p in (s, *s.children_stats)]
        details = await asyncio.to_thread(read_details, every_pid)
        result: dict[int, dict[str, Any]] = {}
        for pid, process in list(watcher.processes.items()):
            if pid not in stats:
                continue
            # A plain dict from here on: the hook may add keys of its own.
            entry = circus_info(stats[pid], details, wid=process.wid, started=process.started)
            spec = watcher.config.hooks.get("extended_stats")
            if spec is not None:
                working = dict(entry)
                extended: dict[str, Any] = {}

                def to_plain_data(
                    left: dict[str, Any] = working, into: dict[str, Any] = extended
                ) -> None:
                    # What the hook left in the dict must be as JSON-safe as any event payload.
                    into.update(plain_payload(left))

                outcome = await arbiter.hooks.call(
                    spec,
                    name,
                    arbiter.facades_for(watcher),
                    {"pid": pid, "stats": working},
                    result_ignored=True,
                    check_after=to_plain_data,
                )
                if not outcome.failed:
                    entry = extended
            result[pid] = entry
        return result

"""The soak's fd and memory check at scale (docs/reliability.md#nothing-is-lost-nothing-leaks):
one watcher of 2 000 processes, a few churn cycles of SIGKILLs and respawns and a scale down and
up again. After each cycle, once every slot runs again: the fd count is the same, RSS stays
within 10 % of the first cycle's, every spawn had its reap and no event was lost.

About 30 s on 2 cores; TUIMAN_SOAK_SCALE_CYCLES sets the number of churn cycles (default 3).
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import fd_count, rss_bytes, tagged_pids, zombie_children
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

PROCESSES = 2000
CYCLES = int(os.environ.get("TUIMAN_SOAK_SCALE_CYCLES", "3"))
KILLS_PER_CYCLE = 400
KILL_BURST = 20  # processes SIGKILLed at once, then a pause: a churn, not one mass death
FD_SLACK = 6
RSS_GROWTH = 0.10
FDS_NEEDED = PROCESSES * 3 + 200  # two pipes and a pidfd per process, and spare


def config(tag: str) -> str:
    return f"""
[watchers.many]
cmd = "sleep 3600"
numprocesses = {PROCESSES}
env = {{ TEST_TAG = "{tag}" }}
[watchers.many.restart]
backoff_initial = 0.01
backoff_max = 0.05
flap_attempts = 1000000
reset_after = 0.5
"""


def alive(arbiter: Arbiter) -> int:
    return sum(1 for p in arbiter.get("many").processes.values() if p.alive)


@pytest.fixture
def enough_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FDS_NEEDED:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {FDS_NEEDED} for {PROCESSES} processes")
    if soft != resource.RLIM_INFINITY and soft < FDS_NEEDED:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FDS_NEEDED, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.timeout(300)
async def test_soak_at_2000_processes(
    subreaper: set[int], arbiter_factory: Any, tag: str, enough_fds: None, tmp_path: Path
) -> None:
    arbiter: Arbiter = arbiter_factory(config(tag))
    living: set[int] = set()
    violations: list[str] = []
    resyncs = 0
    watch = arbiter.bus.subscribe(maxsize=200_000, snapshot=False, name="soak-scale")

    async def consume() -> None:
        nonlocal resyncs
        while True:
            try:
                event = await watch.get()
            except EOFError:
                return
            pid = int(event.payload.get("pid", -1))
            if event.kind == Kind.SPAWN:
                if pid in living:
                    violations.append(f"spawn of live pid {pid}")
                living.add(pid)
            elif event.kind == Kind.REAP:
                if pid not in living:
                    violations.append(f"reap of pid {pid} with no live spawn")
                living.discard(pid)
            elif event.kind == Kind.RESYNC:
                resyncs += 1

    rng = random.Random(18)
    seen: dict[int, Any] = {}  # an exited process closes its pipes 1 s after its exit

    def remember_all() -> None:
        seen.update((id(p), p) for p in arbiter.get("many").processes.values())

    async def churn() -> None:
        for _ in range(KILLS_PER_CYCLE // KILL_BURST):
            remember_all()
            pids = [p for p, proc in arbiter.get("many").processes.items() if proc.alive]
            for pid in rng.sample(pids, KILL_BURST):
                os.kill(pid, signal.SIGKILL)  # unreaped: the pid cannot have been recycled
            await asyncio.sleep(0.05)

    async def settled() -> tuple[int, int]:
        await wait_until(lambda: alive(arbiter) == PROCESSES, timeout=90)
        await wait_until(lambda: not any(p.streams_open and not p.alive for p in seen.values()), 30)
        seen.clear()
        assert alive(arbiter) == PROCESSES
        return fd_count(), rss_bytes()

    consumer = asyncio.ensure_future(consume())
    await asyncio.wait_for(arbiter.start(), 120)
    await churn()  # warm-up: the first respawns allocate what later ones reuse
    fds_before, rss_before = await settled()
    measured = []
    for cycle in range(CYCLES):
        await churn()
        if cycle == 0:  # a scale down and up again: slots removed and made anew
            remember_all()
            for command in ("decr", "incr"):
                request = {"command": command, "watcher": "many", "n": 500, "wait": True}
                reply = await execute(arbiter, request)
                assert reply["ok"], reply
        measured.append(await settled())
    await asyncio.wait_for(arbiter.stop_all(), 120)
    await wait_until(lambda: not living, timeout=60)
    watch.close()
    await consumer

    print(
        f"\nsoak at {PROCESSES}: fds {fds_before} -> {[m[0] for m in measured]}, "
        f"rss {rss_before / 2**20:.1f} -> {[round(m[1] / 2**20, 1) for m in measured]} MiB"
    )
    assert not violations, violations[:10]
    assert resyncs == 0 and watch.resyncs == 0, "a lifecycle event was lost"
    for fds_after, rss_after in measured:
        assert fds_after <= fds_before + FD_SLACK, (fds_before, fds_after)
        assert rss_after <= rss_before * (1 + RSS_GROWTH), (rss_before, rss_after)
    await wait_until(lambda: not zombie_children() - subreaper, timeout=10)
    await wait_until(lambda: tagged_pids(tag) == [], timeout=10)

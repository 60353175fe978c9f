"""Soak / churn (docs/reliability.md#nothing-is-lost-nothing-leaks, F28): thousands of SIGKILLs and
respawns across several watchers while hooks run (before_spawn, after_reap), processes exit on their
own, one prints steadily, and a poller asks for `status` in a loop. At the end:

- every exit had exactly one reap event (exits we caused + own exits + the final stop = reap
  events); per pid, spawn and reap events alternate — a pid is reaped once per life, and only
  then may the kernel hand it out again (long runs do recycle pids);
- no zombie child is left;
- the test process' fd count is flat (same live process count before and after);
- RSS is flat (< 10 % growth after warm-up);
- no lifecycle event was lost (a subscriber with a big queue never saw `resync`);
- the loop was never blocked and `status` stayed fast.

Bounded for CI; set TUIMAN_SOAK_SECONDS to churn longer (e.g. 600). Run with `pytest -s` to
see the numbers.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import LagProbe, write_hook_module
from tests.support.procs import fd_count, rss_bytes, tagged_pids, zombie_children
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

SOAK_SECONDS = float(os.environ.get("TUIMAN_SOAK_SECONDS", "40"))
WARMUP_SECONDS = min(8.0, SOAK_SECONDS / 5)
KILL_INTERVAL = 0.008
FD_SLACK = 6  # a process or two in the middle of a respawn
RSS_GROWTH = 0.10

HOOKS = """
import threading, time

LOCK = threading.Lock()
CALLS = {"before_spawn": 0, "after_reap": 0}

def before_spawn(watcher, arbiter, hook_name, **kwargs):
    with LOCK:
        CALLS[hook_name] += 1
    return True

def after_reap(watcher, arbiter, hook_name, process_pid, exit_code, **kwargs):
    time.sleep(0.002)  # a little work, on a hook thread
    with LOCK:
        CALLS[hook_name] += 1
"""

RESTART = """
        [watchers.{name}.restart]
        backoff_initial = 0.01
        backoff_max = 0.05
        flap_attempts = 1000000
        reset_after = 0.5
"""


def config(module: str, tag: str) -> str:
    watchers = {
        "web": f"""
        [watchers.web]
        cmd = "sleep 3600"
        numprocesses = 8
        env = {{ TEST_TAG = "{tag}" }}
        hooks = {{ before_spawn = "{module}.before_spawn", after_reap = "{module}.after_reap" }}
        """,
        "worker": f"""
        [watchers.worker]
        cmd = ["sh", "-c", "sleep 3600 & wait"]
        numprocesses = 4
        graceful_timeout = 2
        env = {{ TEST_TAG = "{tag}" }}
        hooks = {{ after_reap = "{module}.after_reap" }}
        """,
        "oneshot": f"""
        [watchers.oneshot]
        cmd = ["sh", "-c", "sleep 0.3; exit 3"]
        numprocesses = 3
        env = {{ TEST_TAG = "{tag}" }}
        """,
        "chatty": f"""
        [watchers.chatty]
        cmd = ["sh", "-c", "while :; do echo tick tock; sleep 0.02; done"]
        numprocesses = 2
        env = {{ TEST_TAG = "{tag}" }}
        """,
    }
    header = "[tuiman]\noutput_lines = 300\n"
    return header + "".join(text + RESTART.format(name=name) for name, text in watchers.items())


FULL = {"web": 8, "worker": 4, "chatty": 2}  # watchers the churn targets (oneshot comes and goes)


def full_strength(arbiter: Arbiter) -> bool:
    return all(
        sum(1 for p in arbiter.get(name).processes.values() if p.alive) == count
        for name, count in FULL.items()
    )


@pytest.mark.timeout(SOAK_SECONDS + 150)
async def test_churn_soak(
    subreaper: set[int], arbiter_factory: Any, tmp_path: Path, tag: str, lag: LagProbe
) -> None:
    module = write_hook_module(tmp_path, HOOKS)
    arbiter: Arbiter = arbiter_factory(config(module, tag))
    hooks = sys.modules[module]
    living: set[int] = set()  # spawned and not reaped yet
    violations: list[str] = []  # a reap without a live spawn, or a spawn of a live pid
    exits: Counter[str] = Counter()  # killed (by the churn) / own / stop
    per_watcher: Counter[tuple[str, str]] = Counter()  # (watcher, kind)
    resyncs = 0
    watch = arbiter.bus.subscribe(maxsize=500_000, snapshot=False, name="soak")

    async def consume() -> None:
        nonlocal resyncs
        while True:
            try:
                event = await watch.get()
            except EOFError:
                return
            if event.kind in (Kind.SPAWN, Kind.REAP):
                per_watcher[(event.watcher or "", event.kind)] += 1
            pid = int(event.payload.get("pid", -1))
            if event.kind == Kind.SPAWN:
                if pid in living:
                    violations.append(f"spawn of live pid {pid}")
                living.add(pid)
            elif event.kind == Kind.REAP:
                if pid not in living:
                    violations.append(f"reap of pid {pid} with no live spawn (duplicate?)")
                living.discard(pid)
                if event.payload["process_status"] is None:
                    exits["stop"] += 1  # tuiman-caused: the final stop
                elif event.payload["exit_code"] == -signal.SIGKILL:
                    exits["killed"] += 1  # nobody but the churn SIGKILLs them
                else:
                    exits["own"] += 1
            elif event.kind == Kind.RESYNC:
                resyncs += 1

    kill_calls = 0
    status_times: list[float] = []
    stop = asyncio.Event()
    pause = asyncio.Event()
    rng = random.Random(1234)

    async def churn() -> None:
        nonlocal kill_calls
        targets = [arbiter.get(name) for name in FULL]
        while not stop.is_set():
            if pause.is_set():
                await asyncio.sleep(0.05)
                continue
            candidates = [pid for w in targets for pid, p in w.processes.items() if p.alive]
            if candidates:
                pid = rng.choice(candidates)
                # an unreaped child's pid cannot be recycled: this hits the right process
                os.kill(pid, signal.SIGKILL)
                kill_calls += 1
            await asyncio.sleep(KILL_INTERVAL)

    async def poll() -> None:
        while not stop.is_set():
            started = time.monotonic()
            reply = await execute(arbiter, {"command": "status"})
            status_times.append(time.monotonic() - started)
            assert reply["ok"] and len(reply["watchers"]) == 4
            await asyncio.sleep(0.02)

    consumer = asyncio.ensure_future(consume())
    await asyncio.wait_for(arbiter.start(), 30)
    tasks = [asyncio.ensure_future(churn()), asyncio.ensure_future(poll())]

    async def quiesce() -> tuple[int, int]:
        """Pause the churn until every targeted slot runs and closed pipes are released."""
        pause.set()
        await wait_until(lambda: full_strength(arbiter), timeout=20)
        await asyncio.sleep(1.5)  # exited processes' pipes close 1 s after their exit
        await wait_until(lambda: full_strength(arbiter), timeout=20)
        measured = fd_count(), rss_bytes()
        pause.clear()
        return measured

    try:
        await asyncio.sleep(WARMUP_SECONDS)
        fds_before, rss_before = await quiesce()
        await asyncio.sleep(max(SOAK_SECONDS - WARMUP_SECONDS, 1.0))
        fds_after, rss_after = await quiesce()
        # the same live processes as before, within a respawn or two
        if fds_after > fds_before + FD_SLACK:
            await wait_until(lambda: fd_count() <= fds_before + FD_SLACK, timeout=5)
            fds_after = fd_count()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        task.result()  # re-raise what a churn/poll task hit
    lag_during = lag.worst()
    await asyncio.wait_for(arbiter.stop_all(), 60)
    await wait_until(lambda: not living, timeout=20)
    await asyncio.sleep(0.2)  # nothing late may follow
    watch.close()
    await consumer

    spawns = sum(n for (_, kind), n in per_watcher.items() if kind == Kind.SPAWN)
    reaps = sum(n for (_, kind), n in per_watcher.items() if kind == Kind.REAP)
    print(
        f"\nsoak {SOAK_SECONDS:.0f}s: spawns={spawns} exits={sum(exits.values())} "
        f"(killed={exits['killed']} of {kill_calls} kills sent, own={exits['own']}, "
        f"stop={exits['stop']}) reap_events={reaps} "
        f"fds before/after={fds_before}/{fds_after} "
        f"rss before/after={rss_before / 2**20:.1f}/{rss_after / 2**20:.1f} MiB "
        f"hooks={dict(hooks.CALLS)} resyncs={resyncs} max_lag={lag_during:.3f}s "
        f"status p_max={max(status_times) * 1000:.1f}ms n={len(status_times)}"
    )
    assert exits["killed"] >= SOAK_SECONDS * 10, "the churn must really churn"
    assert exits["own"] > 0, "processes also exited on their own"
    # exactly one reap event per exit, for every process that was ever spawned
    assert not violations, violations[:10]
    assert not living
    assert spawns == reaps == sum(exits.values())
    assert exits["killed"] <= kill_calls  # a kill may hit a process already exiting
    assert resyncs == 0 and watch.resyncs == 0, "a lifecycle event was lost"
    # the hooks ran for every spawn and every reap of their watchers
    assert hooks.CALLS["before_spawn"] == per_watcher[("web", Kind.SPAWN)]
    reaps_with_hook = per_watcher[("web", Kind.REAP)] + per_watcher[("worker", Kind.REAP)]
    await wait_until(lambda: hooks.CALLS["after_reap"] == reaps_with_hook, timeout=10)
    assert fds_after <= fds_before + FD_SLACK, (fds_before, fds_after)
    assert rss_after <= rss_before * (1 + RSS_GROWTH), (rss_before, rss_after)
    assert max(status_times) < 0.5
    assert lag_during < 0.5, f"loop blocked for {lag_during:.3f}s"
    await wait_until(lambda: not zombie_children() - subreaper, timeout=5)
    await wait_until(lambda: tagged_pids(tag) == [], timeout=5)

"""Races between supervision and the world: commands that arrive while an exit is still being
handled, tuiman stopped and continued (Ctrl-Z, `docker pause`) while a hook runs, and a hook that
collects exit statuses behind tuiman's back.

Processes are tagged (`TEST_TAG`) and cleaned up by pid, process group or tag.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from tests.support.core import next_event
from tests.support.procs import alive, tagged_pids
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState

pytestmark = pytest.mark.timeout(60)


async def test_decr_while_a_crashed_leaders_group_is_cleared_keeps_supervising(
    arbiter_factory: Any, tag: str
) -> None:
    # Each process leads a group with a member that ignores SIGTERM, so clearing the group of a
    # leader killed from outside takes the whole graceful_timeout: the window for the decr.
    arbiter = arbiter_factory(
        f"""
        [watchers.web]
        cmd = "sh -c '(trap \\"\\" TERM; exec sleep 300) & exec sleep 300'"
        numprocesses = 2
        graceful_timeout = 3
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    events = arbiter.bus.subscribe(maxsize=10_000, snapshot=False)
    await arbiter.start()
    watcher = arbiter.get("web")
    await wait_until(lambda: len(tagged_pids(tag)) == 4)
    victim = min(watcher.processes)
    member = next(pid for pid in tagged_pids(tag) if pid != victim and os.getpgid(pid) == victim)

    os.kill(victim, signal.SIGKILL)
    await next_event(events, Kind.REAP, "web", where=lambda e: e.payload["pid"] == victim)
    assert alive(member), "the member ignoring SIGTERM is still being cleared"
    result = await watcher.decr(1)

    assert result.ok
    await wait_until(lambda: not alive(member), timeout=10)
    await wait_until(lambda: watcher.state != WatcherState.ACTIVE or watcher.all_running)
    assert watcher.state == WatcherState.ACTIVE, f"supervision ended: {watcher.reason}"
    assert watcher.numprocesses == 1
    assert len([p for p in watcher.processes.values() if p.alive]) == 1
    stops = [e for e in events.drain() if e.kind == Kind.STOP]
    assert stops == []

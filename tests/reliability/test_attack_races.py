"""Races between supervision and the world: commands that arrive while an exit is still being
handled, tuiman stopped and continued (Ctrl-Z, `docker pause`) while a hook runs, and a hook that
collects exit statuses behind tuiman's back.

Processes are tagged (`TEST_TAG`) and cleaned up by pid, process group or tag.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import headless, write_hook_module
from tests.support.core import next_event
from tests.support.procs import alive, tagged_pids
from tests.support.waiting import wait_until, wait_until_sync
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.headless import LineFormatter, format_json
from tuiman.ui.log_entries import lifecycle_entry
from tuiman.ui.model import CoreModel
from tuiman.ui.rows import process_rows

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


async def test_an_exit_status_collected_behind_tuimans_back_is_reported_unknown(
    arbiter_factory: Any, tag: str
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.web]
        cmd = "sleep 300"
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    events = arbiter.bus.subscribe(maxsize=10_000, snapshot=False)
    screen = arbiter.bus.subscribe(maxsize=10_000)  # what the UI folds, from its snapshot on
    await arbiter.start()
    watcher = arbiter.get("web")
    (victim,) = watcher.processes

    # What a hook's os.waitpid(-1, 0) does (on its own thread, it wins that race about half
    # the time): the status is collected before tuiman's pidfd callback can run.
    os.kill(victim, signal.SIGKILL)
    assert os.waitpid(victim, 0)[0] == victim

    reap = await next_event(events, Kind.REAP, "web", where=lambda e: e.payload["pid"] == victim)
    assert reap.payload["exit_code"] is None, "never a made-up code"
    assert watcher.last_exit_codes[1] is None
    await next_event(events, Kind.SPAWN, "web")  # respawned as for any crash
    line = LineFormatter(colour=False).format(reap)
    assert line is not None and "exit_code=unknown" in line
    as_json = format_json(reap, show_output=True)
    assert as_json is not None and json.loads(as_json)["exit_code"] is None
    assert lifecycle_entry(reap).label == "exit unknown"
    model = CoreModel()
    model.apply(screen.drain())
    (row,) = process_rows(model.watchers["web"], time.time())
    # the exit column of the slot's new process: unknown, and history (muted) while it runs
    assert row[1][6] == ("?", "muted")


def hold_stopped(pid: int, seconds: float) -> None:
    """What Ctrl-Z then `fg`, or `docker pause` then `unpause`, does to tuiman: the length of
    the stop is the attack itself, not a wait for something to happen."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


def test_time_spent_stopped_is_not_hook_time(tmp_path: Path, tag: str) -> None:
    started = tmp_path / "hook-started"
    module = write_hook_module(
        tmp_path,
        f"""
        import pathlib, time

        def slow_start(watcher, arbiter, hook_name, **kwargs):
            # One second of its own work, in short steps: after the stop it still has work
            # left (one long sleep would end the moment tuiman is continued).
            pathlib.Path({str(started)!r}).touch()
            worked = 0.0
            while worked < 1.0:
                step_started = time.monotonic()
                time.sleep(0.05)
                worked += min(time.monotonic() - step_started, 0.1)
            return True
        """,
    )
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[watchers.web]
cmd = "sleep 300"
env = {{ TEST_TAG = "{tag}" }}
hooks = {{ before_start = {{ path = "{module}.slow_start", timeout = 2.0 }} }}
"""
    )
    with headless(config, tag=tag, json=True) as run:
        wait_until_sync(started.exists, what="the before_start hook to be running")
        hold_stopped(run.pid, 3.0)  # a 1 s hook, 2 s timeout, 3 s stopped in the middle
        line = run.wait_line(
            lambda text: (
                ('"kind": "hook_success"' in text or '"kind": "hook_failure"' in text)
                and "before_start" in text
            )
        )
        hook_event = json.loads(line)
        assert hook_event["kind"] == "hook_success", hook_event.get("error")
        run.wait_line(lambda text: '"kind": "start"' in text)
        assert len(tagged_pids(tag)) == 1

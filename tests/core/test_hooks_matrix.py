"""Every hook, for every outcome (docs/hooks.md#the-eleven-hooks, docs/hooks.md#failures,
docs/hooks.md#events): True, False, None, raises, times out.

Each test asserts the watcher's resulting state, the processes that exist (real pids), the
signals sent and the events on the bus, in order (docs/events.md#order), plus the hook's exact
kwargs.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hookkit import (
    HOOK_TIMEOUT,
    OUTCOMES,
    HookLab,
    expected_error,
    hook_entry,
    hook_events,
    ignored_label,
    new_lab,
    outcome_hook,
    trace,
    veto_label,
)
from tests.support.core import next_event
from tests.support.procs import alive
from tests.support.waiting import wait_until
from tuiman.core.events import Event, Kind
from tuiman.core.states import UNEXISTING, WatcherState
from tuiman.core.supervision.arbiter import Arbiter

Factory = Callable[[str], Arbiter]
VETOES = ("false", "none", "raise", "timeout")
CIRCUS_STATS_KEYS = {"pid", "cpu", "mem", "mem_info1", "mem_info2", "age", "wid", "children"}


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> HookLab:
    return new_lab(tmp_path, request.node.name)


def watcher_toml(
    lab: HookLab, hook: str, outcome: str, *, numprocesses: int = 1, graceful: float = 2.0
) -> str:
    return f"""
        [watchers.w]
        cmd = "sleep 300"
        numprocesses = {numprocesses}
        graceful_timeout = {graceful}
        [watchers.w.hooks]
        {hook} = {hook_entry(lab.path(hook), outcome)}
        """


def build(
    arbiter_factory: Factory, lab: HookLab, hook: str, outcome: str, **options: Any
) -> Arbiter:
    lab.write(outcome_hook(hook, outcome))
    return arbiter_factory(watcher_toml(lab, hook, outcome, **options))


def assert_hook_payload(
    event: Event, hook: str, outcome: str, *, vetoed: bool, pid: int | None = None
) -> None:
    """The hook event fields (docs/hooks.md#events): name, time, duration, vetoed, pid (if the hook
    has one), error."""
    payload = event.payload
    failed = outcome in ("raise", "timeout")
    assert event.kind == (Kind.HOOK_FAILURE if failed else Kind.HOOK_SUCCESS)
    assert event.watcher == "w"
    assert payload["name"] == hook
    assert payload["vetoed"] is vetoed
    assert isinstance(event.time, float) and event.time > 0
    assert isinstance(payload["duration"], float) and payload["duration"] >= 0
    if outcome == "timeout":
        assert payload["duration"] >= HOOK_TIMEOUT * 0.9
    if failed:
        assert payload["error"] == expected_error(outcome)
    else:
        assert "error" not in payload
    if pid is None:
        assert "pid" not in payload
    else:
        assert payload["pid"] == pid


def live_pids(arbiter: Arbiter) -> list[int]:
    return [pid for pid, p in arbiter.get("w").processes.items() if p.alive]


# -- hooks whose falsy result vetoes -------------------------------------------------------------
@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_before_start(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "before_start", outcome)
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await watcher.start()
    events = sub.drain()
    assert lab.calls() == [{"hook": "before_start", "state": "stopped", "pids": []}]
    [hook_event] = hook_events(events)
    if outcome == "true":
        assert result.ok
        assert watcher.state == WatcherState.ACTIVE
        assert trace(events) == [
            "ok:before_start",
            "state:starting",
            "spawn",
            "state:active",
            "start",
        ]
        assert len(live_pids(arbiter)) == 1 and alive(live_pids(arbiter)[0])
        assert_hook_payload(hook_event, "before_start", outcome, vetoed=False)
        return
    assert not result.ok
    assert watcher.state == WatcherState.STOPPED  # never left stopped: no state event at all
    assert trace(events) == [veto_label("before_start", outcome)]
    assert watcher.processes == {}
    kind = "hook_failure" if outcome in ("raise", "timeout") else "veto"
    assert watcher.reason == f"{kind}:before_start"
    assert result.error is not None and f"{kind}:before_start" in result.error
    assert arbiter.failures  # a vetoed start makes headless exit 1 (docs/headless.md#exit-codes)
    assert_hook_payload(hook_event, "before_start", outcome, vetoed=True)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_after_start(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "after_start", outcome, numprocesses=2)
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await watcher.start()
    events = sub.drain()
    spawned = [e.payload["pid"] for e in events if e.kind == Kind.SPAWN]
    assert len(spawned) == 2
    assert lab.calls() == [{"hook": "after_start", "state": "starting", "pids": sorted(spawned)}]
    [hook_event] = hook_events(events)
    if outcome == "true":
        assert result.ok and watcher.state == WatcherState.ACTIVE
        assert trace(events) == [
            "state:starting",
            "spawn",
            "spawn",
            "ok:after_start",
            "state:active",
            "start",
        ]
        assert all(alive(pid) for pid in spawned)
        assert_hook_payload(hook_event, "after_start", outcome, vetoed=False)
        return
    # the watcher is stopped at once: both processes get the stop signal and are reaped
    assert not result.ok and watcher.state == WatcherState.STOPPED
    assert trace(events) == [
        "state:starting",
        "spawn",
        "spawn",
        veto_label("after_start", outcome),
        "state:stopping",
        "kill:15",
        "kill:15",
        "reap",
        "reap",
        "stop",
        "state:stopped",
    ]
    assert not any(alive(pid) for pid in spawned)
    assert watcher.processes == {}
    reaps = [e.payload for e in events if e.kind == Kind.REAP]
    assert {r["pid"] for r in reaps} == set(spawned)
    assert all(r["exit_code"] == -15 and r["process_status"] is None for r in reaps)
    assert_hook_payload(hook_event, "after_start", outcome, vetoed=True)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_before_spawn(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "before_spawn", outcome, numprocesses=2)
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await watcher.start()
    events = sub.drain()
    if outcome == "true":
        assert result.ok and watcher.state == WatcherState.ACTIVE
        assert trace(events) == [
            "state:starting",
            "ok:before_spawn",
            "spawn",
            "ok:before_spawn",
            "spawn",
            "state:active",
            "start",
        ]
        first = next(e.payload["pid"] for e in events if e.kind == Kind.SPAWN)
        assert lab.calls() == [
            {"hook": "before_spawn", "state": "starting", "pids": []},
            {"hook": "before_spawn", "state": "starting", "pids": [first]},
        ]
        assert len(live_pids(arbiter)) == 2
        for event in hook_events(events):
            assert_hook_payload(event, "before_spawn", outcome, vetoed=False)
        return
    # first spawn vetoed: nothing runs, the watcher is stopped, start aborted
    assert not result.ok and watcher.state == WatcherState.STOPPED
    assert trace(events) == [
        "state:starting",
        veto_label("before_spawn", outcome),
        "state:stopping",
        "stop",
        "state:stopped",
    ]
    assert lab.calls() == [{"hook": "before_spawn", "state": "starting", "pids": []}]
    assert watcher.processes == {}
    assert_hook_payload(hook_events(events)[0], "before_spawn", outcome, vetoed=True)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_after_spawn(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "after_spawn", outcome, numprocesses=2)
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await watcher.start()
    events = sub.drain()
    spawned = [e.payload["pid"] for e in events if e.kind == Kind.SPAWN]
    calls = lab.calls()
    assert [c["pid"] for c in calls] == spawned  # exact kwargs: pid of the process just spawned
    assert all(set(c) == {"hook", "state", "pids", "pid"} for c in calls)
    if outcome == "true":
        assert result.ok and watcher.state == WatcherState.ACTIVE
        assert trace(events) == [
            "state:starting",
            "spawn",
            "ok:after_spawn",
            "spawn",
            "ok:after_spawn",
            "state:active",
            "start",
        ]
        assert calls[0]["pids"] == [spawned[0]]
        assert all(alive(pid) for pid in spawned)
        for event, pid in zip(hook_events(events), spawned, strict=True):
            assert_hook_payload(event, "after_spawn", outcome, vetoed=False, pid=pid)
        return
    # the first process is killed, the watcher stopped, no second spawn
    [pid] = spawned
    assert not result.ok and watcher.state == WatcherState.STOPPED
    assert trace(events) == [
        "state:starting",
        "spawn",
        veto_label("after_spawn", outcome),
        "kill:15",
        "reap",
        "state:stopping",
        "stop",
        "state:stopped",
    ]
    assert not alive(pid)
    [reap] = [e.payload for e in events if e.kind == Kind.REAP]
    assert reap["exit_code"] == -15 and reap["process_status"] is None  # tuiman-caused
    assert_hook_payload(hook_events(events)[0], "after_spawn", outcome, vetoed=True, pid=pid)


# -- hooks whose result is ignored ---------------------------------------------------------------
@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_before_stop(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "before_stop", outcome)
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.stop()).ok
    events = sub.drain()
    assert watcher.state == WatcherState.STOPPED
    assert trace(events) == [
        "state:stopping",
        ignored_label("before_stop", outcome),
        "kill:15",
        "reap",
        "stop",
        "state:stopped",
    ]
    assert lab.calls() == [{"hook": "before_stop", "state": "stopping", "pids": [pid]}]
    assert not alive(pid)
    assert_hook_payload(hook_events(events)[0], "before_stop", outcome, vetoed=False)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_after_stop(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "after_stop", outcome)
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.stop()).ok
    events = sub.drain()
    assert watcher.state == WatcherState.STOPPED
    assert trace(events) == [
        "state:stopping",
        "kill:15",
        "reap",
        "stop",
        "state:stopped",
        ignored_label("after_stop", outcome),
    ]
    assert lab.calls() == [{"hook": "after_stop", "state": "stopped", "pids": []}]
    assert not alive(pid)
    assert_hook_payload(hook_events(events)[0], "after_stop", outcome, vetoed=False)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_before_signal(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "before_signal", outcome, graceful=0.6)
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.stop()).ok
    events = sub.drain()
    assert watcher.state == WatcherState.STOPPED and not alive(pid)
    [reap] = [e.payload for e in events if e.kind == Kind.REAP]
    assert reap["process_status"] is None
    calls = lab.calls()
    assert all(set(c) == {"hook", "state", "pids", "pid", "signum"} for c in calls)
    if outcome in ("false", "none"):
        # SIGTERM not sent; after graceful_timeout SIGKILL is sent whatever the hook says
        assert [(c["pid"], c["signum"]) for c in calls] == [(pid, 15), (pid, 9)]
        assert trace(events) == [
            "state:stopping",
            "veto:before_signal:15",
            "ok:before_signal:9",
            "kill:9",
            "reap",
            "stop",
            "state:stopped",
        ]
        assert reap["exit_code"] == -9
        first, second = hook_events(events)
        assert_hook_payload(first, "before_signal", outcome, vetoed=True, pid=pid)
        assert_hook_payload(second, "before_signal", outcome, vetoed=False, pid=pid)
        assert (first.payload["signum"], second.payload["signum"]) == (15, 9)
        return
    # True, or a failure (ignored by default for before_signal): the signal is sent
    assert [(c["pid"], c["signum"]) for c in calls] == [(pid, 15)]
    assert trace(events) == [
        "state:stopping",
        f"{ignored_label('before_signal', outcome)}:15",
        "kill:15",
        "reap",
        "stop",
        "state:stopped",
    ]
    assert reap["exit_code"] == -15
    assert calls[0]["state"] == "stopping" and calls[0]["pids"] == [pid]
    assert_hook_payload(hook_events(events)[0], "before_signal", outcome, vetoed=False, pid=pid)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_after_signal(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "after_signal", outcome)
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.stop()).ok
    events = sub.drain()
    assert watcher.state == WatcherState.STOPPED and not alive(pid)
    assert trace(events) == [
        "state:stopping",
        f"{ignored_label('after_signal', outcome)}:15",
        "kill:15",
        "reap",
        "stop",
        "state:stopped",
    ]
    [call] = lab.calls()
    assert (call["pid"], call["signum"], call["state"]) == (pid, 15, "stopping")
    assert set(call) == {"hook", "state", "pids", "pid", "signum"}
    [reap] = [e.payload for e in events if e.kind == Kind.REAP]
    assert reap["exit_code"] == -15 and reap["process_status"] is None
    assert_hook_payload(hook_events(events)[0], "after_signal", outcome, vetoed=False, pid=pid)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_before_reap(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "before_reap", outcome)
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    history = arbiter.bus.subscribe(snapshot=False)
    os.kill(pid, signal.SIGKILL)  # an exit of its own
    reap = await next_event(sub, Kind.REAP, "w")
    await wait_until(lambda: len(live_pids(arbiter)) == 1)
    events = history.drain()
    [call] = lab.calls()
    assert set(call) == {"hook", "state", "pids", "process_pid", "time"}
    assert call["process_pid"] == pid and isinstance(call["time"], float)
    assert pid in call["pids"]  # still in watcher.processes while before_reap runs
    assert reap.payload["pid"] == pid and reap.payload["exit_code"] == -9
    assert reap.payload["process_status"] == UNEXISTING
    assert pid not in watcher.processes
    [hook_event] = hook_events(events)
    assert hook_event.seq < reap.seq  # before_reap, then the reap event
    assert_hook_payload(hook_event, "before_reap", outcome, vetoed=False, pid=pid)
    assert watcher.state == WatcherState.ACTIVE  # the slot respawned, whatever the hook did
    [new_pid] = live_pids(arbiter)
    assert new_pid != pid and alive(new_pid)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_after_reap(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    arbiter = build(arbiter_factory, lab, "after_reap", outcome)
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.start()).ok
    [crashed] = live_pids(arbiter)
    os.kill(crashed, signal.SIGKILL)  # an exit of its own
    first = await next_event(
        sub, Kind.HOOK_SUCCESS if outcome not in ("raise", "timeout") else Kind.HOOK_FAILURE, "w"
    )
    await wait_until(lambda: len(live_pids(arbiter)) == 1)
    [stopped] = live_pids(arbiter)
    sub.drain()
    assert (await watcher.stop()).ok
    events = sub.drain()
    calls = lab.calls()
    assert all(
        set(c) == {"hook", "state", "pids", "process_pid", "time", "exit_code", "process_status"}
        for c in calls
    )
    assert [(c["process_pid"], c["exit_code"], c["process_status"]) for c in calls] == [
        (crashed, -9, UNEXISTING),  # exited on its own
        (stopped, -15, None),  # stopped by tuiman
    ]
    assert crashed not in calls[0]["pids"] and stopped not in calls[1]["pids"]  # already reaped
    assert all(isinstance(c["time"], float) for c in calls)
    assert_hook_payload(first, "after_reap", outcome, vetoed=False, pid=crashed)
    assert trace(events) == [
        "state:stopping",
        "kill:15",
        "reap",
        ignored_label("after_reap", outcome),
        "stop",
        "state:stopped",
    ]
    assert_hook_payload(hook_events(events)[0], "after_reap", outcome, vetoed=False, pid=stopped)
    assert watcher.state == WatcherState.STOPPED and not alive(stopped)


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_extended_stats(arbiter_factory: Factory, lab: HookLab, outcome: str) -> None:
    lab.write(
        outcome_hook("extended_stats", outcome, before='kwargs["stats"]["queue_depth"] = 42\n')
    )
    arbiter = arbiter_factory(watcher_toml(lab, "extended_stats", outcome, numprocesses=2))
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    pids = sorted(live_pids(arbiter))
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.stats.sample()  # plain stats never call the hook
    assert lab.calls() == []
    stats = await arbiter.stats.extended("w")
    assert sorted(stats) == pids
    calls = lab.calls()
    assert sorted(c["pid"] for c in calls) == pids
    for call in calls:
        assert set(call) == {"hook", "state", "pids", "pid", "stats"}
        assert set(call["stats"]) >= CIRCUS_STATS_KEYS and call["stats"]["pid"] == call["pid"]
    for pid, entry in stats.items():
        assert set(entry) >= CIRCUS_STATS_KEYS and entry["pid"] == pid
        if outcome in ("raise", "timeout"):
            assert "queue_depth" not in entry  # a failing hook leaves the stats as they were
        else:
            assert entry["queue_depth"] == 42
    events = hook_events(sub.drain())
    assert sorted(e.payload["pid"] for e in events) == pids
    for event in events:
        assert event.droppable  # stats-class (docs/hooks.md#events)
        assert_hook_payload(
            event, "extended_stats", outcome, vetoed=False, pid=event.payload["pid"]
        )
    assert watcher.state == WatcherState.ACTIVE


# -- ignore_failure ------------------------------------------------------------------------------
@pytest.mark.parametrize("hook", ["before_start", "after_start", "before_spawn", "after_spawn"])
@pytest.mark.parametrize("outcome", ["raise", "timeout", "false"])
async def test_ignore_failure_covers_exceptions_not_false(
    arbiter_factory: Factory, lab: HookLab, hook: str, outcome: str
) -> None:
    lab.write(outcome_hook(hook, outcome))
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 2
        [watchers.w.hooks]
        {hook} = {hook_entry(lab.path(hook), outcome, ignore_failure=True)}
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await arbiter.get("w").start()
    [event] = hook_events(sub.drain())
    if outcome == "false":  # ignore_failure changes what an exception means, not a falsy result
        assert not result.ok and arbiter.get("w").state == WatcherState.STOPPED
        assert event.kind == Kind.HOOK_SUCCESS and event.payload["vetoed"] is True
        return
    assert result.ok and arbiter.get("w").state == WatcherState.ACTIVE
    assert event.kind == Kind.HOOK_FAILURE and event.payload["vetoed"] is False
    assert event.payload["error"] == expected_error(outcome)
    assert not arbiter.failures


async def test_before_signal_failure_vetoes_when_not_ignored(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    """ignore_failure = false takes before_signal out of the default ignore set."""
    lab.write(outcome_hook("before_signal", "raise"))
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 0.3
        [watchers.w.hooks]
        before_signal = {hook_entry(lab.path("before_signal"), ignore_failure=False)}
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.stop()).ok
    events = sub.drain()
    assert trace(events) == [
        "state:stopping",
        "fail-veto:before_signal:15",
        "fail:before_signal:9",
        "kill:9",
        "reap",
        "stop",
        "state:stopped",
    ]
    assert not alive(pid)


@pytest.mark.parametrize("hook", ["before_stop", "after_stop", "after_signal", "extended_stats"])
async def test_result_ignored_hooks_never_veto_even_without_ignore_failure(
    arbiter_factory: Factory, lab: HookLab, hook: str
) -> None:
    lab.write(outcome_hook(hook, "raise"))
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 2
        [watchers.w.hooks]
        {hook} = {hook_entry(lab.path(hook), ignore_failure=False)}
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    stats = await arbiter.stats.extended("w")
    assert list(stats) == [pid]
    assert (await watcher.stop()).ok
    assert watcher.state == WatcherState.STOPPED and not alive(pid)
    events = hook_events(sub.drain())
    assert events and all(e.kind == Kind.HOOK_FAILURE and not e.payload["vetoed"] for e in events)

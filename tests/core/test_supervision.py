"""Supervision with real child processes (docs/supervision.md): ordering, stop escalation, respawn,
flapping."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.core import ArbiterFactory, next_event
from tests.support.procs import alive
from tests.support.programs import unrunnable_program
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.states import UNEXISTING, WatcherState

PY = sys.executable


def alive_pids(arbiter, name: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [pid for pid, p in arbiter.get(name).processes.items() if p.alive]


async def test_priorities_start_high_first_and_stop_low_first(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.low]
        cmd = "sleep 300"
        priority = 1
        [watchers.mid]
        cmd = "sleep 300"
        priority = 5
        numprocesses = 2
        [watchers.high]
        cmd = "sleep 300"
        priority = 10
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    events = [e for e in sub.drain() if e.kind in (Kind.START, Kind.SPAWN)]
    started = [e.watcher for e in events if e.kind == Kind.START]
    assert started == ["high", "mid", "low"]
    # each watcher's spawns all happen before the next watcher's first spawn
    spawn_order = [e.watcher for e in events if e.kind == Kind.SPAWN]
    assert spawn_order == ["high", "mid", "mid", "low"]

    await arbiter.stop_all()
    stops = [e for e in sub.drain() if e.kind in (Kind.STOP, Kind.KILL, Kind.REAP)]
    order = [(e.kind, e.watcher) for e in stops]
    stop_positions = {w: order.index((Kind.STOP, w)) for w in ("low", "mid", "high")}
    assert stop_positions["low"] < stop_positions["mid"] < stop_positions["high"]
    # nothing of a higher level is signalled before the lower level has fully stopped
    first_kill = {w: order.index((Kind.KILL, w)) for w in ("low", "mid", "high")}
    assert stop_positions["low"] < first_kill["mid"]
    assert stop_positions["mid"] < first_kill["high"]
    assert all(w.state == WatcherState.STOPPED for w in arbiter.watchers.values())


async def test_stop_kills_the_whole_group(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.sh]
        cmd = ["sh", "-c", "sleep 300 & sleep 300"]
        graceful_timeout = 5
        """
    )
    await arbiter.start()
    leader = alive_pids(arbiter, "sh")[0]
    await wait_until(lambda: len(psutil.Process(leader).children()) == 2)
    members = [c.pid for c in psutil.Process(leader).children()]
    await arbiter.get("sh").stop()
    assert not alive(leader)
    assert not any(alive(pid) for pid in members)


async def test_sigterm_ignored_then_sigkill_after_graceful_timeout(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ready)!r}, 'w').close(); time.sleep(300)"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.stubborn]
        cmd = [{PY!r}, "-c", {script!r}]
        graceful_timeout = 0.5
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await wait_until(ready.exists)
    started = time.monotonic()
    await arbiter.get("stubborn").stop()
    elapsed = time.monotonic() - started
    kills = [e.payload["signum"] for e in sub.drain() if e.kind == Kind.KILL]
    assert kills == [signal.SIGTERM, signal.SIGKILL]
    assert 0.5 <= elapsed < 3.0
    assert arbiter.get("stubborn").last_exit_codes[1] == -signal.SIGKILL


async def test_sigkilled_process_is_respawned_and_reaped_with_minus_9(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.victim]
        cmd = "sleep 300"
        numprocesses = 2
        """
    )
    await arbiter.start()
    sub = arbiter.bus.subscribe(snapshot=False)
    victim = alive_pids(arbiter, "victim")[0]
    os.kill(victim, signal.SIGKILL)
    reap = await next_event(sub, Kind.REAP, "victim")
    assert reap.payload["pid"] == victim
    assert reap.payload["exit_code"] == -9
    assert reap.payload["process_status"] == UNEXISTING
    spawn = await next_event(sub, Kind.SPAWN, "victim", timeout=2)
    assert spawn.payload["wid"] == reap.payload["wid"]  # the replacement inherits the slot
    assert spawn.time - reap.time < 0.5
    assert len(alive_pids(arbiter, "victim")) == 2


async def test_crash_loop_flaps_then_fails(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.crash]
        cmd = "false"
        [watchers.crash.restart]
        flap_attempts = 5
        flap_window = 10.0
        retry_in = 1.0
        flap_max_retry = 2
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    history = arbiter.bus.subscribe(snapshot=False)
    started = time.monotonic()
    await arbiter.start()
    flapping = await next_event(
        sub, Kind.STATE, "crash", where=lambda e: e.payload["new"] == "flapping"
    )
    assert time.monotonic() - started < 2.0
    assert flapping.payload["reason"] == "flap_pause"
    failed = await next_event(sub, Kind.FAILED, "crash", timeout=10)
    assert failed.payload["reason"] == "flap_exhausted"
    assert arbiter.get("crash").state == WatcherState.FAILED
    # every event since before the start is still queued: 5 quick runs, then one probe per pause
    spawns = [e for e in history.drain() if e.kind == Kind.SPAWN]
    assert len(spawns) == 7
    assert arbiter.get("crash").restarts == 6


async def test_crash_loop_spawn_rate_with_defaults(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.crash]
        cmd = "false"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    started = time.monotonic()
    await arbiter.start()
    flapping = await next_event(sub, Kind.FLAPPING, "crash", timeout=2)
    assert time.monotonic() - started < 2.0
    assert flapping.payload == {"wid": 1, "attempt": 1, "retry_in": 7.0}
    assert arbiter.get("crash").state == WatcherState.FLAPPING
    snapshot = arbiter.get("crash").snapshot()
    assert snapshot["slots"][0]["retry_in"] is not None and snapshot["slots"][0]["retry_in"] > 5


async def test_one_mebibyte_line_without_newline(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    script = (
        "import sys, time; sys.stdout.write('x' * 1048576); sys.stdout.flush(); "
        "print(); print('after'); sys.stdout.flush(); time.sleep(300)"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.big]
        cmd = [{PY!r}, "-c", {script!r}]
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    after = await next_event(sub, Kind.OUTPUT, "big", where=lambda e: e.payload["line"] == "after")
    assert after.payload["stream"] == "stdout"
    lines = arbiter.get("big").output.lines()
    pieces = [ln for ln in lines if ln.text.startswith("x")]
    assert sum(len(p.text) for p in pieces) == 1048576
    assert all(p.partial for p in pieces[:-1]) and not pieces[-1].partial
    assert len(pieces) == 16
    assert alive_pids(arbiter, "big")


async def test_respawn_false_stops_watcher_when_all_exited(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.job]
        cmd = ["sh", "-c", "exit 4"]
        respawn = false
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    stop = await next_event(sub, Kind.STOP, "job")
    assert stop.payload["reason"] == "exited"
    await wait_until(lambda: arbiter.get("job").state == WatcherState.STOPPED)
    assert arbiter.get("job").last_exit_codes == {1: 4}
    assert arbiter.failures  # a respawn=false process exited non-zero on its own
    await wait_until(arbiter.all_done.is_set)


async def test_on_failure_success_code_is_not_replaced(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.migrate]
        cmd = "true"
        respawn = "on-failure"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await next_event(sub, Kind.STOP, "migrate")
    assert [e.kind for e in sub.drain() if e.kind == Kind.SPAWN] == []
    assert arbiter.get("migrate").state == WatcherState.STOPPED
    assert not arbiter.failures


async def test_spawn_error_is_an_event_and_fails_after_max_retry(arbiter_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        f"""
        [watchers.missing]
        cmd = "{unrunnable_program(tmp_path)}"
        max_retry = 2
        [watchers.missing.restart]
        backoff_initial = 0.05
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    history = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    error = await next_event(sub, Kind.SPAWN_ERROR, "missing")
    assert error.payload["errno"] == 2
    assert "ENOENT" in error.payload["error"]
    failed = await next_event(sub, Kind.FAILED, "missing", timeout=5)
    assert failed.payload["reason"] == "spawn_error"
    errors = [e for e in history.drain() if e.kind == Kind.SPAWN_ERROR]
    assert len(errors) == 3  # the first attempt plus max_retry retries
    assert arbiter.get("missing").state == WatcherState.FAILED


async def test_max_age_recycles_processes(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.aging]
        cmd = "sleep 300"
        max_age = 0.3
        max_age_variance = 0
        graceful_timeout = 2
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    first = alive_pids(arbiter, "aging")[0]
    reap = await next_event(sub, Kind.REAP, "aging", timeout=5)
    assert reap.payload["pid"] == first
    assert reap.payload["process_status"] is None  # tuiman-caused
    await next_event(sub, Kind.SPAWN, "aging", timeout=2)
    assert alive_pids(arbiter, "aging") and alive_pids(arbiter, "aging")[0] != first


async def test_scaling_and_kill_and_signal_commands(arbiter_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "signals"
    script = (
        "import os, signal, sys, time\n"
        f"def on(n, f): open({str(record)!r}, 'a').write(f'{{os.getpid()}} {{n}}\\n')\n"
        "signal.signal(signal.SIGHUP, on)\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(1)\n"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = [{PY!r}, "-c", {script!r}]
        numprocesses = 2
        graceful_timeout = 2
        """
    )
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    assert (await watcher.incr(2)).ok
    assert len(alive_pids(arbiter, "w")) == 4
    assert sorted(s.wid for s in watcher.slots.values()) == [1, 2, 3, 4]
    oldest = min(watcher.processes.values(), key=lambda p: p.started_monotonic).pid
    assert (await watcher.decr(1)).ok
    assert not alive(oldest)
    assert len(alive_pids(arbiter, "w")) == 3
    assert (await watcher.set_numprocesses(1)).ok
    assert len(alive_pids(arbiter, "w")) == 1
    target = alive_pids(arbiter, "w")[0]
    await wait_until(lambda: bool(watcher.output.lines(pid=target)))  # its handler is installed
    assert (await watcher.send_signal(signal.SIGHUP, target)).ok
    await wait_until(
        lambda: record.exists() and f"{target} {int(signal.SIGHUP)}" in record.read_text()
    )
    assert [e.payload["signum"] for e in sub.drain() if e.kind == Kind.SIGNAL] == [signal.SIGHUP]
    assert (await watcher.kill_process(target)).ok
    assert not alive(target)
    await wait_until(lambda: len(alive_pids(arbiter, "w")) == 1)  # the slot respawned


async def test_reload_spawns_new_before_stopping_old(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.web]
        cmd = "sleep 300"
        numprocesses = 2
        graceful_timeout = 2
        """
    )
    await arbiter.start()
    old = set(alive_pids(arbiter, "web"))
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await arbiter.get("web").reload()).ok
    events = [
        (e.kind, e.payload.get("pid")) for e in sub.drain() if e.kind in (Kind.SPAWN, Kind.KILL)
    ]
    kinds = [k for k, _ in events]
    assert kinds[:2] == [Kind.SPAWN, Kind.SPAWN] and kinds[2:] == [Kind.KILL, Kind.KILL]
    new = set(alive_pids(arbiter, "web"))
    assert len(new) == 2 and not new & old
    assert not any(alive(pid) for pid in old)


async def test_group_members_of_a_dead_leader_are_stopped_before_respawn(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    pidfile = tmp_path / "bg.pid"
    arbiter = arbiter_factory(
        f"""
        [watchers.sh]
        cmd = ["sh", "-c", "sleep 300 & echo $! > {pidfile}; sleep 300"]
        graceful_timeout = 1
        """
    )
    await arbiter.start()
    sub = arbiter.bus.subscribe(snapshot=False)
    await wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    background = int(pidfile.read_text())
    leader = alive_pids(arbiter, "sh")[0]
    os.kill(leader, signal.SIGKILL)
    await next_event(sub, Kind.SPAWN, "sh", timeout=5)
    assert not alive(background)


@pytest.mark.timeout(60)
async def test_500_processes_few_threads(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.many]
        cmd = "sleep 3600"
        numprocesses = 500
        graceful_timeout = 5
        """
    )
    await arbiter.start()
    assert len(alive_pids(arbiter, "many")) == 500
    assert all(alive(pid) for pid in alive_pids(arbiter, "many"))
    assert psutil.Process().num_threads() < 20
    await arbiter.get("many").stop()
    assert not any(alive(pid) for pid in arbiter.get("many").processes)


async def test_restart_of_the_only_watcher_is_not_done_on_its_own(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [watchers.solo]
        cmd = "sleep 300"
        graceful_timeout = 2
        """
    )
    await arbiter.start()
    old = alive_pids(arbiter, "solo")
    assert (await arbiter.get("solo").restart()).ok
    assert not arbiter.all_done.is_set()
    assert alive_pids(arbiter, "solo") and alive_pids(arbiter, "solo") != old

"""The rest of the hook contract (docs/hooks.md): orders, process_status, async hooks, what hooks
may call, and tuiman's guarantee that no hook ever freezes it
(docs/hooks.md#timeouts-and-threads)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.hookkit import (
    PY,
    HookLab,
    child_ready,
    hook_entry,
    hook_events,
    new_lab,
    signals_received,
    trace,
)
from tests.support.core import next_event
from tests.support.procs import alive
from tests.support.programs import unrunnable_program
from tests.support.waiting import wait_until
from tuiman.core.config.model import HOOK_NAMES
from tuiman.core.events import Event, Kind
from tuiman.core.states import UNEXISTING, WatcherState
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.watcher import Watcher

Factory = Callable[[str], Arbiter]


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> HookLab:
    return new_lab(tmp_path, request.node.name)


def live_pids(arbiter: Arbiter, name: str = "w") -> list[int]:
    return [pid for pid, p in arbiter.get(name).processes.items() if p.alive]


def recorder_source(*names: str) -> str:
    return "".join(
        f"def {name}(watcher, arbiter, hook_name, **kwargs):\n"
        f"    record(hook_name, watcher, **kwargs)\n"
        f"    return True\n\n\n"
        for name in names
    )


def hooks_table(lab: HookLab, *names: str) -> str:
    return "\n".join(f'{name} = "{lab.path(name)}"' for name in names)


def by_pid(events: list[Event], pid: int) -> list[str]:
    return trace(
        e for e in events if e.payload.get("pid") == pid and e.kind not in (Kind.SPAWN, Kind.OUTPUT)
    )


# -- event orders (docs/events.md#order) with all eleven hooks -------------------------------------
async def test_start_and_stop_orders_with_every_hook(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(recorder_source(*HOOK_NAMES))
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        numprocesses = 2
        graceful_timeout = 2
        [watchers.w.hooks]
        {hooks_table(lab, *HOOK_NAMES)}
        """
    )
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.start()).ok
    started = sub.drain()
    one, two = (e.payload["pid"] for e in started if e.kind == Kind.SPAWN)
    assert trace(started) == [
        "ok:before_start",
        "state:starting",
        "ok:before_spawn",
        "spawn",
        "ok:after_spawn",
        "ok:before_spawn",
        "spawn",
        "ok:after_spawn",
        "ok:after_start",
        "state:active",
        "start",
    ]
    assert [(c["hook"], c["state"], c["pids"], c.get("pid")) for c in lab.calls()] == [
        ("before_start", "stopped", [], None),
        ("before_spawn", "starting", [], None),
        ("after_spawn", "starting", [one], one),
        ("before_spawn", "starting", [one], None),
        ("after_spawn", "starting", sorted([one, two]), two),
        ("after_start", "starting", sorted([one, two]), None),
    ]
    lab.log.unlink()
    assert (await watcher.stop()).ok
    stopped = sub.drain()
    labels = trace(stopped)
    assert labels[:2] == ["state:stopping", "ok:before_stop"]
    assert labels[-3:] == ["stop", "state:stopped", "ok:after_stop"]
    for pid in (one, two):
        # per process: before_signal, signal, after_signal, kill; then before_reap, reap, after_reap
        assert by_pid(stopped, pid) == [
            "ok:before_signal:15",
            "ok:after_signal:15",
            "kill:15",
            "ok:before_reap",
            "reap",
            "ok:after_reap",
        ]
    calls = lab.calls()
    assert calls[0]["hook"] == "before_stop" and calls[-1]["hook"] == "after_stop"
    assert calls[-1]["state"] == "stopped" and calls[-1]["pids"] == []
    reaps = {c["process_pid"]: c for c in calls if c["hook"] == "after_reap"}
    assert {pid: (c["exit_code"], c["process_status"]) for pid, c in reaps.items()} == {
        one: (-15, None),
        two: (-15, None),
    }
    assert not alive(one) and not alive(two)


# -- process_status is deterministic (docs/hooks.md#the-eleven-hooks) ------------------------------
HUP_CHILD = (
    "import os, signal, sys, time\n"
    "delay = float(sys.argv[1])\n"
    "def on_hup(signum, frame):\n"
    "    time.sleep(delay)\n"
    "    os._exit(5)\n"
    "signal.signal(signal.SIGHUP, on_hup)\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    time.sleep(1)\n"
)


@pytest.mark.timeout(30)
async def test_process_status_own_exits_vs_tuiman_caused(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(recorder_source("after_reap"))
    after_reap = f'after_reap = "{lab.path("after_reap")}"'
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        numprocesses = 3
        graceful_timeout = 2
        [watchers.w.hooks]
        {after_reap}
        [watchers.once]
        cmd = ["sh", "-c", "exit 3"]
        respawn = false
        autostart = false
        [watchers.once.hooks]
        {after_reap}
        [watchers.aging]
        cmd = "sleep 300"
        max_age = 0.3
        max_age_variance = 0
        autostart = false
        [watchers.aging.hooks]
        {after_reap}
        [watchers.hup]
        cmd = [{PY!r}, "-c", {HUP_CHILD!r}, "0.8"]
        graceful_timeout = 0.3
        autostart = false
        [watchers.hup.hooks]
        {after_reap}
        [watchers.quickhup]
        cmd = [{PY!r}, "-c", {HUP_CHILD!r}, "0"]
        graceful_timeout = 2
        autostart = false
        [watchers.quickhup.hooks]
        {after_reap}
        """
    )
    w = arbiter.get("w")

    async def reaped(pid: int) -> tuple[int, int | None]:
        await wait_until(lambda: any(c["process_pid"] == pid for c in lab.calls()))
        [call] = [c for c in lab.calls() if c["process_pid"] == pid]
        return call["exit_code"], call["process_status"]

    def printed(watcher: Watcher, pid: int) -> bool:
        return bool(watcher.output.lines(pid=pid))

    async def fresh_pid(watcher: str, count: int) -> int:
        await wait_until(lambda: len(live_pids(arbiter, watcher)) == count)
        return max(
            live_pids(arbiter, watcher),
            key=lambda p: arbiter.get(watcher).processes[p].started_monotonic,
        )

    assert (await w.start()).ok
    first, second, third = live_pids(arbiter)
    os.kill(first, signal.SIGKILL)  # crash / external kill: own exit
    assert await reaped(first) == (-9, UNEXISTING)
    os.kill(second, signal.SIGTERM)  # an external SIGTERM is still an own exit
    assert await reaped(second) == (-15, UNEXISTING)
    assert (await w.kill_process(third)).ok  # the `kill` command
    assert await reaped(third) == (-15, None)
    target = await fresh_pid("w", 3)
    assert (await w.send_signal(signal.SIGTERM, target)).ok  # a signal sent through tuiman
    assert await reaped(target) == (-15, None)
    await wait_until(lambda: len(live_pids(arbiter)) == 3)
    oldest = min(w.processes.values(), key=lambda p: p.started_monotonic).pid
    assert (await w.decr(1)).ok
    assert await reaped(oldest) == (-15, None)
    old = live_pids(arbiter)
    assert (await w.reload()).ok
    for pid in old:
        assert await reaped(pid) == (-15, None)
    remaining = live_pids(arbiter)
    assert (await w.stop()).ok
    for pid in remaining:
        assert await reaped(pid) == (-15, None)

    await arbiter.get("once").start()  # its process exits at once, on its own
    await wait_until(lambda: any(c["exit_code"] == 3 for c in lab.calls()))
    [once_call] = [c for c in lab.calls() if c["exit_code"] == 3]
    assert once_call["process_status"] == UNEXISTING

    assert (await arbiter.get("aging").start()).ok
    [young] = live_pids(arbiter, "aging")
    assert await reaped(young) == (-15, None)  # max_age recycle

    for name, expected in (("quickhup", (5, None)), ("hup", (5, UNEXISTING))):
        # an exit within graceful_timeout of a signal sent through tuiman is tuiman-caused
        watcher = arbiter.get(name)
        assert (await watcher.start()).ok
        [pid] = live_pids(arbiter, name)
        await wait_until(partial(printed, watcher, pid))  # its handler is installed
        assert (await watcher.send_signal(signal.SIGHUP, pid)).ok
        assert await reaped(pid) == expected


# -- async hooks ----------------------------------------------------------------------------------
async def test_async_hooks_are_awaited_off_the_core_loop(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(
        """
        async def before_start(watcher, arbiter, hook_name, **kwargs):
            await asyncio.sleep(0.05)
            record(hook_name, watcher, thread=threading.current_thread().name)
            return True

        async def after_spawn(watcher, arbiter, hook_name, pid, **kwargs):
            await asyncio.sleep(0.05)
            record(hook_name, watcher, pid=pid)
            return False  # only an awaited hook can veto

        async def before_stop(watcher, arbiter, hook_name, **kwargs):
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                record("before_stop_cancelled", watcher)
                raise
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 2
        [watchers.w.hooks]
        before_start = "{lab.path("before_start")}"
        after_spawn = "{lab.path("after_spawn")}"
        before_stop = {hook_entry(lab.path("before_stop"), timeout=0.3)}
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await arbiter.get("w").start()
    assert not result.ok and arbiter.get("w").state == WatcherState.STOPPED
    calls = lab.calls()
    assert calls[0]["hook"] == "before_start"
    assert calls[0]["thread"] == "tuiman-async-hooks"
    assert calls[0]["thread"] != threading.current_thread().name
    spawned = [e.payload["pid"] for e in sub.drain() if e.kind == Kind.SPAWN]
    assert calls[1] == {
        "hook": "after_spawn",
        "state": "starting",
        "pids": spawned,
        "pid": spawned[0],
    }
    # the async before_stop timed out during the veto's stop: it is cancelled on its loop
    await wait_until(lambda: any(c["hook"] == "before_stop_cancelled" for c in lab.calls()))
    assert not alive(spawned[0])


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("exception", ["SystemExit(3)", "KeyboardInterrupt()"])
async def test_systemexit_and_keyboardinterrupt_are_failures(
    arbiter_factory: Factory, lab: HookLab, flavour: str, exception: str
) -> None:
    prefix = "async " if flavour == "async" else ""
    lab.write(
        f"""
        {prefix}def bad(watcher, arbiter, hook_name, **kwargs):
            raise {exception}

        async def good(watcher, arbiter, hook_name, **kwargs):
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        priority = 2
        [watchers.w.hooks]
        before_start = "{lab.path("bad")}"
        [watchers.after]
        cmd = "sleep 300"
        priority = 1
        [watchers.after.hooks]
        before_start = {hook_entry(lab.path("good"), timeout=2)}
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    assert arbiter.get("w").state == WatcherState.STOPPED
    first, second = hook_events(sub.drain())
    assert first.kind == Kind.HOOK_FAILURE and first.payload["vetoed"] is True
    assert first.payload["error"] == (
        "SystemExit: 3" if "SystemExit" in exception else "KeyboardInterrupt"
    )
    # tuiman (and its hook loop) survive: the next watcher's async hook still runs
    assert second.kind == Kind.HOOK_SUCCESS and second.watcher == "after"
    assert arbiter.get("after").state == WatcherState.ACTIVE


# -- vetoes outside a start -----------------------------------------------------------------------
@pytest.mark.parametrize("hook", ["before_spawn", "after_spawn"])
async def test_veto_during_incr_keeps_running_processes(
    arbiter_factory: Factory, lab: HookLab, hook: str
) -> None:
    lab.write(
        f"""
        def {hook}(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher, **kwargs)
            return len(watcher.pids) < {1 if hook == "before_spawn" else 2}
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 2
        [watchers.w.hooks]
        {hook} = "{lab.path(hook)}"
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [kept] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await watcher.incr(1)
    assert not result.ok and result.error == f"veto:{hook}"
    events = sub.drain()
    assert watcher.state == WatcherState.ACTIVE
    assert live_pids(arbiter) == [kept] and alive(kept)
    assert watcher.numprocesses == 1
    assert not [e for e in events if e.kind in (Kind.STOP, Kind.STATE)]
    if hook == "after_spawn":  # the vetoed newcomer was killed, the old one kept
        [newcomer] = [e.payload["pid"] for e in events if e.kind == Kind.SPAWN]
        assert not alive(newcomer)
        assert [e.payload["pid"] for e in events if e.kind == Kind.KILL] == [newcomer]


@pytest.mark.parametrize("hook", ["before_spawn", "after_spawn"])
async def test_spawn_veto_on_respawn_stops_the_watcher(
    arbiter_factory: Factory, lab: HookLab, hook: str
) -> None:
    lab.write(
        f"""
        def {hook}(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            return len([c for c in open(LOG) if '"{hook}"' in c]) == 1

        def stopping(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        [watchers.w.hooks]
        {hook} = "{lab.path(hook)}"
        before_stop = "{lab.path("stopping")}"
        after_stop = "{lab.path("stopping")}"
        """
    )
    watcher = arbiter.get("w")
    await arbiter.start()
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    history = arbiter.bus.subscribe(snapshot=False)
    os.kill(pid, signal.SIGKILL)
    await next_event(sub, Kind.HOOK_SUCCESS, "w", where=lambda e: e.payload["name"] == "after_stop")
    events = history.drain()
    if hook == "before_spawn":
        assert trace(events) == [
            "reap",
            "veto:before_spawn",
            "state:stopping",
            "ok:before_stop",
            "stop",
            "state:stopped",
            "ok:after_stop",
        ]
    else:  # the respawned process is killed, then the watcher stopped
        assert trace(events) == [
            "reap",
            "spawn",
            "veto:after_spawn",
            "kill:15",
            "reap",
            "state:stopping",
            "ok:before_stop",
            "stop",
            "state:stopped",
            "ok:after_stop",
        ]
        [_, respawned] = [e.payload["pid"] for e in events if e.kind == Kind.REAP]
        assert not alive(respawned)
    assert watcher.state == WatcherState.STOPPED
    assert watcher.reason == f"veto:{hook}"
    assert watcher.processes == {} and not alive(pid)
    assert [c["hook"] for c in lab.calls()] == [hook, hook, "before_stop", "after_stop"]
    assert arbiter.failures and arbiter.is_done(watcher)  # a stop by a hook is "on its own"


async def test_veto_during_reload_keeps_the_old_processes(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(
        """
        def before_spawn(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            return len(watcher.pids) < 3  # the reload's second new process is refused
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        numprocesses = 2
        graceful_timeout = 2
        [watchers.w.hooks]
        before_spawn = "{lab.path("before_spawn")}"
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    old = sorted(live_pids(arbiter))
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await watcher.reload()
    assert not result.ok and result.error == "veto:before_spawn"
    events = sub.drain()
    [newcomer] = [e.payload["pid"] for e in events if e.kind == Kind.SPAWN]
    assert not alive(newcomer)
    assert sorted(live_pids(arbiter)) == old and all(alive(pid) for pid in old)
    assert watcher.state == WatcherState.ACTIVE
    assert not [e for e in events if e.kind in (Kind.STOP, Kind.STATE)]


async def test_before_spawn_before_every_spawn_attempt(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(recorder_source("before_spawn"))
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "{unrunnable_program(lab.directory)}"
        max_retry = 2
        [watchers.w.restart]
        backoff_initial = 0.05
        [watchers.w.hooks]
        before_spawn = "{lab.path("before_spawn")}"
        """
    )
    history = arbiter.bus.subscribe(snapshot=False)
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await next_event(sub, Kind.FAILED, "w", timeout=5)
    labels = [text for text in trace(history.drain()) if text in ("ok:before_spawn",)]
    assert len(labels) == 3 and len(lab.calls()) == 3  # the first attempt and max_retry retries
    assert arbiter.get("w").state == WatcherState.FAILED


async def test_hook_stopping_its_watcher_mid_start_all(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    """The queued stop cancels that watcher's start; the start-all goes on with the next one."""
    lab.write(
        """
        def after_spawn(watcher, arbiter, hook_name, **kwargs):
            watcher.stop()
            time.sleep(0.2)  # the stop is queued and cancels this start meanwhile
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.a]
        cmd = "sleep 300"
        priority = 2
        [watchers.a.hooks]
        after_spawn = "{lab.path("after_spawn")}"
        [watchers.b]
        cmd = "sleep 300"
        priority = 1
        """
    )
    await asyncio.wait_for(arbiter.start(), 10)
    await wait_until(lambda: arbiter.get("a").state == WatcherState.STOPPED)
    assert arbiter.get("a").processes == {}
    assert arbiter.get("b").state == WatcherState.ACTIVE
    await wait_until(lambda: arbiter.is_done(arbiter.get("a")))  # a stop by a hook: done on its own


async def test_arbiter_stop_from_a_hook_quits(arbiter_factory: Factory, lab: HookLab) -> None:
    lab.write(
        """
        def after_start(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            arbiter.stop()
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        [watchers.w.hooks]
        after_start = "{lab.path("after_start")}"
        """
    )
    start_all = asyncio.ensure_future(arbiter.start())
    await asyncio.wait_for(arbiter.quit_requested.wait(), 5)
    [pid] = lab.calls()[0]["pids"]
    await asyncio.wait_for(arbiter.stopped.wait(), 10)
    assert arbiter.get("w").state == WatcherState.STOPPED and not alive(pid)
    assert start_all.done()  # the quit cancelled the start it interrupted


async def test_stop_while_respawn_hook_in_flight_spawns_nothing(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(
        """
        def before_spawn(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            if len([c for c in open(LOG) if '"before_spawn"' in c]) > 1:
                time.sleep(0.5)
                record("returned", watcher)
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        [watchers.w.hooks]
        before_spawn = "{lab.path("before_spawn")}"
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    history = arbiter.bus.subscribe(snapshot=False)
    hook_results = arbiter.bus.subscribe(snapshot=False)
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: len(lab.calls("before_spawn")) == 2)  # the respawn's hook is running
    assert (await watcher.stop()).ok
    await wait_until(lambda: bool(lab.calls("returned")))
    # the late hook's result has reached the loop once its event is on the bus
    await next_event(
        hook_results, Kind.HOOK_SUCCESS, "w", where=lambda e: e.payload["name"] == "before_spawn"
    )
    await asyncio.sleep(0.2)  # the behaviour under test: no spawn follows that late result
    assert watcher.state == WatcherState.STOPPED
    assert watcher.processes == {}
    assert [e for e in history.drain() if e.kind == Kind.SPAWN] == []


# -- signals --------------------------------------------------------------------------------------
async def test_sigkill_before_signal_gets_at_most_one_second(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(
        """
        def before_signal(watcher, arbiter, hook_name, pid, signum, **kwargs):
            record(hook_name, watcher, pid=pid, signum=signum)
            if signum == signal.SIGKILL:
                time.sleep(5)
            return False
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 0.3
        [watchers.w.hooks]
        before_signal = "{lab.path("before_signal")}"
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    began = time.monotonic()
    assert (await watcher.stop()).ok
    assert time.monotonic() - began < 2.5
    events = sub.drain()
    assert trace(events) == [
        "state:stopping",
        "veto:before_signal:15",
        "fail:before_signal:9",
        "kill:9",
        "reap",
        "stop",
        "state:stopped",
    ]
    failure = hook_events(events)[1]
    assert failure.payload["error"] == "timed out after 1.0s" and failure.payload["vetoed"] is False
    assert not alive(pid)


async def test_user_signal_vetoed_or_sent(arbiter_factory: Factory, lab: HookLab) -> None:
    cmd, record = lab.signal_child()
    lab.write(
        """
        def before_signal(watcher, arbiter, hook_name, pid, signum, **kwargs):
            record(hook_name, watcher, pid=pid, signum=signum)
            return signum != signal.SIGHUP
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = {json.dumps(cmd)}
        graceful_timeout = 2
        [watchers.w.hooks]
        before_signal = "{lab.path("before_signal")}"
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    await wait_until(lambda: child_ready(record, pid))
    sub = arbiter.bus.subscribe(snapshot=False)
    vetoed = await watcher.send_signal(signal.SIGHUP, pid)
    assert not vetoed.ok and vetoed.error == "veto:before_signal"
    assert (await watcher.send_signal(signal.SIGUSR1, pid)).ok
    await wait_until(lambda: signals_received(record, pid) == [signal.SIGUSR1])
    assert trace(sub.drain()) == [
        "veto:before_signal:1",
        f"ok:before_signal:{int(signal.SIGUSR1)}",
        f"signal:{int(signal.SIGUSR1)}",
    ]
    assert watcher.state == WatcherState.ACTIVE and alive(pid)


@pytest.mark.timeout(20)
async def test_before_signal_sending_sigtstp_to_the_same_process(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    """The uWSGI lossless-reload pattern: nested signal hooks run inline, no deadlock."""
    cmd, record = lab.signal_child()
    lab.write(
        f"""
        CHILD_RECORD = {str(record)!r}

        def before_signal(watcher, arbiter, hook_name, pid, signum, **kwargs):
            record(hook_name, watcher, pid=pid, signum=signum)
            if signum == signal.SIGTERM:
                sent = watcher.send_signal(pid, signal.SIGTSTP)
                record("nested_returned", watcher, sent=sent)
                # the child notes TSTP before TERM arrives (Python runs pending handlers by number)
                deadline = time.monotonic() + 2
                while f"{{pid}} 20" not in open(CHILD_RECORD).read():
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
            return True

        def after_signal(watcher, arbiter, hook_name, pid, signum, **kwargs):
            record(hook_name, watcher, pid=pid, signum=signum)
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = {json.dumps(cmd)}
        graceful_timeout = 3
        [watchers.w.hooks]
        before_signal = "{lab.path("before_signal")}"
        after_signal = "{lab.path("after_signal")}"
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    [pid] = live_pids(arbiter)
    await wait_until(lambda: child_ready(record, pid))
    sub = arbiter.bus.subscribe(snapshot=False)
    began = time.monotonic()
    assert (await asyncio.wait_for(watcher.stop(), 10)).ok
    assert time.monotonic() - began < 2.0
    assert signals_received(record, pid) == [signal.SIGTSTP, signal.SIGTERM]
    tstp, term = int(signal.SIGTSTP), int(signal.SIGTERM)
    assert [(c["hook"], c.get("signum"), c.get("sent")) for c in lab.calls()] == [
        ("before_signal", term, None),
        ("before_signal", tstp, None),  # nested, inline in the same thread
        ("after_signal", tstp, None),
        ("nested_returned", None, True),
        ("after_signal", term, None),
    ]
    events = sub.drain()
    assert trace(events) == [
        "state:stopping",
        f"ok:before_signal:{tstp}",
        f"ok:after_signal:{tstp}",
        f"signal:{tstp}",
        f"ok:before_signal:{term}",
        f"ok:after_signal:{term}",
        f"kill:{term}",
        "reap",
        "stop",
        "state:stopped",
    ]
    assert not alive(pid)


# -- what hooks may call (docs/hooks.md#what-a-hook-can-see) ---------------------------------------
async def test_hook_facades_and_queued_commands(arbiter_factory: Factory, lab: HookLab) -> None:
    lab.write(
        """
        def after_start(watcher, arbiter, hook_name, **kwargs):
            [process] = watcher.processes.values()
            record(
                hook_name, watcher, name=watcher.name, numprocesses=watcher.numprocesses,
                priority=watcher.priority, cmd=watcher.cmd, env_marker=watcher.env.get("MARK"),
                process=[process.pid, process.wid, process.status, process.state,
                         process.started > 0, process.age() >= 0],
                watchers=sorted(w.name for w in arbiter.watchers),
                other=arbiter.get_watcher("other").status(), missing=arbiter.get_watcher("nope"),
                incr=watcher.incr(),
            )
            arbiter.publish("deploy_note", watcher=watcher.name, note="hello")
            arbiter.publish("global_note", level=2)
            return True

        def after_reap(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher, **kwargs)
            if kwargs["process_status"] is not None:
                watcher.stop()  # queued on the core loop, returns at once
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        priority = 7
        graceful_timeout = 2
        env = {{ MARK = "m1" }}
        [watchers.w.hooks]
        after_start = "{lab.path("after_start")}"
        after_reap = "{lab.path("after_reap")}"
        [watchers.other]
        cmd = "sleep 300"
        autostart = false
        """
    )
    watcher = arbiter.get("w")
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.start()).ok
    await wait_until(lambda: len(live_pids(arbiter)) == 2)  # the queued incr ran after the start
    assert watcher.numprocesses == 2
    [call] = lab.calls("after_start")
    first = call["process"][0]
    assert call == {
        "hook": "after_start",
        "state": "starting",
        "pids": [first],
        "name": "w",
        "numprocesses": 1,
        "priority": 7,
        "cmd": "sleep 300",
        "env_marker": "m1",
        "process": [first, 1, 0, "running", True, True],
        "watchers": ["other", "w"],
        "other": "stopped",
        "missing": None,
        "incr": 2,
    }
    deploy = await next_event(sub, "deploy_note", "w")
    assert deploy.payload == {"note": "hello"} and deploy.topic == "watcher.w.deploy_note"
    global_note = await next_event(sub, "global_note")
    assert global_note.watcher is None and global_note.topic == "arbiter.global_note"
    assert global_note.payload == {"level": 2}
    os.kill(first, signal.SIGKILL)  # the after_reap hook stops the watcher
    await wait_until(lambda: watcher.state == WatcherState.STOPPED)
    assert watcher.processes == {}
    # a stop by a hook is not a user command (docs/headless.md#when-it-ends)
    assert not watcher.stopped_by_command


# -- hooks never freeze tuiman (docs/hooks.md#timeouts-and-threads) --------------------------------
@pytest.mark.timeout(20)
async def test_slow_hook_in_one_watcher_never_delays_another(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    lab.write(
        """
        def slow(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            time.sleep(5)
            return True

        def quick(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher, **kwargs)
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.a]
        cmd = "sleep 300"
        priority = 1
        [watchers.a.hooks]
        before_start = {hook_entry(lab.path("slow"), timeout=10)}
        [watchers.b]
        cmd = "sleep 300"
        priority = 2
        [watchers.b.hooks]
        before_spawn = "{lab.path("quick")}"
        after_reap = "{lab.path("quick")}"
        """
    )
    start_all = asyncio.ensure_future(arbiter.start())
    await wait_until(lambda: bool(lab.calls("before_start")))  # a's hook is sleeping now
    [victim] = live_pids(arbiter, "b")
    history = arbiter.bus.subscribe(snapshot=False)
    killed_at = time.time()
    os.kill(victim, signal.SIGKILL)
    events: list[Event] = []

    def respawned_and_hooked() -> bool:
        events.extend(history.drain())
        return bool(hook_events(events, "after_reap")) and any(e.kind == Kind.SPAWN for e in events)

    await wait_until(respawned_and_hooked, 2)
    [reap] = [e for e in events if e.kind == Kind.REAP]
    [spawn] = [e for e in events if e.kind == Kind.SPAWN]
    [after_reap] = hook_events(events, "after_reap")
    assert reap.payload["pid"] == victim
    assert reap.time - killed_at < 0.5 and spawn.time - killed_at < 0.5
    assert after_reap.time - killed_at < 0.5  # b's own hooks ran meanwhile, in parallel
    assert arbiter.get("a").state == WatcherState.STOPPED and not start_all.done()
    assert len(live_pids(arbiter, "b")) == 1
    began = time.monotonic()
    await asyncio.wait_for(arbiter.quit(), 5)  # cancels a's start: the sleeping hook is abandoned
    assert time.monotonic() - began < 2.0
    assert start_all.done()


@pytest.mark.timeout(20)
async def test_hook_that_never_returns(arbiter_factory: Factory, lab: HookLab) -> None:
    lab.write(
        """
        FOREVER = threading.Event()

        def hang(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            FOREVER.wait()
        """
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        graceful_timeout = 2
        [watchers.w.hooks]
        before_stop = {hook_entry(lab.path("hang"), timeout=0.5)}
        [watchers.late]
        cmd = "sleep 300"
        autostart = false
        [watchers.late.hooks]
        before_start = "{lab.path("hang")}"
        """
    )
    await arbiter.start()
    [pid] = live_pids(arbiter)
    sub = arbiter.bus.subscribe(snapshot=False)
    began = time.monotonic()
    assert (await arbiter.get("w").stop()).ok
    assert 0.5 <= time.monotonic() - began < 2.0
    [failure] = hook_events(sub.drain())
    assert failure.kind == Kind.HOOK_FAILURE and failure.payload["error"] == "timed out after 0.5s"
    assert not alive(pid)
    assert arbiter.hooks.threads_alive >= 1  # the stuck thread is abandoned, not joined
    late_start = asyncio.ensure_future(arbiter.get("late").start())  # default 30 s timeout
    await wait_until(lambda: len(lab.calls()) == 2)
    began = time.monotonic()
    await asyncio.wait_for(arbiter.quit(), 5)
    assert time.monotonic() - began < 2.0
    assert late_start.done()


async def test_hook_threads_exhausted_fails_at_once(arbiter_factory: Factory, lab: HookLab) -> None:
    lab.write(
        """
        FOREVER = threading.Event()

        def hang(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            FOREVER.wait(10)

        def quick(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            return True

        async def quick_async(watcher, arbiter, hook_name, **kwargs):
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [tuiman]
        hook_threads = 1
        [watchers.a]
        cmd = "sleep 300"
        priority = 3
        [watchers.a.hooks]
        before_start = {hook_entry(lab.path("hang"), timeout=0.3)}
        [watchers.b]
        cmd = "sleep 300"
        priority = 2
        [watchers.b.hooks]
        before_start = "{lab.path("quick")}"
        [watchers.c]
        cmd = "sleep 300"
        priority = 1
        [watchers.c.hooks]
        before_start = "{lab.path("quick_async")}"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    a_event, b_event, c_event = hook_events(sub.drain())
    assert a_event.watcher == "a" and a_event.payload["error"] == "timed out after 0.3s"
    assert b_event.watcher == "b" and b_event.kind == Kind.HOOK_FAILURE
    assert (
        b_event.payload["error"]
        == "HookThreadsExhausted: all 1 hook threads are busy (stuck hooks?)"
    )
    assert b_event.payload["duration"] < 0.05 and b_event.payload["vetoed"] is True
    assert [c["hook"] for c in lab.calls()] == ["before_start"]  # b's hook never ran
    assert arbiter.get("b").state == WatcherState.STOPPED
    assert c_event.kind == Kind.HOOK_SUCCESS  # async hooks need no thread
    assert arbiter.get("c").state == WatcherState.ACTIVE

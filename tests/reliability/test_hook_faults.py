"""Broken hooks (docs/hooks.md#failures, docs/hooks.md#timeouts-and-threads,
docs/reliability.md#hooks-never-freeze-or-break-tuiman): a hook that raises, hangs, returns garbage,
has the wrong signature, imports something missing, calls back into its watcher or spawns processes
of its own. Each is reported as a hook event, and tuiman keeps supervising every other watcher: a
sentinel watcher's process is SIGKILLed during the fault and must come back, the core loop is never
blocked (lag probe), and no zombie is left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import LagProbe, write_hook_module
from tests.support.procs import zombie_children
from tests.support.waiting import wait_until
from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.events import Event, Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

pytestmark = pytest.mark.timeout(60)

SENTINEL = """
[watchers.sentinel]
cmd = "sleep 300"
numprocesses = 2
graceful_timeout = 5
"""


class Recorder:
    """Every event since it was created (a big queue: nothing is dropped)."""

    def __init__(self, arbiter: Arbiter) -> None:
        self.subscription = arbiter.bus.subscribe(maxsize=200_000, snapshot=False)
        self.events: list[Event] = []

    def all(self) -> list[Event]:
        self.events.extend(self.subscription.drain())
        return self.events

    def of(self, kind: str, watcher: str | None = None, name: str | None = None) -> list[Event]:
        return [
            e
            for e in self.all()
            if e.kind == kind
            and (watcher is None or e.watcher == watcher)
            and (name is None or e.payload.get("name") == name)
        ]


async def assert_supervises(arbiter: Arbiter, name: str = "sentinel") -> None:
    """SIGKILL one of the watcher's processes: it is reaped and replaced within seconds."""
    watcher = arbiter.get(name)
    victim = next(pid for pid, process in watcher.processes.items() if process.alive)
    wid = watcher.processes[victim].wid
    subscription = arbiter.bus.subscribe(snapshot=False)
    seen: dict[str, Event] = {}

    async def reaped_and_replaced() -> None:
        # The respawn never waits for reap hooks (docs/supervision.md#exit-reap-and-respawn): the
        # two events come in either order.
        while len(seen) < 2:
            event = await subscription.get()
            if event.watcher != name:
                continue
            if event.kind == Kind.REAP and event.payload["pid"] == victim:
                seen["reap"] = event
            elif event.kind == Kind.SPAWN and event.payload["wid"] == wid:
                seen["spawn"] = event

    try:
        os.kill(victim, signal.SIGKILL)
        await asyncio.wait_for(reaped_and_replaced(), 5)
        assert seen["reap"].payload["exit_code"] == -signal.SIGKILL
    finally:
        subscription.close()


async def assert_no_zombies(baseline: set[int]) -> None:
    await wait_until(lambda: not zombie_children() - baseline, timeout=5)


async def test_hook_that_raises_is_reported_and_vetoes_only_its_own_watcher(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe
) -> None:
    module = write_hook_module(
        tmp_path,
        """
        class Unprintable(Exception):
            def __str__(self):
                raise ValueError("cannot even print this error")

        def boom(watcher, arbiter, hook_name, **kwargs):
            raise RuntimeError("boom")

        def exits(watcher, arbiter, hook_name, **kwargs):
            raise SystemExit(3)

        def interrupts(watcher, arbiter, hook_name, **kwargs):
            raise KeyboardInterrupt

        def unprintable(watcher, arbiter, hook_name, **kwargs):
            raise Unprintable()
        """,
    )
    arbiter = arbiter_factory(
        SENTINEL
        + f"""
        [watchers.raises]
        cmd = "sleep 300"
        hooks = {{ before_start = "{module}.boom" }}
        [watchers.exits]
        cmd = "sleep 300"
        hooks = {{ before_spawn = "{module}.exits" }}
        [watchers.interrupts]
        cmd = "sleep 300"
        hooks = {{ after_spawn = "{module}.interrupts" }}
        [watchers.unprintable]
        cmd = "sleep 300"
        hooks = {{ after_start = "{module}.unprintable" }}
        [watchers.reaps]
        cmd = "sleep 300"
        hooks = {{ after_reap = "{module}.boom", before_reap = "{module}.unprintable" }}
        """
    )
    recorder = Recorder(arbiter)
    await asyncio.wait_for(arbiter.start(), 20)
    expected = {
        "raises": ("before_start", "RuntimeError: boom"),
        "exits": ("before_spawn", "SystemExit: 3"),
        "interrupts": ("after_spawn", "KeyboardInterrupt"),
        "unprintable": ("after_start", "Unprintable"),
    }
    for name, (hook, error) in expected.items():
        failures = recorder.of(Kind.HOOK_FAILURE, name, hook)
        assert len(failures) == 1, (name, recorder.of(Kind.HOOK_FAILURE, name))
        assert failures[0].payload["vetoed"] is True
        assert error in failures[0].payload["error"]
        assert arbiter.get(name).state == WatcherState.STOPPED, name
        assert not any(p.alive for p in arbiter.get(name).processes.values()), name
    assert arbiter.get("sentinel").state == WatcherState.ACTIVE
    assert arbiter.get("reaps").state == WatcherState.ACTIVE
    # a failing reap hook is reported on every reap and changes nothing
    await assert_supervises(arbiter, "reaps")
    await wait_until(lambda: len(recorder.of(Kind.HOOK_FAILURE, "reaps", "after_reap")) == 1)
    after_reap = recorder.of(Kind.HOOK_FAILURE, "reaps", "after_reap")[0]
    assert after_reap.payload["vetoed"] is False
    assert len(recorder.of(Kind.HOOK_FAILURE, "reaps", "before_reap")) == 1
    await assert_supervises(arbiter)
    lag.check()


async def test_hook_that_hangs_times_out_while_everything_else_goes_on(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe
) -> None:
    module = write_hook_module(
        tmp_path,
        """
        import asyncio, threading, time

        RELEASE = threading.Event()
        LATE = []

        def hang(watcher, arbiter, hook_name, **kwargs):
            RELEASE.wait(60)
            # Called after the hook was abandoned: the facade must not act any more.
            LATE.append(watcher.incr(5))
            return True

        async def async_hang(watcher, arbiter, hook_name, **kwargs):
            await asyncio.sleep(60)

        async def blocks_its_loop(watcher, arbiter, hook_name, **kwargs):
            RELEASE.wait(60)  # a blocking call inside async def: stalls the hook loop only
            return True

        def slow_stop(watcher, arbiter, hook_name, **kwargs):
            RELEASE.wait(60)
        """,
    )
    arbiter = arbiter_factory(
        SENTINEL
        + f"""
        [watchers.hangs]
        cmd = "sleep 300"
        hooks = {{ before_spawn = {{ path = "{module}.hang", timeout = 1.5 }} }}
        [watchers.async_hangs]
        cmd = "sleep 300"
        hooks = {{ before_start = {{ path = "{module}.async_hang", timeout = 1.0 }} }}
        [watchers.blocks_loop]
        cmd = "sleep 300"
        hooks = {{ after_start = {{ path = "{module}.blocks_its_loop", timeout = 1.0 }} }}
        [watchers.slow_stop]
        cmd = "sleep 300"
        graceful_timeout = 5
        hooks = {{ after_stop = {{ path = "{module}.slow_stop", timeout = 0.5 }} }}
        """
    )
    hooks_module = sys.modules[module]
    recorder = Recorder(arbiter)
    try:
        sentinel = arbiter.get("sentinel")
        results = {name: arbiter.get(name).start() for name in ("hangs", "async_hangs")}
        assert (await sentinel.start()).ok
        # while the hooks hang, the sentinel is supervised as usual
        await assert_supervises(arbiter)
        assert not results["hangs"].done()
        await assert_supervises(arbiter)
        outcomes = {name: await asyncio.wait_for(task, 10) for name, task in results.items()}
        assert all(not outcome.ok for outcome in outcomes.values()), outcomes
        failure = recorder.of(Kind.HOOK_FAILURE, "hangs", "before_spawn")[0]
        assert failure.payload["error"] == "timed out after 1.5s"
        assert 1.4 <= failure.payload["duration"] < 3.0
        async_failure = recorder.of(Kind.HOOK_FAILURE, "async_hangs", "before_start")[0]
        assert async_failure.payload["error"] == "timed out after 1.0s"
        assert arbiter.get("hangs").state == WatcherState.STOPPED
        # an async hook that blocks the hook loop: only that hook times out
        outcome = await asyncio.wait_for(arbiter.get("blocks_loop").start(), 10)
        assert not outcome.ok
        assert recorder.of(Kind.HOOK_FAILURE, "blocks_loop", "after_start")
        # a hanging after_stop hook bounds the stop; it never holds it up for longer
        assert (await arbiter.get("slow_stop").start()).ok
        started = time.monotonic()
        await asyncio.wait_for(arbiter.get("slow_stop").stop(), 10)
        assert time.monotonic() - started < 3.0
        assert arbiter.get("slow_stop").state == WatcherState.STOPPED
        await assert_supervises(arbiter)
        lag.check()
    finally:
        hooks_module.RELEASE.set()
    # the abandoned hook's late call into the facade changed nothing
    await wait_until(lambda: bool(hooks_module.LATE))
    await asyncio.sleep(0.1)  # the behaviour under test: the late call changes nothing meanwhile
    assert arbiter.get("hangs").numprocesses == 1
    assert not arbiter.get("hangs").processes


async def test_stuck_hooks_use_up_their_threads_and_new_ones_fail_at_once(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe
) -> None:
    module = write_hook_module(
        tmp_path,
        """
        import threading
        RELEASE = threading.Event()

        def stuck(watcher, arbiter, hook_name, **kwargs):
            RELEASE.wait(60)
            return True

        def quick(watcher, arbiter, hook_name, **kwargs):
            return True
        """,
    )
    arbiter = arbiter_factory(
        SENTINEL
        + f"""
        [tuiman]
        hook_threads = 2
        [watchers.stuck1]
        cmd = "sleep 300"
        hooks = {{ before_start = {{ path = "{module}.stuck", timeout = 0.3 }} }}
        [watchers.stuck2]
        cmd = "sleep 300"
        hooks = {{ before_start = {{ path = "{module}.stuck", timeout = 0.3 }} }}
        [watchers.late]
        cmd = "sleep 300"
        autostart = false
        hooks = {{ before_start = "{module}.quick" }}
        """
    )
    recorder = Recorder(arbiter)
    try:
        await asyncio.wait_for(arbiter.start(), 20)
        started = time.monotonic()
        outcome = await arbiter.get("late").start()
        assert time.monotonic() - started < 0.5  # fails at once, not after a timeout
        assert not outcome.ok
        error = recorder.of(Kind.HOOK_FAILURE, "late", "before_start")[0].payload["error"]
        assert "hook threads are busy" in error
        await assert_supervises(arbiter)
        lag.check()
    finally:
        sys.modules[module].RELEASE.set()
    # once the stuck threads return, hooks run again
    await wait_until(lambda: arbiter.hooks.threads_alive == 0)
    assert (await arbiter.get("late").start()).ok
    assert recorder.of(Kind.HOOK_SUCCESS, "late", "before_start")


async def test_hook_that_returns_garbage_never_breaks_the_core(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe
) -> None:
    module = write_hook_module(
        tmp_path,
        """
        class Garbage:
            def __bool__(self):
                raise RuntimeError("no truth value for you")
            def __repr__(self):
                raise RuntimeError("no repr either")
            __str__ = __repr__
            def __eq__(self, other):
                raise RuntimeError("no comparisons")
            __hash__ = None

        class NotABool:
            def __bool__(self):
                return "yes"

        def garbage(watcher, arbiter, hook_name, **kwargs):
            return Garbage()

        def not_a_bool(watcher, arbiter, hook_name, **kwargs):
            return NotABool()

        async def async_garbage(watcher, arbiter, hook_name, **kwargs):
            return Garbage()

        def huge(watcher, arbiter, hook_name, **kwargs):
            return ["x" * 1000] * 10000
        """,
    )
    arbiter = arbiter_factory(
        SENTINEL
        + f"""
        [watchers.garbage]
        cmd = "sleep 300"
        hooks = {{ before_spawn = "{module}.garbage" }}
        [watchers.not_a_bool]
        cmd = "sleep 300"
        hooks = {{ after_start = "{module}.not_a_bool" }}
        [watchers.async_garbage]
        cmd = "sleep 300"
        hooks = {{ before_start = "{module}.async_garbage" }}
        [watchers.ignored]
        cmd = "sleep 300"
        hooks = {{ after_reap = "{module}.garbage", after_spawn = "{module}.huge" }}
        """
    )
    recorder = Recorder(arbiter)
    await asyncio.wait_for(arbiter.start(), 20)
    for name, hook in (
        ("garbage", "before_spawn"),
        ("not_a_bool", "after_start"),
        ("async_garbage", "before_start"),
    ):
        reported = [
            e
            for e in recorder.all()
            if e.kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE)
            and e.watcher == name
            and e.payload["name"] == hook
        ]
        assert len(reported) == 1, (name, reported)
        # garbage is never taken for a yes: the action it guards did not happen
        assert reported[0].payload["vetoed"] is True, reported[0]
        assert arbiter.get(name).state == WatcherState.STOPPED, name
        assert not arbiter.get(name).processes, name
    # where the result is ignored, garbage is just a success
    assert arbiter.get("ignored").state == WatcherState.ACTIVE
    await assert_supervises(arbiter, "ignored")
    await wait_until(lambda: bool(recorder.of(Kind.HOOK_SUCCESS, "ignored", "after_reap")))
    assert not recorder.of(Kind.HOOK_FAILURE, "ignored")
    await assert_supervises(arbiter)
    lag.check()


def test_wrong_signature_and_missing_import_are_refused_at_load(tmp_path: Path) -> None:
    module = write_hook_module(
        tmp_path,
        """
        def no_kwargs(watcher):
            return True

        def positional_only(watcher, arbiter, hook_name, /):
            return True

        def too_many(watcher, arbiter, hook_name, extra):
            return True

        def fine(watcher, arbiter, hook_name, **kwargs):
            return True
        """,
    )
    broken = write_hook_module(tmp_path, "import this_module_does_not_exist_xyz\n")
    text = f"""
    [watchers.web]
    cmd = "sleep 1"
    [watchers.web.hooks]
    before_start = "{module}.no_kwargs"
    after_start = "{module}.positional_only"
    before_spawn = "{module}.too_many"
    after_reap = "{module}.fine"
    before_stop = "{broken}.before_stop"
    after_stop = "{module}.not_there"
    """
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, tmp_path / "tuiman.toml", display_name="t.toml", cwd=tmp_path)
    errors = refused.value.errors
    assert len(errors) == 5, errors
    assert all(
        line.startswith("t.toml: watchers.web.hooks.") and "\n" not in line for line in errors
    )
    joined = "\n".join(errors)
    for hook in ("before_start", "after_start", "before_spawn", "before_stop", "after_stop"):
        assert f"watchers.web.hooks.{hook}:" in joined
    assert "after_reap" not in joined
    assert "ModuleNotFoundError" in joined and "cannot take the before_start call" in joined


async def test_hooks_call_back_into_their_watcher_without_deadlock(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe
) -> None:
    module = write_hook_module(
        tmp_path,
        """
        import signal

        DONE = set()

        def incr_once(watcher, arbiter, hook_name, pid, **kwargs):
            if "incr" not in DONE:
                DONE.add("incr")
                watcher.incr()  # queued; returns at once
            return True

        def nested_signal(watcher, arbiter, hook_name, pid, signum, **kwargs):
            if signum == signal.SIGTERM:
                # the uWSGI pattern: signal from inside before_signal (nested hooks run inline)
                DONE.add(watcher.send_signal(pid, signal.SIGUSR2))
            return True

        def stop_me(watcher, arbiter, hook_name, **kwargs):
            watcher.stop()
            arbiter.get_watcher("other").stop()
        """,
    )
    arbiter = arbiter_factory(
        SENTINEL
        + f"""
        [watchers.grows]
        cmd = "sleep 300"
        graceful_timeout = 5
        hooks = {{ after_spawn = "{module}.incr_once" }}
        [watchers.nested]
        cmd = ["sh", "-c", "trap 'echo got-usr2' USR2; while :; do sleep 0.05; done"]
        graceful_timeout = 5
        hooks = {{ before_signal = "{module}.nested_signal" }}
        [watchers.stops]
        cmd = "sleep 300"
        hooks = {{ after_reap = "{module}.stop_me" }}
        [watchers.other]
        cmd = "sleep 300"
        """
    )
    hooks_module = sys.modules[module]
    recorder = Recorder(arbiter)
    await asyncio.wait_for(arbiter.start(), 20)
    grows = arbiter.get("grows")
    await wait_until(lambda: len([p for p in grows.processes.values() if p.alive]) == 2)
    assert grows.numprocesses == 2
    # send_signal from before_signal during a stop: nested hooks inline, the stop completes
    await asyncio.wait_for(arbiter.get("nested").stop(), 10)
    assert True in hooks_module.DONE
    signals = [e.payload["signum"] for e in recorder.of(Kind.SIGNAL, "nested")]
    assert signals == [signal.SIGUSR2]
    before = [
        e.payload["signum"] for e in recorder.of(Kind.HOOK_SUCCESS, "nested", "before_signal")
    ]
    assert sorted(before) == sorted([signal.SIGTERM, signal.SIGUSR2])
    assert arbiter.get("nested").state == WatcherState.STOPPED
    # stop() on itself and on another watcher from after_reap: both stop, nothing deadlocks
    victim = next(iter(arbiter.get("stops").processes))
    os.kill(victim, signal.SIGKILL)
    await wait_until(lambda: arbiter.get("stops").state == WatcherState.STOPPED, timeout=10)
    await wait_until(lambda: arbiter.get("other").state == WatcherState.STOPPED, timeout=10)
    assert not arbiter.get("stops").processes and not arbiter.get("other").processes
    await assert_supervises(arbiter)
    lag.check()


async def test_hooks_that_spawn_processes_keep_their_exit_status(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe, subreaper: set[int]
) -> None:
    """The orphan reaper must not steal a hook's own child statuses
    (docs/supervision.md#orphans-and-escapees), even while SIGCHLD storms make it sweep; and a child
    the hook forgets is still reaped."""
    module = write_hook_module(
        tmp_path,
        """
        import asyncio, os, subprocess, time

        RESULTS = []

        def runs_children(watcher, arbiter, hook_name, **kwargs):
            slow = subprocess.run(["sh", "-c", "sleep 0.7; exit 7"]).returncode
            quick = [subprocess.run(["sh", "-c", "exit 5"]).returncode for _ in range(20)]
            late = subprocess.Popen(["sh", "-c", "exit 9"])
            time.sleep(0.2)  # a zombie for a moment before the hook collects it
            RESULTS.append((slow, quick, late.wait()))
            subprocess.Popen(["sh", "-c", "exit 0"])  # forgotten: never waited for
            # forgotten, and unknown to the subprocess module's own clean-up
            os.posix_spawnp("sh", ["sh", "-c", "exit 0"], dict(os.environ))
            return True

        async def async_children(watcher, arbiter, hook_name, **kwargs):
            child = await asyncio.create_subprocess_exec("sh", "-c", "sleep 0.3; exit 6")
            RESULTS.append(("async", await child.wait()))
            return True
        """,
    )
    arbiter = arbiter_factory(
        SENTINEL
        + f"""
        [watchers.spawner]
        cmd = "sleep 300"
        numprocesses = 2
        [watchers.spawner.hooks]
        after_spawn = "{module}.runs_children"
        before_start = "{module}.async_children"
        [watchers.churn]
        cmd = ["sh", "-c", "sleep 0.05; exit 1"]
        numprocesses = 4
        [watchers.churn.restart]
        flap_attempts = 1000
        backoff_initial = 0.01
        backoff_max = 0.05
        """
    )
    hooks_module = sys.modules[module]
    recorder = Recorder(arbiter)
    await asyncio.wait_for(arbiter.start(), 30)
    await assert_supervises(arbiter)
    await wait_until(lambda: len(hooks_module.RESULTS) == 3, timeout=20)
    assert ("async", 6) in hooks_module.RESULTS
    for result in hooks_module.RESULTS:
        if result[0] != "async":
            assert result == (7, [5] * 20, 9), result
    assert len(recorder.of(Kind.HOOK_SUCCESS, "spawner", "after_spawn")) == 2
    assert recorder.of(Kind.REAP, "churn")  # the storm of SIGCHLDs really happened
    await asyncio.wait_for(arbiter.get("churn").stop(), 10)
    # the forgotten children were reaped by tuiman's orphan reaper
    await wait_until(lambda: not zombie_children() - subreaper, timeout=5)
    lag.check()

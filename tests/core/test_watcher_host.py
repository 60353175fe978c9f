"""A real Watcher driven by a small host of the test's own instead of an Arbiter.

The host records what the watcher tells it (state changes, failures, tracked process groups);
the children, the bus and the hook runner are real.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.hookkit import HookLab, new_lab
from tests.support.core import make_config, next_event
from tests.support.procs import alive, kill_quietly
from tests.support.programs import unrunnable_program
from tests.support.waiting import wait_until
from tuiman.core.bus import Bus, Subscription
from tuiman.core.config.model import WatcherConfig
from tuiman.core.events import Kind
from tuiman.core.payloads import SocketSnapshot
from tuiman.core.processes.log_files import OutputFileSink
from tuiman.core.processes.output import OutputBuffer
from tuiman.core.states import WatcherState
from tuiman.core.supervision.facade import HookWatcher
from tuiman.core.supervision.hooks import FacadeFactory, HookCallToken, HookRunner
from tuiman.core.supervision.watcher import Watcher
from tuiman.core.supervision.watcher_host import WatcherHost


class RecordingHost:
    """Just what a watcher needs of its owner, with a memory of what it was told."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.bus = Bus()
        self.bus.bind_loop(loop)
        self.hooks = HookRunner(self.bus, 4)
        self.hooks.loop_thread_id = threading.get_ident()
        self.marker = f"host-test-{uuid.uuid4().hex[:12]}"
        self.forced = False
        self.quitting = False
        self.failures: list[str] = []
        self.secrets: list[str] = []
        self.states: list[WatcherState] = []
        self.settled = 0
        self.groups: set[int] = set()

    def facades_for(self, watcher: Watcher) -> FacadeFactory:
        def make(token: HookCallToken) -> tuple[HookWatcher, None]:
            return HookWatcher(watcher, token), None

        return make

    def call_on_loop(self, callback: Callable[[], None]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def make_output_buffer(self) -> OutputBuffer:
        return OutputBuffer()

    def make_file_sink(self, config: WatcherConfig) -> OutputFileSink:
        raise AssertionError("no test here writes output files")

    def track_group(self, pgid: int) -> None:
        self.groups.add(pgid)

    def untrack_group(self, pgid: int) -> None:
        self.groups.discard(pgid)

    def cgroup_for(self, watcher_name: str) -> None:
        return None  # the marker sweep alone, as where cgroup v2 is not writable

    def socket_fds(self) -> dict[str, int]:
        return {}  # no sockets in these configs

    def socket_snapshots(self) -> list[SocketSnapshot]:
        return []

    def mask_secret(self, value: str) -> None:
        self.secrets.append(value)

    def note_failure(self, watcher_name: str, detail: str) -> None:
        self.failures.append(f"{watcher_name}: {detail}")

    def watcher_state_changed(self, watcher: Watcher) -> None:
        self.states.append(watcher.state)

    def watcher_settled(self, watcher: Watcher) -> None:
        self.settled += 1


_: type[WatcherHost] = RecordingHost  # the fake is checked against the protocol, as the Arbiter

WatcherFactory = Callable[[str], tuple[Watcher, RecordingHost, Subscription]]


@pytest.fixture
async def make_watcher(tmp_path: Path) -> AsyncIterator[WatcherFactory]:
    """Builds one watcher `w` per call from TOML; its processes are stopped, then killed."""
    built: list[Watcher] = []

    def build(toml: str) -> tuple[Watcher, RecordingHost, Subscription]:
        host = RecordingHost(asyncio.get_running_loop())
        watcher = Watcher(make_config(tmp_path, toml).watchers[0], host)
        built.append(watcher)
        return watcher, host, host.bus.subscribe(snapshot=False)

    yield build
    for watcher in built:
        pids = list(watcher.processes)
        try:
            await asyncio.wait_for(watcher.stop(), 15)
        finally:
            for pid in pids:
                kill_quietly(pid)


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> HookLab:
    return new_lab(tmp_path, request.node.name)


def states(subscription: Subscription) -> list[tuple[str, str, str]]:
    return [
        (e.payload["old"], e.payload["new"], e.payload["reason"])
        for e in subscription.drain()
        if e.kind == Kind.STATE
    ]


async def test_start_then_stop_walks_the_states_and_tells_the_host(
    make_watcher: WatcherFactory,
) -> None:
    watcher, host, events = make_watcher(
        """
        [watchers.w]
        cmd = "sleep 30"
        numprocesses = 2
        """
    )
    assert (await watcher.start()).ok
    pids = list(watcher.processes)
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    assert host.groups == {os.getpgid(pid) for pid in pids}

    assert (await watcher.stop()).ok
    assert states(events) == [
        ("stopped", "starting", "command"),
        ("starting", "active", "command"),
        ("active", "stopping", "command"),
        ("stopping", "stopped", "command"),
    ]
    assert host.states == ["starting", "active", "stopping", "stopped"]
    assert not any(alive(pid) for pid in pids)
    assert watcher.processes == {} and host.groups == set()
    assert host.settled >= 2 and watcher.commands_pending == 0
    assert host.failures == []


async def test_a_killed_process_is_respawned_in_its_slot(make_watcher: WatcherFactory) -> None:
    watcher, host, events = make_watcher(
        """
        [watchers.w]
        cmd = "sleep 30"
        """
    )
    assert (await watcher.start()).ok
    [first] = watcher.processes
    os.kill(first, signal.SIGKILL)
    spawn = await next_event(events, Kind.SPAWN, "w", where=lambda e: e.payload["pid"] != first)
    assert spawn.payload["wid"] == 1
    assert alive(spawn.payload["pid"])
    await wait_until(lambda: first not in watcher.processes)
    assert watcher.restarts == 1 and watcher.state == WatcherState.ACTIVE
    assert watcher.last_exit_codes == {1: -signal.SIGKILL}
    assert host.failures == []


async def test_a_failed_one_shot_is_a_failure_for_the_host(make_watcher: WatcherFactory) -> None:
    watcher, host, events = make_watcher(
        """
        [watchers.w]
        cmd = "sh -c 'exit 3'"
        respawn = false
        """
    )
    assert (await watcher.start()).ok
    await wait_until(lambda: watcher.state == WatcherState.STOPPED)
    assert len(host.failures) == 1
    assert host.failures[0].startswith("w: process ") and host.failures[0].endswith(" with 3")
    assert states(events)[-1] == ("stopping", "stopped", "exited")
    assert not watcher.stopped_by_command and watcher.restarts == 0


async def test_a_crash_loop_flaps_then_fails(make_watcher: WatcherFactory) -> None:
    watcher, host, events = make_watcher(
        """
        [watchers.w]
        cmd = "sh -c 'exit 3'"
        [watchers.w.restart]
        flap_attempts = 2
        retry_in = 0.2
        flap_max_retry = 1
        """
    )
    assert (await watcher.start()).ok
    failed = await next_event(events, Kind.FAILED, "w")
    assert failed.payload["reason"] == "flap_exhausted"
    assert watcher.state == WatcherState.FAILED
    assert "flapping" in host.states and host.states[-2:] == ["stopping", "failed"]
    assert host.failures == ["w: gave up after 1 flapping pauses"]


async def test_a_spawn_error_gives_up_after_max_retry(
    make_watcher: WatcherFactory, tmp_path: Path
) -> None:
    watcher, host, events = make_watcher(
        f"""
        [watchers.w]
        cmd = "{unrunnable_program(tmp_path)}"
        max_retry = 0
        """
    )
    start = watcher.start()  # the give-up, queued behind it, cancels it
    failed = await next_event(events, Kind.FAILED, "w")
    assert start.cancelled()
    assert failed.payload["reason"] == "spawn_error"
    assert watcher.state == WatcherState.FAILED and watcher.processes == {}
    assert len(host.failures) == 1 and "spawn failed" in host.failures[0]


async def test_a_vetoing_hook_keeps_the_watcher_stopped(
    make_watcher: WatcherFactory, lab: HookLab
) -> None:
    lab.write(
        """
        def refuse(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher, **kwargs)
            return False
        """
    )
    watcher, host, events = make_watcher(
        f"""
        [watchers.w]
        cmd = "sleep 30"
        [watchers.w.hooks]
        before_start = "{lab.path("refuse")}"
        """
    )
    result = await watcher.start()
    assert (result.ok, result.error) == (False, "veto:before_start")
    assert watcher.state == WatcherState.STOPPED and watcher.reason == "veto:before_start"
    assert [call["state"] for call in lab.calls("before_start")] == ["stopped"]
    assert host.failures == ["w: veto:before_start"]
    assert watcher.processes == {} and host.states == []
    hook_events = [e for e in events.drain() if e.kind == Kind.HOOK_SUCCESS]
    assert [e.payload["vetoed"] for e in hook_events] == [True]


async def test_a_hook_command_reaches_the_watcher_through_the_host(
    make_watcher: WatcherFactory, lab: HookLab
) -> None:
    lab.write(
        """
        def stop_now(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher, **kwargs)
            watcher.stop()
            return True
        """
    )
    watcher, host, events = make_watcher(
        f"""
        [watchers.w]
        cmd = "sleep 30"
        [watchers.w.hooks]
        after_start = "{lab.path("stop_now")}"
        """
    )
    start = watcher.start()  # the hook's stop cancels the start still running its after_start
    await next_event(events, Kind.STOP, "w")
    assert start.cancelled() and watcher.state == WatcherState.STOPPED
    [pid] = lab.calls("after_start")[0]["pids"]
    assert not alive(pid)
    assert not watcher.stopped_by_command  # a hook's stop is not the user's
    assert host.states == ["starting", "stopping", "stopped"]  # the start never finished

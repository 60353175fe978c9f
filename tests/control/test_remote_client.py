"""RemoteClient: the CoreClient that `tuiman attach` uses, against a real headless tuiman."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.control.ctlkit import Instance
from tests.support.waiting import wait_until_sync
from tuiman.client.protocol import CoreClient, EventStream, Outcome
from tuiman.client.remote import RemoteClient, RemoteEventStream
from tuiman.control.client import Unreachable
from tuiman.core.events import Event

pytestmark = pytest.mark.timeout(90)

CONFIG = """
stats_interval = 0.2

[watchers.web]
cmd = "sleep 300"
numprocesses = 2

[watchers.stubborn]
cmd = ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]
graceful_timeout = 60
"""


@pytest.fixture
def inst(start_tuiman: Callable[..., Instance], tuiman_dir: Path) -> Instance:
    instance = start_tuiman(tuiman_dir, CONFIG)
    wait_until_sync(
        lambda: len(instance.pids("web")) == 2 and instance.pids("stubborn"), what="running"
    )
    return instance


async def next_event(
    stream: EventStream, kind: str, where: Callable[[Event], bool] = lambda e: True
) -> Event:
    async def find() -> Event:
        while True:
            event = await stream.get()
            if event.kind == kind and where(event):
                return event

    return await asyncio.wait_for(find(), 20)


async def test_requests_and_identity(inst: Instance) -> None:
    client = await RemoteClient.connect(inst.socket)
    try:
        protocol_view: CoreClient = client  # it satisfies the UI's interface
        assert protocol_view.is_remote
        assert client.source == str(inst.config.resolve()) and client.pid == inst.pid
        status = await client.request("status", watcher="web")
        assert status["ok"] and len(status["watchers"][0]["processes"]) == 2
        bad = await client.request("status", watcher="nope")
        assert bad == {"ok": False, "error": "no watcher named 'nope'"}
        replies = await asyncio.gather(*(client.request("list") for _ in range(30)))
        assert all(r["watchers"] == ["stubborn", "web"] for r in replies)
    finally:
        await client.aclose()
    assert inst.answers()  # disconnecting leaves the instance running


async def test_typed_commands_return_once_done(inst: Instance) -> None:
    client = await RemoteClient.connect(inst.socket)
    try:
        assert await client.incr("web", 2) == Outcome(True)
        assert len(inst.pids("web")) == 4  # done when the reply came: no waiting here
        assert await client.decr("web", 3) == Outcome(True)
        assert len(inst.pids("web")) == 1
        [status] = await client.status("web")
        assert status["name"] == "web" and len(status["processes"]) == 1
        assert await client.stop("web") == Outcome(True)
        assert inst.pids("web") == []
        assert await client.start() == Outcome(True)  # every watcher
        assert len(inst.pids("web")) == 1
        assert await client.kill("web", 999_999) == Outcome(
            False, "kill: no process 999999 in watcher web"
        )
        assert await client.stop("nope") == Outcome(False, "no watcher named 'nope'")
        assert await client.status("nope") == []
        bad_signal = await client.signal("web", 0)
        assert not bad_signal.ok and bad_signal.error.startswith("signal: signal:")
        [pid] = inst.pids("web")
        assert await client.signal("web", 15, pid) == Outcome(True)
        await asyncio.to_thread(
            wait_until_sync, lambda: inst.pids("web") not in ([], [pid]), what="respawned"
        )
        stats = await client.extended_stats("web")
        assert stats.ok and list(stats.processes) == inst.pids("web")
        assert all("mem" in entry for entry in stats.processes.values())
        reload = await client.reload_config()
        assert reload.ok and reload.errors == []
        assert await client.reopen_logs() == Outcome(True)
    finally:
        await client.aclose()


async def test_subscribe_snapshot_then_events_and_stats(inst: Instance) -> None:
    client = await RemoteClient.connect(inst.socket)
    stream = client.subscribe()
    try:
        assert isinstance(stream, RemoteEventStream)
        first = await asyncio.wait_for(stream.get(), 10)
        assert first.kind == "snapshot"
        assert {w["name"] for w in first.payload["watchers"]} == {"web", "stubborn"}
        assert (await client.request("stop", watcher="web"))["ok"]
        state = await next_event(stream, "state", lambda e: e.payload.get("new") == "stopped")
        assert state.watcher == "web" and state.topic == "watcher.web.state"
        client.set_stats(True)
        assert (await client.request("start", watcher="web", wait=True))["ok"]
        # A sample begun before the start (web stopped) may still land after it: the next
        # samples carry both processes.
        stats = await next_event(
            stream, "stats", lambda e: e.watcher == "web" and len(e.payload["processes"]) == 2
        )
        assert set(stats.payload["processes"]) == {str(pid) for pid in inst.pids("web")}
        client.set_stats(False)
    finally:
        stream.close()
        await client.aclose()
    with pytest.raises(EOFError):
        await stream.get()


async def test_quit_instance_then_force(inst: Instance) -> None:
    client = await RemoteClient.connect(inst.socket)
    stream = client.subscribe()
    assert (await asyncio.wait_for(stream.get(), 10)).kind == "snapshot"
    quitting = asyncio.ensure_future(client.quit_instance())
    await next_event(
        stream, "state", lambda e: e.watcher == "stubborn" and e.payload["new"] == "stopping"
    )
    assert not quitting.done()  # stubborn ignores TERM: 60 s of graceful timeout ahead
    client.force_quit()
    await asyncio.wait_for(quitting, 20)
    with pytest.raises(EOFError):
        while True:
            await asyncio.wait_for(stream.get(), 20)
    await asyncio.to_thread(inst.process.wait, 20)
    stream.close()
    await client.aclose()


async def test_connect_to_nothing(tmp_path: Path) -> None:
    with pytest.raises(Unreachable):
        await RemoteClient.connect(tmp_path / "none.sock")

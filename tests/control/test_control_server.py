"""The server in-process, with small limits: idle timeout, connection cap, slow subscribers."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import wait_until
from tuiman.control.connection import Limits
from tuiman.control.endpoint import InstanceRunning, claim_endpoint
from tuiman.control.server import ControlServer, claim_instance, serving
from tuiman.core.config.loader import load_config_text
from tuiman.core.supervision.arbiter import Arbiter

pytestmark = pytest.mark.timeout(60)

Serve = Callable[[Limits], Awaitable[ControlServer]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Start a ControlServer (no watchers) with the given limits; everything is closed after."""
    started: list[tuple[ControlServer, Arbiter]] = []

    async def start(limits: Limits) -> ControlServer:
        path = tmp_path / "tuiman.toml"
        path.write_text(textwrap.dedent(f'[tuiman]\ncontrol_socket = "s{len(started)}.sock"\n'))
        config = load_config_text(path.read_text(), path, cwd=tmp_path)
        arbiter = Arbiter(config)
        arbiter.bind()
        server = ControlServer(arbiter, claim_instance(config), limits)
        await server.start()
        started.append((server, arbiter))
        return server

    yield start
    for server, arbiter in started:
        await server.close()
        server.endpoint.close()
        await arbiter.quit()


async def connect(server: ControlServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(str(server.socket_path), limit=1 << 24)


async def ask(server: ControlServer, request: dict[str, Any]) -> dict[str, Any]:
    reader, writer = await connect(server)
    writer.write(json.dumps(request).encode() + b"\n")
    reply: dict[str, Any] = json.loads(await reader.readline())
    writer.close()
    return reply


async def test_idle_connections_are_closed(serve: Serve) -> None:
    server = await serve(Limits(idle_timeout=0.3))
    reader, writer = await connect(server)
    writer.write(b'{"id": 1, "command": "hel')  # half a line, then nothing
    message = json.loads(await asyncio.wait_for(reader.readline(), 10))
    assert message == {"id": None, "ok": False, "error": "idle timeout"}
    assert await reader.read() == b""
    assert (await ask(server, {"id": 2, "command": "hello"}))["ok"]


async def test_a_streaming_connection_is_not_idle(serve: Serve) -> None:
    server = await serve(Limits(idle_timeout=0.2))
    reader, writer = await connect(server)
    writer.write(b'{"id": 1, "command": "subscribe"}\n')
    assert json.loads(await reader.readline())["stream"] is True
    assert json.loads(await reader.readline())["kind"] == "snapshot"
    await asyncio.sleep(0.6)  # the behaviour under test: 3 idle timeouts pass, still connected
    server.arbiter.bus.publish("note", None, text="still here")
    event = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert event["kind"] == "note" and event["text"] == "still here"
    writer.close()


async def test_connection_cap(serve: Serve) -> None:
    server = await serve(Limits(max_connections=2))
    held = [await connect(server) for _ in range(2)]
    for reader, writer in held:
        writer.write(b'{"id": 1, "command": "hello"}\n')
        assert json.loads(await reader.readline())["ok"]
    refused = await ask(server, {"id": 1, "command": "hello"})
    assert refused["ok"] is False and "too many connections" in refused["error"]
    for _, writer in held:
        writer.close()
    await wait_until(lambda: not server.connections, what="the closed connections released")
    assert (await ask(server, {"id": 2, "command": "hello"}))["ok"]


async def test_a_subscriber_that_cannot_keep_up_is_disconnected(serve: Serve) -> None:
    server = await serve(Limits(stream_queue=20))
    reader, writer = await connect(server)
    writer.write(b'{"id": 1, "command": "subscribe"}\n')
    assert json.loads(await reader.readline())["ok"]
    for number in range(200):  # lifecycle events, all at once: more than the queue holds
        server.arbiter.bus.publish("note", None, number=number)
    lines = (await asyncio.wait_for(reader.read(), 10)).splitlines()
    last = json.loads(lines[-1])
    assert last["ok"] is False and "could not keep up" in last["error"]
    assert not server.connections or all(c.closed for c in server.connections)
    assert (await ask(server, {"id": 2, "command": "hello"}))["ok"]


async def test_stats_stream_follows_the_connection(serve: Serve) -> None:
    server = await serve(Limits())
    reader, writer = await connect(server)
    writer.write(b'{"id": 1, "command": "stats_stream", "enabled": true}\n')
    assert json.loads(await reader.readline()) == {"id": 1, "ok": True, "stats_stream": True}
    assert server.arbiter.stats.consumers == 1
    writer.close()
    await wait_until(lambda: server.arbiter.stats.consumers == 0, what="stats released")
    assert server.arbiter.stats.consumers == 0


async def test_close_ends_every_connection_and_removes_the_socket(serve: Serve) -> None:
    server = await serve(Limits())
    reader, writer = await connect(server)
    writer.write(b'{"id": 1, "command": "subscribe"}\n')
    await reader.readline()
    await server.close()
    assert await asyncio.wait_for(reader.read(), 5) is not None
    assert not server.socket_path.exists()


async def test_serving_block(tmp_path: Path) -> None:
    path = tmp_path / "tuiman.toml"
    path.write_text('[tuiman]\ncontrol_socket = "block.sock"\n')
    config = load_config_text(path.read_text(), path, cwd=tmp_path)
    arbiter = Arbiter(config)
    arbiter.bind()
    endpoint = claim_instance(config)
    try:
        async with serving(arbiter, endpoint) as server:
            assert (await ask(server, {"id": 1, "command": "hello"}))["config"] == str(path)
        assert not endpoint.socket_path.exists()
    finally:
        endpoint.close()
        await arbiter.quit()


def test_endpoint_lock_is_exclusive_and_removed_on_close(tmp_path: Path) -> None:
    socket_path = tmp_path / "lock.sock"
    first = claim_endpoint(socket_path, private_dir=False)
    try:
        with pytest.raises(InstanceRunning) as raised:
            claim_endpoint(socket_path, private_dir=False)
        assert raised.value.pid == os.getpid() and raised.value.socket_path == socket_path
        assert socket_path.exists()  # the loser never touches the winner's socket
    finally:
        first.close()
    assert not socket_path.exists() and not (tmp_path / "lock.lock").exists()
    second = claim_endpoint(socket_path, private_dir=False)
    second.close()

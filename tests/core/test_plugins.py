"""Circus' statsd and watchdog plugins, run in the core (docs/circus.md#plugins), against real
UDP: a listener that receives what statsd would, children that send heartbeats and then stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.core import next_event
from tests.support.procs import alive
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.plugin_watchdog import WatchDog

Factory = Callable[[str], Arbiter]


class UdpListener(asyncio.DatagramProtocol):
    """A statsd server as far as tuiman can tell: it keeps every datagram."""

    def __init__(self) -> None:
        self.datagrams: list[str] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.datagrams.append(data.decode())


@pytest.fixture
async def statsd_server() -> AsyncIterator[tuple[UdpListener, int]]:
    loop = asyncio.get_running_loop()
    transport, listener = await loop.create_datagram_endpoint(
        UdpListener, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    try:
        yield listener, port
    finally:
        transport.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_statsd_counts_each_watcher_event_in_circus_format(
    arbiter_factory: Factory, statsd_server: tuple[UdpListener, int]
) -> None:
    listener, port = statsd_server
    arbiter = arbiter_factory(
        f"""
        [plugins.counters]
        use = "statsd"
        host = "127.0.0.1"
        port = {port}
        application_name = "shop"
        sample_rate = 0.5

        [watchers.web]
        cmd = "sleep 300"
        graceful_timeout = 2
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    started = await next_event(sub, Kind.PLUGIN)
    assert started.payload == {
        "name": "counters",
        "use": "statsd",
        "action": "started",
        "detail": f"127.0.0.1:{port}",
    }
    await wait_until(lambda: len(listener.datagrams) >= 2)
    await arbiter.get("web").stop()
    prefix = "circus.shop.watcher.web"
    expected = [
        f"{prefix}.{event}:1|c|@0.5" for event in ("spawn", "start", "kill", "reap", "stop")
    ]
    await wait_until(lambda: len(listener.datagrams) >= len(expected))
    assert listener.datagrams == expected


async def test_full_stats_sends_cpu_and_memory_gauges_every_loop_rate(
    arbiter_factory: Factory, statsd_server: tuple[UdpListener, int]
) -> None:
    listener, port = statsd_server
    arbiter = arbiter_factory(
        f"""
        [plugins.gauges]
        use = "full_stats"
        host = "127.0.0.1"
        port = {port}
        loop_rate = 0.2

        [watchers.web]
        cmd = "sleep 300"
        numprocesses = 2
        graceful_timeout = 2

        [watchers.idle]
        cmd = "sleep 300"
        autostart = false
        """
    )
    await arbiter.start()
    prefix = "circus.app.watcher._stats"
    await wait_until(
        lambda: any(d.startswith(f"{prefix}.web.mem_sum:") for d in listener.datagrams)
    )
    first_round = listener.datagrams[
        : listener.datagrams.index(f"{prefix}.idle.watchers_num:0|g") + 1
    ]
    buckets = [d.partition(":")[0].removeprefix(f"{prefix}.") for d in first_round]
    assert buckets == [
        "web.watchers_num",
        "web.cpu_max",
        "web.cpu_sum",
        "web.mem_pct_max",
        "web.mem_pct_sum",
        "web.mem_max",
        "web.mem_sum",
        "idle.watchers_num",
    ]
    values = {b: d.partition(":")[2] for b, d in zip(buckets, first_round, strict=True)}
    assert values["web.watchers_num"] == "2|g"
    assert all(value.endswith("|g") for value in values.values())
    mem_max = int(values["web.mem_max"].removesuffix("|g"))
    assert 100_000 < mem_max < 100_000_000  # a `sleep`'s resident memory, in bytes


HEARTBEATS = """\
import os, socket, sys, time
port = int(sys.argv[1])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    if not os.path.exists(f"silence-{os.getpid()}"):
        sock.sendto(f"{os.getpid()};{time.time()}".encode(), ("127.0.0.1", port))
    time.sleep(0.05)
"""


async def test_watchdog_kills_the_process_that_stops_beating_and_it_respawns(
    arbiter_factory: Factory, tmp_path: Path
) -> None:
    port = free_udp_port()
    (tmp_path / "beat.py").write_text(HEARTBEATS)
    arbiter = arbiter_factory(
        f"""
        [plugins.heartbeats]
        use = "watchdog"
        port = {port}
        loop_rate = 0.2
        max_count = 3
        watchers_regex = "^beat"
        watchers_stop_signal = "INT"

        [watchers.beat]
        cmd = "{sys.executable} beat.py {port}"
        working_dir = "{tmp_path}"
        numprocesses = 2
        graceful_timeout = 5

        [watchers.quiet]
        cmd = "sleep 300"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    beat = arbiter.get("beat")
    await wait_until(lambda: len(beat.processes) == 2)
    silent, steady = sorted(beat.processes, key=lambda pid: beat.processes[pid].wid)
    quiet_pid = next(iter(arbiter.get("quiet").processes))
    (tmp_path / f"silence-{silent}").touch()

    killed = await next_event(sub, Kind.PLUGIN, where=lambda e: e.payload["action"] == "kill")
    assert killed.watcher == "beat"
    assert killed.payload == {
        "name": "heartbeats",
        "use": "watchdog",
        "action": "kill",
        "pid": silent,
        "detail": "no heartbeat for 0.6s",
    }
    signalled = await next_event(sub, Kind.KILL, "beat")
    assert signalled.payload["pid"] == silent and signalled.payload["signum"] == signal.SIGINT
    respawned = await next_event(sub, Kind.SPAWN, "beat")
    assert respawned.payload["wid"] == 1 and respawned.payload["pid"] != silent
    # Several checks later, the beating ones (the respawned one too) and the unwatched watcher's
    # process are still there, and nothing else was killed.
    monitor = arbiter.plugins.running["heartbeats"]
    assert isinstance(monitor, WatchDog)
    checks = monitor.checks
    await wait_until(lambda: monitor.checks >= checks + 2 * monitor.config.max_count)
    later = sub.drain()
    assert [e.payload for e in later if e.kind == Kind.PLUGIN] == []
    assert {respawned.payload["pid"], steady} == set(beat.processes)
    assert alive(steady) and alive(respawned.payload["pid"]) and alive(quiet_pid)
    assert set(monitor.monitored) == {str(steady), str(respawned.payload["pid"])}


async def test_a_plugin_that_cannot_bind_is_reported_and_the_watchers_run(
    arbiter_factory: Factory,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        arbiter = arbiter_factory(
            f"""
            [plugins.heartbeats]
            use = "watchdog"
            port = {port}

            [watchers.web]
            cmd = "sleep 300"
            graceful_timeout = 2
            """
        )
        sub = arbiter.bus.subscribe(snapshot=False)
        await arbiter.start()
        failed = await next_event(sub, Kind.PLUGIN)
    assert failed.payload == {
        "name": "heartbeats",
        "use": "watchdog",
        "action": "failed",
        "detail": f"cannot use 127.0.0.1:{port}: Address already in use",
    }
    assert arbiter.failures == [
        f"plugin heartbeats: cannot use 127.0.0.1:{port}: Address already in use"
    ]
    assert len(arbiter.get("web").processes) == 1


async def test_a_config_reload_that_changes_a_plugin_restarts_it(
    arbiter_factory: Factory, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_datagram_endpoint(UdpListener, local_addr=("127.0.0.1", 0))
        for _ in range(2)
    ]
    (first, first_listener), (second, second_listener) = servers
    try:

        def config_text(transport: asyncio.DatagramTransport) -> str:
            port = transport.get_extra_info("sockname")[1]
            return (
                f'[plugins.counters]\nuse = "statsd"\nhost = "127.0.0.1"\nport = {port}\n'
                '[watchers.web]\ncmd = "sleep 300"\ngraceful_timeout = 2\n'
            )

        arbiter = arbiter_factory(config_text(first))
        await arbiter.start()
        await wait_until(lambda: "circus.app.watcher.web.start:1|c" in first_listener.datagrams)
        (tmp_path / "tuiman.toml").write_text(config_text(second))
        applied, changes = await arbiter.reload_config()
        assert applied and changes == ["plugins restarted with the new settings"]
        await arbiter.get("web").restart()
        await wait_until(lambda: "circus.app.watcher.web.start:1|c" in second_listener.datagrams)
        assert first_listener.datagrams.count("circus.app.watcher.web.start:1|c") == 1
        (tmp_path / "tuiman.toml").write_text(config_text(second))
        assert await arbiter.reload_config() == (True, [])  # unchanged: left running
    finally:
        first.close()
        second.close()

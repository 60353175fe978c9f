"""Circus' statsd plugins over UDP (docs/circus.md#plugins), datagram for datagram.

`StatsdEmitter` (circus.plugins.statsd.StatsdEmitter) counts each watcher event Circus publishes:
`circus.<application_name>.watcher.<watcher>.<event>:1|c`. `FullStats`
(circus.plugins.statsd.FullStats) sends, every `loop_rate` seconds, per watcher:
`…watcher._stats.<watcher>.<gauge>:<value>|g`. A `sample_rate` other than 1 is appended as
`|@<rate>` (Circus sends every datagram all the same). Sending never blocks the loop: an asyncio
datagram transport buffers, and a statsd server that is not there costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from tuiman.core.bus import SKIP_OUTPUT
from tuiman.core.config.plugin_model import StatsdPluginConfig
from tuiman.core.events import Event, Kind
from tuiman.core.processes.stats import bytes2human

if TYPE_CHECKING:
    from tuiman.core.supervision.arbiter import Arbiter

# The watcher events Circus publishes (watcher.<name>.<event>): what StatsdEmitter counts.
CIRCUS_WATCHER_EVENTS = frozenset(
    {
        Kind.SPAWN,
        Kind.REAP,
        Kind.KILL,
        Kind.START,
        Kind.STOP,
        Kind.RELOAD,
        Kind.UPDATED,
        Kind.ADD,
        Kind.REMOVE,
        Kind.HOOK_SUCCESS,
        Kind.HOOK_FAILURE,
    }
)
_HUMAN_UNITS = ("B", "K", "M", "G", "T", "P", "E", "Z", "Y")


class StatsdSender:
    """Circus' StatsdClient on an asyncio datagram endpoint."""

    def __init__(self, config: StatsdPluginConfig) -> None:
        self.config = config
        self.prefix = f"circus.{config.application_name}.watcher"
        self._transport: asyncio.DatagramTransport | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(self.config.host, self.config.port)
        )

    def send(self, bucket: str, value: str) -> None:
        if self.config.sample_rate != 1:
            value += f"|@{self.config.sample_rate}"
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(f"{self.prefix}.{bucket}:{value}".encode())

    def increment(self, bucket: str) -> None:
        self.send(bucket, "1|c")

    def gauge(self, bucket: str, value: float) -> None:
        self.send(bucket, f"{value}|g")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class StatsdEmitter:
    def __init__(self, config: StatsdPluginConfig, arbiter: Arbiter) -> None:
        self.config = config
        self._arbiter = arbiter
        self._sender = StatsdSender(config)
        self._running = False

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    async def start(self) -> None:
        await self._sender.open()
        self._running = True
        self._arbiter.bus.add_tap(self._on_event, SKIP_OUTPUT)

    def _on_event(self, event: Event) -> None:
        # A tap: called as each event is published, on the loop; a sendto is all it does.
        if self._running and event.watcher is not None and event.kind in CIRCUS_WATCHER_EVENTS:
            self._sender.increment(f"{event.watcher}.{event.kind}")

    async def stop(self) -> None:
        self._running = False
        self._sender.close()


class FullStats:
    def __init__(self, config: StatsdPluginConfig, arbiter: Arbiter) -> None:
        self.config = config
        self._arbiter = arbiter
        self._sender = StatsdSender(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    async def start(self) -> None:
        await self._sender.open()
        self._task = asyncio.get_running_loop().create_task(self._every_loop_rate())

    async def _every_loop_rate(self) -> None:
        while True:
            await asyncio.sleep(self.config.loop_rate)
            await self.look_after()

    async def look_after(self) -> None:
        arbiter = self._arbiter
        stats = await arbiter.stats.sample()
        for name, watcher in list(arbiter.watchers.items()):
            per_process = [stats[pid] for pid in watcher.processes if pid in stats]
            self._sender.gauge(f"_stats.{name}.watchers_num", len(per_process))
            if not per_process:
                continue
            cpus = [s.cpu_percent for s in per_process]
            mems = [round(s.memory_percent, 3) for s in per_process]
            # Circus reads memory back from its human-readable text: the same rounding here.
            mem_infos = [human2bytes(bytes2human(s.rss)) for s in per_process]
            self._sender.gauge(f"_stats.{name}.cpu_max", max(cpus))
            self._sender.gauge(f"_stats.{name}.cpu_sum", sum(cpus))
            self._sender.gauge(f"_stats.{name}.mem_pct_max", max(mems))
            self._sender.gauge(f"_stats.{name}.mem_pct_sum", sum(mems))
            self._sender.gauge(f"_stats.{name}.mem_max", max(mem_infos))
            self._sender.gauge(f"_stats.{name}.mem_sum", sum(mem_infos))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sender.close()


def human2bytes(text: str) -> int:
    """Circus' `human2bytes` for what `bytes2human` writes: '9.77K' -> 10004."""
    number, unit = text[:-1], text[-1]
    return int(float(number) * (1 << _HUMAN_UNITS.index(unit) * 10))

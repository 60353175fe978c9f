"""Circus' WatchDog plugin (circus.plugins.watchdog.WatchDog, docs/circus.md#plugins): processes
send UDP heartbeats; one not heard from for `loop_rate * max_count` seconds is killed with the
watcher's graceful stop (or `watchers_stop_signal`/`watchers_graceful_timeout`) and respawned.

As in Circus: a heartbeat is a datagram matched by `msg_regex`, whose `pid` group names the
process (default `PID;TIMESTAMP`); processes of watchers matching `watchers_regex` are monitored
from their spawn (the ones running when the plugin starts, from its first check) until their
reap; the first check comes `loop_rate` seconds after the start. Heartbeats arrive on an asyncio
datagram endpoint: nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuiman.core.bus import SKIP_OUTPUT
from tuiman.core.config.plugin_model import WatchdogPluginConfig
from tuiman.core.events import Event, Kind

if TYPE_CHECKING:
    from tuiman.core.supervision.arbiter import Arbiter

MAX_DATAGRAM = 1024  # what Circus reads of each heartbeat


@dataclass
class _Monitored:
    watcher: str
    last_activity: float  # monotonic


class _HeartbeatProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_heartbeat: WatchDog) -> None:
        self._watchdog = on_heartbeat

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._watchdog.heartbeat(data[:MAX_DATAGRAM])


class WatchDog:
    def __init__(self, config: WatchdogPluginConfig, arbiter: Arbiter) -> None:
        self.config = config
        self._arbiter = arbiter
        self._watchers = re.compile(config.watchers_regex)
        self._message = re.compile(config.msg_regex)
        self.monitored: dict[str, _Monitored] = {}  # pid (as text, as in heartbeats) -> status
        self._transport: asyncio.DatagramTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._discovered = False
        self.checks = 0  # how many times it looked for silent processes

    @property
    def address(self) -> str:
        return f"{self.config.ip}:{self.config.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _HeartbeatProtocol(self), local_addr=(self.config.ip, self.config.port)
        )
        self._arbiter.bus.add_tap(self._on_event, SKIP_OUTPUT)
        self._task = loop.create_task(self._every_loop_rate())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _matches(self, watcher: str) -> bool:
        return self._watchers.match(watcher) is not None

    def _on_event(self, event: Event) -> None:
        if self._task is None or event.watcher is None or not self._matches(event.watcher):
            return
        if event.kind == Kind.SPAWN:
            pid = str(event.payload["pid"])
            self.monitored[pid] = _Monitored(event.watcher, time.monotonic())
        elif event.kind == Kind.REAP:
            self.monitored.pop(str(event.payload["pid"]), None)

    def heartbeat(self, data: bytes) -> None:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return
        found = self._message.match(text)
        if found is None:
            return
        status = self.monitored.get(str(found.group("pid")))
        if status is not None:
            status.last_activity = time.monotonic()

    def _discover(self, now: float) -> None:
        """The processes already running at the first check (later ones come by their spawn)."""
        for name, watcher in list(self._arbiter.watchers.items()):
            if self._matches(name):
                for pid, process in watcher.processes.items():
                    if process.alive and str(pid) not in self.monitored:
                        self.monitored[str(pid)] = _Monitored(name, now)

    async def _every_loop_rate(self) -> None:
        while True:
            await asyncio.sleep(self.config.loop_rate)
            self.look_after()

    def look_after(self) -> None:
        """Kill every monitored process silent for `loop_rate * max_count` seconds."""
        now = time.monotonic()
        self.checks += 1
        if not self._discovered:
            self._discovered = True
            self._discover(now)
        silence = self.config.loop_rate * self.config.max_count
        for pid, status in list(self.monitored.items()):
            if status.last_activity >= now - silence:
                continue
            del self.monitored[pid]  # trusting the watcher to stop it, as Circus does
            target = self._arbiter.watchers.get(status.watcher)
            if target is None:
                continue
            self._arbiter.bus.emit(
                Kind.PLUGIN,
                status.watcher,
                {
                    "name": self.config.name,
                    "use": self.config.use,
                    "action": "kill",
                    "pid": int(pid),
                    "detail": f"no heartbeat for {silence:g}s",
                },
            )
            target.kill_process(
                int(pid),
                stop_signal=self.config.watchers_stop_signal,
                graceful_timeout=self.config.watchers_graceful_timeout,
            )

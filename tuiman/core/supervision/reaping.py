"""Reaping a watcher's exited processes: before_reap, the reap event, after_reap, in exit order.

Without reap hooks and with nothing queued, the reap event is published at once; otherwise
each reap waits for the one before it and for its process' signal step, never delaying the
respawn of its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.processes.process import ManagedProcess
from tuiman.core.states import UNEXISTING
from tuiman.core.supervision.command_queue import TaskKeeper
from tuiman.core.supervision.hook_calls import WatcherHooks
from tuiman.core.supervision.watcher_host import WatcherHost


class ReapQueue:
    def __init__(
        self,
        name: str,
        host: WatcherHost,
        bus: Bus,
        hooks: WatcherHooks,
        processes: dict[int, ManagedProcess],
        signal_steps: dict[int, asyncio.Future[None]],
        background: TaskKeeper,
    ) -> None:
        self._name = name
        self._host = host
        self._bus = bus
        self._hooks = hooks
        self._processes = processes  # the watcher's pid -> process, until its reap event
        self._signal_steps = signal_steps
        self._background = background
        self._tail: asyncio.Future[None] | None = None

    def queue(self, process: ManagedProcess, caused: bool) -> None:
        """before_reap, reap event, after_reap: in exit order, never delaying the respawn."""
        status = None if caused else UNEXISTING
        hooks = self._hooks.config.hooks
        if (
            not ("before_reap" in hooks or "after_reap" in hooks)
            and (self._tail is None or self._tail.done())
            and process.pid not in self._signal_steps
        ):
            self._publish(process, status)
            return
        previous = self._tail
        self._tail = self._background.run(self._reap_with_hooks(process, status, previous))

    async def wait(self) -> None:
        """Until every queued reap has published (a stop sequence waits for them)."""
        if self._tail is not None and not self._tail.done():
            with contextlib.suppress(BaseException):
                await self._tail

    async def _reap_with_hooks(
        self, process: ManagedProcess, status: int | None, previous: asyncio.Future[None] | None
    ) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous
        step = self._signal_steps.get(process.pid)
        if step is not None:  # its kill/signal event comes before its reap (docs/events.md#order)
            await asyncio.shield(step)
        exit_time = time.time()
        await self._hooks.run("before_reap", process_pid=process.pid, time=exit_time)
        self._publish(process, status)
        await self._hooks.run(
            "after_reap",
            process_pid=process.pid,
            time=exit_time,
            exit_code=process.exit_code,
            process_status=status,
        )

    def _publish(self, process: ManagedProcess, status: int | None) -> None:
        self._processes.pop(process.pid, None)
        self._host.untrack_group(process.pgid)
        self._bus.emit(
            Kind.REAP,
            self._name,
            {
                "process_pid": process.pid,
                "pid": process.pid,
                "wid": process.wid,
                "exit_code": process.exit_code,
                "process_status": status,
            },
        )

"""A watcher's commands, run one at a time in submission order; stops cancel pending starts.

Also the small task keeper the watcher's parts use for work that outlives the call that
started it (a respawn behind hooks, an ordered reap, a give-up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    error: str | None = None

    @staticmethod
    def failure(error: str) -> CommandResult:
        return CommandResult(False, error)


OK = CommandResult(True)
QUITTING = "refused: tuiman is quitting"  # what a start, incr or reload gets once it quits


class CommandAborted(Exception):
    """A hook vetoed or failed: the command stops here, with this reason."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


CommandFactory = Callable[[], Awaitable[CommandResult]]


class CommandQueue:
    """Serializes one watcher's commands; `on_settled` runs after each one, done or not."""

    def __init__(self, on_settled: Callable[[], None]) -> None:
        self.epoch = (
            0  # bumped by every submission: a start-all skips a watcher commanded meanwhile
        )
        self.pending = 0  # queued or running commands
        self._on_settled = on_settled
        self._lock = asyncio.Lock()
        self._cancellable: set[asyncio.Task[CommandResult]] = set()

    def submit(
        self, factory: CommandFactory, *, cancellable: bool = False, cancels: bool = False
    ) -> asyncio.Task[CommandResult]:
        self.epoch += 1
        self.pending += 1
        if cancels:
            for task in list(self._cancellable):
                task.cancel()
        task = asyncio.get_running_loop().create_task(self._serialized(factory))
        if cancellable:
            self._cancellable.add(task)
            task.add_done_callback(self._cancellable.discard)
        return task

    async def _serialized(self, factory: CommandFactory) -> CommandResult:
        try:
            async with self._lock:
                try:
                    return await factory()
                except CommandAborted as aborted:
                    return CommandResult.failure(f"{aborted.reason}: {aborted.error}")
        finally:
            self.pending -= 1
            # Done-on-its-own is only judged between commands (a restart's stop half is not).
            self._on_settled()


class TaskKeeper:
    """Holds background tasks until they finish (the loop keeps only weak references)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def run(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

"""Start order by `depends_on` (docs/readiness.md#dependencies): a watcher with dependencies
starts once each has reached its condition, or is `blocked` when one never will; quit stops
dependents before their dependencies.

Waiting costs nothing while nothing changes: the arbiter's bus tap wakes the waiters on the
events that can change a condition (state, ready, unready, reap, stop, failed, blocked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from tuiman.core.bus import SKIP_OUTPUT, Bus
from tuiman.core.config.probe_model import Condition
from tuiman.core.events import Event, Kind
from tuiman.core.states import Reason, WatcherState
from tuiman.core.supervision.command_queue import QUITTING, CommandResult

if TYPE_CHECKING:
    from tuiman.core.supervision.watcher import Watcher

_WAKING_KINDS = frozenset(
    {
        Kind.STATE,
        Kind.READY,
        Kind.UNREADY,
        Kind.REAP,
        Kind.STOP,
        Kind.FAILED,
        Kind.BLOCKED,
        Kind.START,
    }
)


class Changes:
    """Wakes every waiter when an event that may change a condition is published."""

    def __init__(self, bus: Bus) -> None:
        self._waiters: set[asyncio.Future[None]] = set()
        bus.add_tap(self._on_event, SKIP_OUTPUT)

    def _on_event(self, event: Event) -> None:
        if event.kind in _WAKING_KINDS:
            self.wake()

    def wake(self) -> None:
        """Also called when a watcher's command settles: no event says so, and a dependency is
        only judged between commands (its after_stop hook may still run after its last state
        event)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)


def condition_status(dependency: Watcher, condition: Condition) -> tuple[bool, str | None]:
    """(met, why it never will be): (False, None) means wait."""
    name = dependency.name
    if dependency.blocked is not None:
        return False, f"{name} is blocked ({dependency.blocked})"
    if dependency.state == WatcherState.FAILED:
        return False, f"{name} failed" + (f" ({dependency.reason})" if dependency.reason else "")
    state = dependency.state
    settled = dependency.started_ever and state == WatcherState.STOPPED
    settled = settled and not dependency.commands_pending
    exited = settled and dependency.reason == Reason.EXITED
    if condition == "started":
        return state in (WatcherState.ACTIVE, WatcherState.FLAPPING) or exited, None
    if condition == "ready":
        if dependency.ready:
            return True, None
        return False, f"{name} stopped before it was ready" if settled else None
    if not exited:
        return False, f"{name} was stopped before it completed" if settled else None
    if condition == "completed":
        return True, None
    codes = dependency.last_exit_codes.values()
    failed = sorted({"unknown" if code is None else str(code) for code in codes if code != 0})
    if failed:
        return False, f"{name} exited with {', '.join(failed)}"
    return True, None


async def start_after_dependencies(
    watcher: Watcher, watchers: Mapping[str, Watcher], changes: Changes
) -> CommandResult:
    """Wait for `watcher`'s dependencies, then start it (its before_start may still veto)."""
    epoch = watcher.command_epoch
    watcher.blocked = None
    announced: list[str] | None = None
    while True:
        if watcher.host.quitting:
            return CommandResult.failure(QUITTING)
        if watcher.command_epoch != epoch:
            watcher.waiting_for = []
            return CommandResult.failure(f"{watcher.name}: taken over by another command")
        pending: list[str] = []
        for name, condition in watcher.config.depends_on.items():
            dependency = watchers.get(name)
            if dependency is None:  # a config reload removed it while this one waited
                return _block(watcher, name, condition, f"{name} is no longer configured")
            met, failure = condition_status(dependency, condition)
            if failure is not None:
                return _block(watcher, name, condition, failure)
            if not met:
                pending.append(f"{name} ({condition})")
        if not pending:
            watcher.waiting_for = []
            try:
                return await watcher.start()
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the start-all itself is cancelled
                return CommandResult.failure(f"{watcher.name}: start cancelled by a stop")
        if pending != announced:
            watcher.waiting_for = announced = pending
            watcher.bus.emit(Kind.WAITING, watcher.name, {"waiting_for": pending})
        await changes.wait()


def _block(watcher: Watcher, dependency: str, condition: str, reason: str) -> CommandResult:
    watcher.waiting_for = []
    watcher.blocked = reason
    watcher.bus.emit(
        Kind.BLOCKED,
        watcher.name,
        {"dependency": dependency, "condition": condition, "reason": reason},
    )
    watcher.host.note_failure(watcher.name, f"blocked: {reason}")
    return CommandResult.failure(f"{watcher.name}: blocked: {reason}")


def stop_ranks(watchers: Iterable[Watcher]) -> dict[str, int]:
    """0 for a watcher nothing depends on; else one more than its highest dependent: stopping
    by ascending rank stops dependents before their dependencies."""
    by_name = {watcher.name: watcher for watcher in watchers}
    dependents: dict[str, list[str]] = {name: [] for name in by_name}
    for watcher in by_name.values():
        for name in watcher.config.depends_on:
            if name in dependents:
                dependents[name].append(watcher.name)
    ranks: dict[str, int] = {}

    def rank(name: str, path: frozenset[str]) -> int:
        if name not in ranks:
            # The loader refuses cycles; a reloaded config is checked the same way. `path` only
            # keeps a bug from recursing forever.
            above = [rank(d, path | {name}) for d in dependents[name] if d not in path]
            ranks[name] = 1 + max(above) if above else 0
        return ranks[name]

    for name in by_name:
        rank(name, frozenset())
    return ranks

"""The in-process publish/subscribe bus (docs/events.md).

Publishing happens on the core's loop thread (`call_soon_threadsafe` for hook threads). Every
subscriber owns a bounded queue: a slow one loses its oldest droppable events first, and if
lifecycle events would overflow it, its backlog is replaced by `resync` + a fresh `snapshot`.
A subscriber never slows the core: publishing is O(1) per subscriber and never awaits.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast, overload

from tuiman.core.events import RESERVED_KEYS, Event, Kind
from tuiman.core.payloads import (
    AddPayload,
    ArbiterReloadPayload,
    ArbiterSnapshot,
    BlockedPayload,
    ControlRejectedPayload,
    CustomPayload,
    DroppedPayload,
    FailedPayload,
    FilesChangedPayload,
    FlappingPayload,
    HookFailurePayload,
    HookOutputPayload,
    HookStartedPayload,
    HookSuccessPayload,
    LivenessPayload,
    LogErrorPayload,
    NotifyPayload,
    OutputPayload,
    PluginPayload,
    ProbePayload,
    ReadyPayload,
    ReapPayload,
    RemovePayload,
    ResyncPayload,
    SignalPayload,
    SpawnErrorPayload,
    SpawnPayload,
    StartPayload,
    StatePayload,
    StatsPayload,
    StopPayload,
    SweepFailedPayload,
    TerminalPayload,
    UnreadyPayload,
    UpdatedPayload,
    WaitingPayload,
    WatchdogPayload,
    WatcherReloadPayload,
    WatchErrorPayload,
)
from tuiman.core.secrets import redact_payload

SnapshotProvider = Callable[[], ArbiterSnapshot]

# terminal, probe and notify: a child decides how often they come (docs/readiness.md#events)
DROPPABLE_KINDS = frozenset(
    {Kind.OUTPUT, Kind.STATS, Kind.HOOK_OUTPUT, Kind.TERMINAL, Kind.PROBE, Kind.NOTIFY}
)

SKIP_OUTPUT = frozenset({Kind.OUTPUT})  # for taps and subscribers that never look at output


class Subscription:
    """One subscriber's bounded queue of events."""

    def __init__(
        self, bus: Bus, maxsize: int, name: str, skip_kinds: frozenset[str] = frozenset()
    ) -> None:
        self.name = name
        self.skip_kinds = skip_kinds  # kinds this subscriber never wants queued
        self.maxsize = maxsize
        self.dropped_total = 0
        self.resyncs = 0
        self.closed = False
        self._bus = bus
        self._queue: deque[Event] = deque()
        self._droppable_count = 0
        self._dropped_pending = 0
        self._waiter: asyncio.Future[None] | None = None

    def _deliver(self, event: Event) -> None:
        if self.closed or event.kind in self.skip_kinds:
            return
        if len(self._queue) >= self.maxsize and not self._drop_oldest_droppable():
            if event.droppable:
                self._count_drop()
            else:
                self._resync()
            return
        self._queue.append(event)
        if event.droppable:
            self._droppable_count += 1
        self._wake()

    def _drop_oldest_droppable(self) -> bool:
        if self._droppable_count == 0:
            return False
        for index, queued in enumerate(self._queue):
            if queued.droppable:
                del self._queue[index]
                self._droppable_count -= 1
                self._count_drop()
                return True
        return False

    def _count_drop(self) -> None:
        self.dropped_total += 1
        self._dropped_pending += 1

    def _resync(self) -> None:
        self._queue.clear()
        self._droppable_count = 0
        self._dropped_pending = 0
        self.resyncs += 1
        resync: ResyncPayload = {}
        self._queue.append(self._bus.make_event(Kind.RESYNC, None, resync))
        self._queue.append(self._bus.make_snapshot())
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pop(self) -> Event:
        if self._dropped_pending:
            count, self._dropped_pending = self._dropped_pending, 0
            dropped: DroppedPayload = {"count": count}
            return self._bus.make_event(Kind.DROPPED, None, dropped)
        event = self._queue.popleft()
        if event.droppable:
            self._droppable_count -= 1
        return event

    def get_nowait(self) -> Event | None:
        if not self._queue and not self._dropped_pending:
            return None
        return self._pop()

    def drain(self, limit: int | None = None) -> list[Event]:
        events: list[Event] = []
        while (limit is None or len(events) < limit) and (self._queue or self._dropped_pending):
            events.append(self._pop())
        return events

    async def get(self) -> Event:
        """Wait for the next event; raises `EOFError` once the subscription is closed."""
        while not self._queue and not self._dropped_pending:
            if self.closed:
                raise EOFError(self.name)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pop()

    def __len__(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self.closed = True
        self._bus._unsubscribe(self)
        self._wake()


class Bus:
    def __init__(self, snapshot_provider: SnapshotProvider | None = None) -> None:
        self._seq = itertools.count(1)
        self._subscribers: list[Subscription] = []
        self._snapshot_provider = snapshot_provider
        self._loop: asyncio.AbstractEventLoop | None = None
        self._taps: list[Callable[[Event], None]] = []
        self._tap_skips: list[frozenset[str]] = []
        self.published = 0
        # Masks secret values in every string of a payload, at any depth
        # (docs/reliability.md#secrets-stay-masked); set by the arbiter.
        self.redactor: Callable[[str], str] | None = None

    def add_tap(
        self, tap: Callable[[Event], None], skip_kinds: frozenset[str] = frozenset()
    ) -> None:
        """A synchronous observer of every event (the core's own bookkeeping; must be cheap).

        ``skip_kinds``: kinds it ignores; output is not made into events for such taps alone.
        """
        self._taps.append(tap)
        self._tap_skips.append(skip_kinds)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def set_snapshot_provider(self, provider: SnapshotProvider) -> None:
        self._snapshot_provider = provider

    def make_event(self, kind: str, watcher: str | None, payload: Mapping[str, Any]) -> Event:
        # A TypedDict is the plain dict it claims to be: the event holds it as it is.
        data = cast(dict[str, Any], payload)
        return Event(
            seq=next(self._seq),
            time=time.time(),
            kind=str(kind),
            watcher=watcher,
            payload=data,
            droppable=kind in DROPPABLE_KINDS or bool(data.get("_droppable")),
        )

    def make_snapshot(self) -> Event:
        state: Mapping[str, Any] = self._snapshot_provider() if self._snapshot_provider else {}
        return self.make_event(Kind.SNAPSHOT, None, state)

    # The typed path: each kind with its payload's TypedDict, so mypy checks every key.
    @overload
    def emit(self, kind: Literal[Kind.SPAWN], watcher: str, payload: SpawnPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.REAP], watcher: str, payload: ReapPayload) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.KILL, Kind.SIGNAL], watcher: str, payload: SignalPayload
    ) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.START], watcher: str, payload: StartPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.STOP], watcher: str, payload: StopPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.STATE], watcher: str, payload: StatePayload) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.FLAPPING], watcher: str, payload: FlappingPayload
    ) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.FAILED], watcher: str, payload: FailedPayload) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.SPAWN_ERROR], watcher: str, payload: SpawnErrorPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.LOG_ERROR], watcher: str, payload: LogErrorPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.RELOAD], watcher: str, payload: WatcherReloadPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.RELOAD], watcher: None, payload: ArbiterReloadPayload
    ) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.UPDATED], watcher: str, payload: UpdatedPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.ADD], watcher: str, payload: AddPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.REMOVE], watcher: str, payload: RemovePayload) -> Event: ...
    @overload
    def emit(
        self,
        kind: Literal[Kind.HOOK_SUCCESS],
        watcher: str,
        payload: HookSuccessPayload,
        *,
        droppable: bool = False,
    ) -> Event: ...
    @overload
    def emit(
        self,
        kind: Literal[Kind.HOOK_FAILURE],
        watcher: str,
        payload: HookFailurePayload,
        *,
        droppable: bool = False,
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.HOOK_OUTPUT], watcher: str, payload: HookOutputPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.HOOK_STARTED], watcher: str, payload: HookStartedPayload
    ) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.OUTPUT], watcher: str, payload: OutputPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.STATS], watcher: str, payload: StatsPayload) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.TERMINAL], watcher: str, payload: TerminalPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.WATCHDOG], watcher: None, payload: WatchdogPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.SWEEP_FAILED], watcher: str, payload: SweepFailedPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.PLUGIN], watcher: str | None, payload: PluginPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal["control_rejected"], watcher: None, payload: ControlRejectedPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.FILES_CHANGED], watcher: str, payload: FilesChangedPayload
    ) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.WATCH_ERROR], watcher: str, payload: WatchErrorPayload
    ) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.PROBE], watcher: str, payload: ProbePayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.READY], watcher: str, payload: ReadyPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.UNREADY], watcher: str, payload: UnreadyPayload) -> Event: ...
    @overload
    def emit(
        self, kind: Literal[Kind.LIVENESS], watcher: str, payload: LivenessPayload
    ) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.NOTIFY], watcher: str, payload: NotifyPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.WAITING], watcher: str, payload: WaitingPayload) -> Event: ...
    @overload
    def emit(self, kind: Literal[Kind.BLOCKED], watcher: str, payload: BlockedPayload) -> Event: ...
    def emit(
        self,
        kind: str,
        watcher: str | None,
        payload: Mapping[str, Any],
        *,
        droppable: bool = False,
    ) -> Event:
        """Publish one event on the core loop; its payload is the kind's TypedDict."""
        return self._publish(kind, watcher, cast(dict[str, Any], payload), droppable)

    def emit_custom(
        self, kind: str, watcher: str | None, payload: CustomPayload, *, droppable: bool = False
    ) -> Event:
        """Publish an event whose keys nobody typed: what a hook's `arbiter.publish` sends.

        The bus takes `payload` over; as with `publish`, a `_droppable` key marks it droppable.
        """
        droppable = bool(payload.pop("_droppable", droppable))
        return self._publish(kind, watcher, payload, droppable, custom=True)

    def publish(self, kind: str, watcher: str | None = None, **payload: Any) -> Event:
        """The untyped form (keyword payload; `_droppable=True` marks it droppable).

        Prefer `emit`, which checks the payload's keys against its kind.
        """
        droppable = bool(payload.pop("_droppable", False))
        return self._publish(kind, watcher, payload, droppable)

    def _publish(
        self,
        kind: str,
        watcher: str | None,
        payload: dict[str, Any],
        droppable: bool,
        *,
        custom: bool = False,
    ) -> Event:
        if self.redactor is not None or custom:
            payload = redact_payload(payload, self.redactor, by_key=custom)
        clashing = RESERVED_KEYS.intersection(payload)
        if clashing:
            raise ValueError(f"payload keys shadow event fields: {sorted(clashing)}")
        event = self.make_event(kind, watcher, payload)
        if droppable and not event.droppable:
            event = Event(event.seq, event.time, kind, watcher, payload, droppable=True)
        self.published += 1
        for tap in self._taps:
            tap(event)
        for subscription in self._subscribers:
            subscription._deliver(event)
        return event

    def call_soon_threadsafe(self, publish: Callable[[], object]) -> None:
        """Run a publishing callback on the core loop, from a foreign thread (a hook's).

        `bus.call_soon_threadsafe(lambda: bus.emit(...))` publishes from a hook thread, typed.
        """
        if self._loop is None:
            raise RuntimeError("bus is not bound to a loop")
        self._loop.call_soon_threadsafe(publish)

    def subscribe(
        self,
        maxsize: int = 10_000,
        name: str = "",
        snapshot: bool = True,
        skip_kinds: frozenset[str] = frozenset(),
    ) -> Subscription:
        """Register a subscriber; its first event is a snapshot taken at the same instant.

        Events of ``skip_kinds`` are never queued for it (headless `--no-output` skips output).
        """
        subscription = Subscription(self, maxsize, name, skip_kinds)
        if snapshot:
            subscription._deliver(self.make_snapshot())
        self._subscribers.append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def wanted(self, kind: str) -> bool:
        """Whether some subscriber would queue an event of ``kind``, or some tap look at it.
        Output is published only then (docs/events.md#delivery): a flood of lines nobody
        reads costs no event each."""
        return any(kind not in skip for skip in self._tap_skips) or any(
            kind not in subscription.skip_kinds for subscription in self._subscribers
        )

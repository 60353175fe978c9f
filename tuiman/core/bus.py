"""The in-process publish/subscribe bus (§5).

Publishing happens on the core's loop thread (`publish_threadsafe` for hook threads). Every
subscriber owns a bounded queue: a slow one loses its oldest droppable events first, and if
lifecycle events would overflow it, its backlog is replaced by `resync` + a fresh `snapshot`.
A subscriber never slows the core: publishing is O(1) per subscriber and never awaits.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tuiman.core.events import RESERVED_KEYS, Event, Kind

SnapshotProvider = Callable[[], dict[str, Any]]

DROPPABLE_KINDS = frozenset({Kind.OUTPUT, Kind.STATS})


class Subscription:
    """One subscriber's bounded queue of events."""

    def __init__(self, bus: Bus, maxsize: int, name: str) -> None:
        self.name = name
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
        if self.closed:
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
        self._queue.append(self._bus.make_event(Kind.RESYNC, None, {}))
        self._queue.append(self._bus.make_snapshot())
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pop(self) -> Event:
        if self._dropped_pending:
            count, self._dropped_pending = self._dropped_pending, 0
            return self._bus.make_event(Kind.DROPPED, None, {"count": count})
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
        self.published = 0
        # Masks secret values in every string of a payload's top level (§12); set by the arbiter.
        self.redactor: Callable[[str], str] | None = None

    def add_tap(self, tap: Callable[[Event], None]) -> None:
        """A synchronous observer of every event (the core's own bookkeeping; must be cheap)."""
        self._taps.append(tap)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def set_snapshot_provider(self, provider: SnapshotProvider) -> None:
        self._snapshot_provider = provider

    def make_event(self, kind: str, watcher: str | None, payload: dict[str, Any]) -> Event:
        return Event(
            seq=next(self._seq),
            time=time.time(),
            kind=str(kind),
            watcher=watcher,
            payload=payload,
            droppable=kind in DROPPABLE_KINDS or bool(payload.get("_droppable")),
        )

    def make_snapshot(self) -> Event:
        state = self._snapshot_provider() if self._snapshot_provider else {}
        return self.make_event(Kind.SNAPSHOT, None, state)

    def publish(self, kind: str, watcher: str | None = None, **payload: Any) -> Event:
        droppable = bool(payload.pop("_droppable", False))
        if self.redactor is not None:
            redact = self.redactor
            payload = {k: redact(v) if isinstance(v, str) else v for k, v in payload.items()}
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

    def publish_threadsafe(self, kind: str, watcher: str | None = None, **payload: Any) -> None:
        """Publish from a foreign thread (a hook); ordering follows call_soon_threadsafe."""
        if self._loop is None:
            raise RuntimeError("bus is not bound to a loop")
        self._loop.call_soon_threadsafe(lambda: self.publish(kind, watcher, **payload))

    def subscribe(
        self, maxsize: int = 10_000, name: str = "", snapshot: bool = True
    ) -> Subscription:
        """Register a subscriber; its first event is a snapshot taken at the same instant."""
        subscription = Subscription(self, maxsize, name)
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

"""Typed events published on the bus (docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    SPAWN = "spawn"
    REAP = "reap"
    KILL = "kill"
    SIGNAL = "signal"
    START = "start"
    STOP = "stop"
    STATE = "state"
    FLAPPING = "flapping"
    FAILED = "failed"
    SPAWN_ERROR = "spawn_error"
    RELOAD = "reload"
    UPDATED = "updated"
    ADD = "add"
    REMOVE = "remove"
    HOOK_SUCCESS = "hook_success"
    HOOK_FAILURE = "hook_failure"
    OUTPUT = "output"
    STATS = "stats"
    SNAPSHOT = "snapshot"
    RESYNC = "resync"
    DROPPED = "dropped"  # tells a slow subscriber how many droppable events it lost
    WATCHDOG = "watchdog"  # the watchdog died while tuiman runs: restarted, or lost
    SWEEP_FAILED = "sweep_failed"  # a watcher's escapees could not be looked for
    CUSTOM = "custom"  # arbiter.publish() from a hook with a kind tuiman does not know


RESERVED_KEYS = frozenset({"seq", "time", "topic", "kind", "watcher"})


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    time: float  # wall clock, for display only
    kind: str  # a Kind value, or a custom kind published by a hook
    watcher: str | None  # None for arbiter events
    payload: dict[str, Any] = field(default_factory=dict)
    droppable: bool = False

    @property
    def topic(self) -> str:
        if self.watcher is None:
            return f"arbiter.{self.kind}"
        return f"watcher.{self.watcher}.{self.kind}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (docs/events.md#json-shape): seq, time, topic, kind, watcher (if any),
        then the payload."""
        data: dict[str, Any] = {
            "seq": self.seq,
            "time": self.time,
            "topic": self.topic,
            "kind": self.kind,
        }
        if self.watcher is not None:
            data["watcher"] = self.watcher
        data.update(self.payload)
        return data


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON shape (docs/events.md#json-shape; the remote side of the
    control socket)."""
    payload = {key: value for key, value in data.items() if key not in RESERVED_KEYS}
    kind = str(data.get("kind", ""))
    return Event(
        seq=int(data.get("seq", 0)),
        time=float(data.get("time", 0.0)),
        kind=kind,
        watcher=data.get("watcher"),
        payload=payload,
        droppable=kind in (Kind.OUTPUT, Kind.STATS),
    )

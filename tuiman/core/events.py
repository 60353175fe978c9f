"""Typed events published on the bus (docs/events.md)."""

from __future__ import annotations

import json
import re
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
    LOG_ERROR = "log_error"  # a log file could not be opened, written or rotated
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
    HOOK_OUTPUT = "hook_output"  # what a hook wrote to stdout/stderr
    HOOK_STARTED = "hook_started"  # a hook call began (its hook_success/hook_failure follows)
    PLUGIN = "plugin"  # a plugin started, could not start, or acted (the watchdog's kills)
    TERMINAL = "terminal"  # what a pty process wrote, escape sequences included (for emulators)
    FILES_CHANGED = "files_changed"  # watched files changed: the watcher restarts (or not)
    WATCH_ERROR = "watch_error"  # a watcher's files can no longer be watched
    # readiness, liveness and dependencies (docs/readiness.md)
    PROBE = "probe"  # a probe's result changed (droppable)
    READY = "ready"  # a process (pid) or the whole watcher (no pid) became ready
    UNREADY = "unready"  # ... stopped being ready, with the reason
    LIVENESS = "liveness"  # a process failed its liveness checks: tuiman restarts it
    NOTIFY = "notify"  # a notify process sent STATUS=
    WAITING = "waiting"  # a watcher's start waits for its dependencies
    BLOCKED = "blocked"  # a dependency failed: the watcher will not start


RESERVED_KEYS = frozenset({"seq", "time", "topic", "kind", "watcher"})
# Kinds a hook's `arbiter.publish` may not use: every reader trusts these to carry their payload.
BUILTIN_KINDS = frozenset({*(str(k) for k in Kind if k != Kind.CUSTOM), "control_rejected"})
_CUSTOM_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


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
        droppable=kind
        in (Kind.OUTPUT, Kind.STATS, Kind.HOOK_OUTPUT, Kind.TERMINAL, Kind.PROBE, Kind.NOTIFY),
    )


def check_custom_kind(kind: object) -> str:
    """The kind of a hook's own event, or `PayloadRefused`: a name, never a built-in kind."""
    if not isinstance(kind, str) or not _CUSTOM_KIND.fullmatch(kind):
        raise PayloadRefused(
            f"event kind {kind!r} is not a name (letters, digits, _ and -; at most 64)"
        )
    if kind in BUILTIN_KINDS:
        raise PayloadRefused(f"event kind {kind!r} is one of tuiman's own kinds: choose another")
    return str.__getitem__(kind, slice(None))


# -- what a hook may put in an event ------------------------------------------------------------

MAX_PAYLOAD_BYTES = 64 * 1024  # of a hook's payload, as JSON
MAX_PAYLOAD_DEPTH = 16  # nested lists/dicts
_PAYLOAD_ITEMS = 10_000  # values walked before giving up, whatever their size


class PayloadRefused(ValueError):
    """A hook's payload that no stream could carry: not JSON, self-referencing, too big or deep."""


def plain_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of `payload` made only of dict/list/str/int/float/bool/None, checked once.

    Runs in the thread of the hook that handed it over (never on the core loop). Subclasses
    (a StrEnum, a bool-like int) become their plain base value, tuples become lists; anything
    else — a self-reference, NaN, a non-string key, an object — raises `PayloadRefused`, so every
    consumer (JSON lines, the control socket, the UI) gets data it can always encode.
    """
    budget = [_PAYLOAD_ITEMS]
    plain = _plain_dict(payload, "", 0, budget, set())
    try:
        size = len(json.dumps(plain, ensure_ascii=False, allow_nan=False))
    except ValueError as error:  # an int too long for str(), for one
        raise PayloadRefused(str(error)) from None
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadRefused(f"payload is {size} bytes of JSON (at most {MAX_PAYLOAD_BYTES})")
    return plain


def _plain(value: object, where: str, depth: int, budget: list[int], path: set[int]) -> object:
    budget[0] -= 1
    if budget[0] < 0:
        raise PayloadRefused(f"payload has more than {_PAYLOAD_ITEMS} values")
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float or isinstance(value, float):
        number = float.__float__(value)  # type: ignore[arg-type]
        if number != number or number in (float("inf"), float("-inf")):
            raise PayloadRefused(f"{where or 'payload'} is {number} (not JSON)")
        return number
    if isinstance(value, str):
        return str.__getitem__(value, slice(None))  # a plain copy; never the subclass' __str__
    if isinstance(value, int):
        return int.__int__(value)
    if depth >= MAX_PAYLOAD_DEPTH:
        raise PayloadRefused(f"{where} is nested more than {MAX_PAYLOAD_DEPTH} levels deep")
    if id(value) in path:
        raise PayloadRefused(f"{where} refers to itself")
    if isinstance(value, dict):
        return _plain_dict(value, where, depth, budget, path)
    if isinstance(value, (list, tuple)):
        path.add(id(value))
        try:
            items = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
            return [
                _plain(item, f"{where}[{index}]", depth + 1, budget, path)
                for index, item in enumerate(items)
            ]
        finally:
            path.discard(id(value))
    raise PayloadRefused(
        f"{where or 'payload'} is a {kind.__name__} (use str, int, float, bool, None, list, dict)"
    )


def _plain_dict(
    value: dict[Any, Any], where: str, depth: int, budget: list[int], path: set[int]
) -> dict[str, Any]:
    path.add(id(value))
    try:
        plain: dict[str, Any] = {}
        for key, item in dict.items(value):
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(int.__int__(key))
            elif isinstance(key, str):
                key = str.__getitem__(key, slice(None))
            else:
                raise PayloadRefused(f"{where or 'payload'} has a {type(key).__name__} key")
            inner = f"{where}.{key}" if where else key
            plain[key] = _plain(item, inner, depth + 1, budget, path)
        return plain
    finally:
        path.discard(id(value))

"""Events built by hand for pure tests, checked against the payload type of their kind.

A hand-built event with a missing or misspelt key would test a shape the core never publishes;
`make_event` refuses it, naming the keys, so such a test fails where it is written.
"""

from __future__ import annotations

from typing import Any

from tuiman.core.events import Event, Kind
from tuiman.core.payloads import payload_type


def make_event(
    seq: int, time: float, kind: str, watcher: str | None, payload: dict[str, Any]
) -> Event:
    typed = payload_type(kind, watcher)
    if typed is not None:
        required: frozenset[str] = typed.__required_keys__  # type: ignore[attr-defined]
        optional: frozenset[str] = typed.__optional_keys__  # type: ignore[attr-defined]
        missing, unknown = required - payload.keys(), payload.keys() - required - optional
        if missing or unknown:
            raise AssertionError(
                f"a {kind} event the core never publishes: "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
    return Event(seq, time, kind, watcher, payload, kind in (Kind.OUTPUT, Kind.STATS))

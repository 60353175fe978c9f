"""One line of plain words for each readiness event (docs/readiness.md#events): what headless
prints and what the UI's hook-event log shows. A leaf: events and payloads only."""

from __future__ import annotations

from typing import cast

from tuiman.core.events import Event, Kind
from tuiman.core.payloads import (
    BlockedPayload,
    LivenessPayload,
    NotifyPayload,
    ProbePayload,
    UnreadyPayload,
    WaitingPayload,
)

READINESS_KINDS = frozenset(
    {Kind.PROBE, Kind.READY, Kind.UNREADY, Kind.LIVENESS, Kind.NOTIFY, Kind.WAITING, Kind.BLOCKED}
)


def readiness_text(event: Event) -> str:
    """`event` is one of READINESS_KINDS."""
    kind = event.kind
    if kind == Kind.PROBE:
        probe = cast(ProbePayload, event.payload)
        what = f"{probe['probe']} probe ({probe['check']}) pid={probe['pid']}"
        return f"{what} ok" if probe["ok"] else f"{what} failed: {probe['error']}"
    if kind in (Kind.READY, Kind.UNREADY):
        change = cast(UnreadyPayload, event.payload)
        who = f" pid={change['pid']} wid={change['wid']}" if "pid" in change else ""
        reason = f": {change['reason']}" if "reason" in change else ""
        return f"{kind}{who}{reason}" if who else f"{kind} (all processes){reason}"
    if kind == Kind.LIVENESS:
        liveness = cast(LivenessPayload, event.payload)
        return f"liveness failed pid={liveness['pid']}, restarting: {liveness['detail']}"
    if kind == Kind.NOTIFY:
        notify = cast(NotifyPayload, event.payload)
        return f"status pid={notify['pid']}: {notify['status']}"
    if kind == Kind.WAITING:
        return "waiting for " + ", ".join(cast(WaitingPayload, event.payload)["waiting_for"])
    blocked = cast(BlockedPayload, event.payload)
    return (
        f"blocked, not started: {blocked['reason']} "
        f"(needs {blocked['dependency']} {blocked['condition']})"
    )

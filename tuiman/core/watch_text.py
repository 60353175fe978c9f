"""How a `files_changed` event reads, in headless mode and in the UI's hook-event log."""

from __future__ import annotations

from tuiman.core.payloads import FilesChangedPayload


def files_changed_text(payload: FilesChangedPayload) -> str:
    """`src/app.py, src/db.py (+3 more): restart`, or why it does not restart."""
    paths = payload["paths"]
    shown = ", ".join(paths) or "?"
    more = payload["count"] - len(paths)
    if more > 0:
        shown += f" (+{more} more)"
    if payload["restart"]:
        return f"{shown}: restart"
    return f"{shown}: no restart ({payload.get('skipped', 'not running')})"

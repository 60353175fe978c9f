"""Hooks referenced by the broken-config corpus (only some of them are usable)."""

from __future__ import annotations

from typing import Any

NOT_CALLABLE = 42


def fine(watcher: Any, arbiter: Any, hook_name: str) -> bool:
    return True


def positional_only(watcher: Any, /) -> bool:
    return True

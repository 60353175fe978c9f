"""Dialog screens built once and pushed again (`k`, `i`, `n`).

A new screen pays its compose, its CSS and a first full layout on every push: under load
(500 processes, 10 000 lines/s) that was most of the 100-170 ms between the key and the
dialog. An installed screen keeps its widgets and styles; each push only refills its content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.app import App
from textual.geometry import Size
from textual.screen import Screen

ResultType = TypeVar("ResultType")
DialogType = TypeVar("DialogType", bound=Screen[Any])


class ReusedDialogs:
    """The installed dialog screens of one app, by name, with the terminal size they were built
    at: after a resize one is built again, so its size classes (`-short`, `-tiny`) are right."""

    def __init__(self, app: App[object]) -> None:
        self._app = app
        self._built_at: dict[str, Size] = {}

    def push(
        self,
        name: str,
        kind: type[DialogType],
        build: Callable[[], DialogType],
        refill: Callable[[DialogType], None],
        callback: Callable[[ResultType | None], None] | None = None,
    ) -> None:
        app = self._app
        screen = self._installed(name, kind)
        if screen is not None and any(screen in stack for stack in app._screen_stacks.values()):
            return  # already open (a key repeated through the palette): nothing to push
        if screen is None or self._built_at.get(name) != app.size:
            if screen is not None:
                app.uninstall_screen(name)
            screen = build()
            app.install_screen(screen, name)
            self._built_at[name] = app.size
        else:
            refill(screen)
        app.push_screen(name, callback)

    def _installed(self, name: str, kind: type[DialogType]) -> DialogType | None:
        if not self._app.is_screen_installed(name):
            return None
        screen = self._app.get_screen(name)
        return screen if isinstance(screen, kind) else None

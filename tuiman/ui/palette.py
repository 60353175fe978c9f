"""Colours for Rich text in cells and log lines, taken from the current Textual theme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from rich.style import Style
from textual.app import App

from tuiman.core.states import WatcherState
from tuiman.ui.log_entries import Outcome

STATE_ROLES: dict[str, str] = {
    WatcherState.ACTIVE: "ok",
    WatcherState.STARTING: "accent",
    WatcherState.STOPPING: "warn",
    WatcherState.STOPPED: "muted",
    WatcherState.FLAPPING: "warn",
    WatcherState.FAILED: "error",
}


@dataclass(frozen=True)
class Palette:
    ok: Style
    warn: Style
    error: Style
    accent: Style
    muted: Style
    plain: Style

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> Palette:
        def colour(name: str, fallback: str) -> Style:
            return Style(color=variables.get(name, fallback))

        return cls(
            ok=colour("text-success", "green"),
            warn=colour("text-warning", "yellow"),
            error=colour("text-error", "red"),
            accent=colour("text-primary", "cyan"),
            muted=Style(dim=True),
            plain=Style(),
        )

    def role(self, name: str) -> Style:
        style: Style = getattr(self, name, self.plain)
        return style

    def state(self, state: str) -> Style:
        return self.role(STATE_ROLES.get(state, "plain"))

    def outcome(self, outcome: Outcome) -> Style:
        return {
            Outcome.OK: self.ok,
            Outcome.VETO: self.warn + Style(bold=True),
            Outcome.FAILURE: self.error + Style(bold=True),
            Outcome.IGNORED: self.error,
            Outcome.RUNNING: self.accent,
            Outcome.ABANDONED: self.warn,
            Outcome.INFO: self.plain,
            Outcome.WARN: self.warn,
            Outcome.ERROR: self.error,
        }[outcome]


# Per app, the variables a palette was made from: Textual replaces `theme_variables` with a new
# dict whenever it recomputes them. A cache keyed on the theme's name was shared by every app and
# could keep colours read before a new theme's variables were in place (another app, set early).
_palettes: WeakKeyDictionary[App[Any], tuple[dict[str, str], Palette]] = WeakKeyDictionary()


def palette_of(app: App[Any]) -> Palette:
    """The palette of the app's current theme (computed again only when its variables change)."""
    variables = app.theme_variables
    made = _palettes.get(app)
    if made is not None and made[0] is variables:
        return made[1]
    palette = Palette.from_variables(variables)
    _palettes[app] = (variables, palette)
    return palette

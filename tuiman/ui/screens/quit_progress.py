"""The stopping-progress view: what is still running, and the countdown to SIGKILL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiman.core.states import WatcherState
from tuiman.ui.format import fmt_countdown, fmt_running
from tuiman.ui.model import CoreModel
from tuiman.ui.palette import Palette, palette_of
from tuiman.ui.screens.quit_confirm import KILL_KEY
from tuiman.ui.views import WatcherView

REFRESH = 0.2


class QuitScreen(ModalScreen[None]):
    """Shown while everything stops; ctrl+k kills everything at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(KILL_KEY, "app.force_quit", "kill now", id="quit-force"),
        Binding("q", "app.quit", "quit", show=False, id="quit-again"),
    ]
    # The hook log under it keeps showing the stop events (see MainScreen.on_screen_suspend).
    LIVE_BACKGROUND: ClassVar[bool] = True

    def __init__(self, model: CoreModel, clock: Callable[[], float] = time.time) -> None:
        super().__init__(classes="dialog-screen")
        self.model = model
        self.forced = False
        self.clock = clock
        # Attributes, not queries: a second quit may arrive before this screen is composed.
        self.title_line = Static(id="quit-title", classes="question")
        self.table = Static(id="quit-table")
        self.hint = Static(id="quit-hint", classes="tip")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog quitting"):
            yield self.title_line
            yield self.table
            yield self.hint

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(REFRESH, self.refresh_view)

    def mark_forced(self) -> None:
        self.forced = True
        self.refresh_view()

    def refresh_view(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        palette = palette_of(self.app)
        running = self.model.total_running()
        title = "Killing everything (SIGKILL)…" if self.forced else "Stopping everything…"
        self.title_line.update(
            Text.assemble(
                (title, "bold"), f"  {running} process{'es' if running != 1 else ''} still running"
            )
        )
        self.table.update(self._table(now, palette))
        hint = (
            "SIGKILL sent to every process; waiting for the exits to be reaped."
            if self.forced
            else f"Press {KILL_KEY} to kill everything at once with SIGKILL."
        )
        self.hint.update(hint)

    def _table(self, now: float, palette: Palette) -> Table:
        table = Table(box=None, expand=True, header_style="bold")
        for column in ("watcher", "state", "still running", "next step"):
            table.add_column(column, no_wrap=True, min_width=8)
        for view in self.model.watchers.values():
            state = Text(view.state, palette.state(view.state))
            table.add_row(
                view.name, state, _pids(sorted(view.processes)), self._next_step(view, now, palette)
            )
        return table

    def _next_step(self, view: WatcherView, now: float, palette: Palette) -> Text:
        if not view.running and view.state in (WatcherState.STOPPED, WatcherState.FAILED):
            return Text("done", palette.muted)
        if self.forced:
            return Text("SIGKILL sent", palette.error)
        hook = view.watcher_hook()
        if hook is not None:
            return Text(f"{hook.name} running {fmt_running(now - hook.started)}", palette.accent)
        if view.state == WatcherState.STOPPING and view.stopping_since is None:
            return Text("stop signal not sent yet", palette.warn)
        if view.state == WatcherState.STOPPING and view.stopping_since is not None:
            remaining = view.stopping_since + view.graceful_timeout - now
            if remaining > 0:
                return Text(f"SIGKILL in {fmt_countdown(remaining)}", palette.warn)
            return Text("SIGKILL sent, waiting for the exit", palette.error)
        return Text(f"after lower priorities (its priority: {view.priority})", palette.muted)


def _pids(pids: list[int], shown: int = 3) -> str:
    if not pids:
        return "-"
    more = f" +{len(pids) - shown}" if len(pids) > shown else ""
    return " ".join(map(str, pids[:shown])) + more

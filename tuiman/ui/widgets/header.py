"""The one-line header: config, uptime and totals (shortened to fit narrow terminals)."""

from __future__ import annotations

import os

from rich.text import Text
from textual.widgets import Static

from tuiman.core.states import WatcherState
from tuiman.ui.format import fmt_age, fmt_bytes, fmt_cpu
from tuiman.ui.model import CoreModel
from tuiman.ui.palette import Palette, palette_of

STATE_ORDER = (
    WatcherState.ACTIVE,
    WatcherState.STARTING,
    WatcherState.STOPPING,
    WatcherState.FLAPPING,
    WatcherState.FAILED,
    WatcherState.STOPPED,
)
QUIET_STATES = frozenset(
    {WatcherState.ACTIVE, WatcherState.STOPPED}
)  # left out when space is short


def short_path(path: str, width: int) -> str:
    home = os.path.expanduser("~")
    if home != "/" and path.startswith(home + os.sep):
        path = "~" + path[len(home) :]
    return path if len(path) <= width else "…" + path[-(width - 1) :]


class StatusHeader(Static):
    def show(self, model: CoreModel, *, remote: bool, now: float) -> None:
        width = self.size.width or 80
        palette = palette_of(self.app)
        for level in range(3):  # drop detail until the line fits
            text = self._line(model, remote, now, palette, level)
            if text.cell_len <= width:
                break
        self.update(text, layout=False)  # one line, always: no re-layout of the screen

    def _line(
        self, model: CoreModel, remote: bool, now: float, palette: Palette, level: int
    ) -> Text:
        compact = level > 0
        watchers = model.watchers.values()
        states: dict[str, int] = {}
        for view in watchers:
            states[view.state] = states.get(view.state, 0) + 1
        cpu = sum(v.cpu or 0.0 for v in watchers if v.processes)
        rss = sum(v.rss or 0 for v in watchers if v.processes)
        text = Text(no_wrap=True, overflow="ellipsis")
        if not compact:
            text.append(" tuiman ", "bold reverse")
            text.append(" ")
        if remote:
            text.append("attached ", palette.accent)
        text.append(short_path(model.source, 28 if compact else 60) or "…", "bold")
        if model.started is not None:
            text.append(f"  up {fmt_age(now - model.started)}", palette.muted)
        text.append(f"  procs {model.total_running()}/{model.total_target()}")
        if level < 2:
            text.append(f"  cpu {fmt_cpu(cpu)}  rss {fmt_bytes(rss)}")
        if model.watchdog_alert:  # kept at every level: it tells what a SIGKILL would leave
            lost = model.watchdog_alert.endswith("lost")
            text.append(f"  {model.watchdog_alert}", palette.error if lost else palette.warn)
        text.append(" ")
        for state in STATE_ORDER:
            if states.get(state) and not (compact and state in QUIET_STATES):
                text.append(f" {states[state]} {state}", palette.state(state))
        return text

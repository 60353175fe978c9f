"""The one-line header: config, uptime and totals."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tuiman.ui.format import fmt_age, fmt_bytes, fmt_cpu
from tuiman.ui.model import CoreModel
from tuiman.ui.palette import palette_of


class StatusHeader(Static):
    def show(self, model: CoreModel, *, remote: bool, now: float) -> None:
        palette = palette_of(self.app)
        watchers = model.watchers.values()
        states: dict[str, int] = {}
        for view in watchers:
            states[view.state] = states.get(view.state, 0) + 1
        cpu = sum(v.cpu or 0.0 for v in watchers if v.processes)
        rss = sum(v.rss or 0 for v in watchers if v.processes)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" tuiman ", "bold reverse")
        text.append(" attached " if remote else " ", palette.accent)
        text.append(model.source or "…", "bold")
        if model.started is not None:
            text.append(f"  up {fmt_age(now - model.started)}", palette.muted)
        text.append(f"  procs {model.total_running()}/{model.total_target()}")
        text.append(f"  cpu {fmt_cpu(cpu)}  rss {fmt_bytes(rss)}  ")
        for state in ("active", "starting", "stopping", "flapping", "failed", "stopped"):
            if states.get(state):
                text.append(f"{states[state]} {state} ", palette.state(state))
        self.update(text)

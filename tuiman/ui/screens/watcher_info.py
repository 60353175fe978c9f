"""The info dialog (`i`): everything the watchers table cuts short, in full — why the watcher is
in its state, what runs, its hooks, and each slot's last exit."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiman.ui.format import fmt_exit, fmt_running
from tuiman.ui.rows import describe_reason, watcher_info
from tuiman.ui.views import WatcherView
from tuiman.ui.widgets.frozen import Frozen


def info_rows(view: WatcherView, now: float) -> list[tuple[str, str]]:
    """(label, value) pairs, every value in full."""
    info, _ = watcher_info(view, now)
    rows = [("state", str(view.state))]
    if info:
        rows.append(("info", info))
    if view.reason:
        described = describe_reason(view.reason)
        raw = f" ({view.reason})" if described != view.reason else ""
        rows.append(("reason", f"{described}{raw}"))
    if view.failure:
        rows.append(("failure", view.failure))
    if view.veto:
        rows.append(("last veto", view.veto))
    rows.append(("command", view.cmd or "-"))
    rows.append(("processes", f"{view.running} running of {view.numprocesses} wanted"))
    rows.append(("restarts", str(view.restarts)))
    rows.append(("priority", str(view.priority)))
    rows.append(("graceful stop", f"{view.graceful_timeout:g}s, then SIGKILL"))
    rows.append(("autostart", "on" if view.autostart else "off"))
    rows.append(("hooks", ", ".join(view.hooks) or "none"))
    for hook in view.running_hooks:
        pid = f" (pid {hook.pid})" if hook.pid is not None else ""
        rows.append(("running hook", f"{hook.name}{pid} for {fmt_running(now - hook.started)}"))
    for wid, code in sorted(view.last_exit.items()):
        running = [p.pid for p in view.processes.values() if p.wid == wid]
        now_runs = f" · now pid {running[0]}" if running else ""
        rows.append(
            (f"slot {wid} last exit", f"{'unknown' if code is None else fmt_exit(code)}{now_runs}")
        )
    if view.leaked:
        rows.append(("leaked pids", ", ".join(map(str, view.leaked))))
    return rows


class WatcherInfoScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,i,q,enter", "close", "close", id="info-close"),
    ]

    def __init__(self, view: WatcherView, clock: Callable[[], float]) -> None:
        super().__init__(classes="dialog-screen opaque")
        self.view = view
        self.rows = info_rows(view, clock())

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, expand=True)
        table.add_column("what", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for label, value in self.rows:
            table.add_row(label, Text(value))
        with VerticalScroll(classes="dialog help watcher-info"):
            yield Static(
                Text.assemble(("watcher ", "bold"), (self.view.name, "bold")), classes="question"
            )
            yield Static(Frozen(table), id="info-table")
            yield Static("escape closes", classes="tip")

    def action_close(self) -> None:
        self.dismiss(None)

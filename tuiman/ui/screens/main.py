"""The main screen: watchers, processes, hook-event log and output, driven by keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.events import DescendantFocus
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from tuiman.client.protocol import Outcome
from tuiman.core.states import WatcherState
from tuiman.ui.keys import MAIN_BINDINGS, WATCHER_ACTIONS, watcher_action_state
from tuiman.ui.model import Changes, CoreModel
from tuiman.ui.rows import describe_reason, extended_keys, process_rows, watcher_row
from tuiman.ui.screens.signal_picker import SignalPicker
from tuiman.ui.views import WatcherView
from tuiman.ui.widgets.header import StatusHeader
from tuiman.ui.widgets.hook_log import HookLog, HookLogHeader
from tuiman.ui.widgets.output_view import OutputView
from tuiman.ui.widgets.panels import Panel, SearchInput
from tuiman.ui.widgets.tables import ProcessesTable, WatchersTable

if TYPE_CHECKING:
    from tuiman.ui.app import TuimanApp

TICK = 1.0  # ages, countdowns and uptime
NARROW = 110  # columns: below this the panels stack (the app's -narrow breakpoint)
EXTENDED_INTERVAL = 2.0


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#watchers"
    BINDINGS: ClassVar[list[BindingType]] = MAIN_BINDINGS

    selected: var[str | None] = var(None)
    output_pid: var[int | None] = var(None)
    filter_text: var[str] = var("")
    extended_on: var[bool] = var(False)

    def __init__(self) -> None:
        super().__init__()
        # Kept as attributes: no query per update, and still valid while the app shuts down.
        self.header = StatusHeader(id="header")
        self.top = Horizontal(id="top")
        self.watchers_panel = Panel(id="watchers-panel")
        self.processes_panel = Panel(id="processes-panel")
        self.hooks_panel = Panel(id="hooks-panel")
        self.output_panel = Panel(id="output-panel")
        self.filter_box = Input(
            placeholder="filter watchers (escape clears)", id="filter", classes="hidden"
        )
        self.watchers_table = WatchersTable(id="watchers")
        self.processes_table = ProcessesTable(id="processes")
        self.hook_log_header = HookLogHeader(id="hooklog-header")
        self.hook_log = HookLog(id="hooklog")
        self.output = OutputView(id="output")
        self.search_box = SearchInput(
            placeholder="search output (enter/up: older, down: newer, escape)",
            id="search",
            classes="hidden",
        )
        self._binding_signature: object = None
        self._footer_style: tuple[bool, bool] | None = None
        self._top_height: int | None = None

    def compose(self) -> ComposeResult:
        yield self.header
        with self.top:
            with self.watchers_panel:
                yield self.filter_box
                yield self.watchers_table
            with self.processes_panel:
                yield self.processes_table
        with self.hooks_panel:
            yield self.hook_log_header
            yield self.hook_log
        with self.output_panel:
            yield self.output
            yield self.search_box
        yield Footer(id="footer")

    # -- access -------------------------------------------------------------------------------
    @property
    def tui(self) -> TuimanApp:
        return cast("TuimanApp", self.app)

    @property
    def model(self) -> CoreModel:
        return self.tui.model

    @property
    def selected_view(self) -> WatcherView | None:
        return self.model.watchers.get(self.selected) if self.selected else None

    @property
    def process_focused(self) -> bool:
        return (
            self.focused is self.processes_table and self.processes_table.selected_pid is not None
        )

    def on_resize(self) -> None:
        width = self.size.width
        panels = (self.watchers_panel, self.processes_panel, self.hooks_panel, self.output_panel)
        for panel in panels:
            panel.set_compact(width < NARROW)
        footer_style = (width < NARROW, width >= 100)
        if footer_style != self._footer_style:
            # Only on a change: the Footer recomposes, which lays the screen out again.
            self._footer_style = footer_style
            footer = self.query_one(Footer)
            footer.compact, footer.show_command_palette = footer_style
        self.fit_top()

    def on_mount(self) -> None:
        self.watchers_panel.set_labels("watchers")
        self.hooks_panel.set_labels("hooks & events")
        self.hook_log_header.set_watcher_width(self.hook_log.watcher_width)
        self._update_titles()
        self.set_interval(TICK, self.tick)
        self.watch(self.watchers_table, "cursor_coordinate", self._watcher_cursor_moved, init=False)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.tui.boot()

    # -- applying bus changes -----------------------------------------------------------------
    def apply(self, changes: Changes, now: float) -> None:
        """One batch of bus events. New CPU/RSS figures alone wait for the next tick: every
        DataTable update re-renders the whole visible table, so they are drawn once a second."""
        selected = self.selected
        if changes.rebuilt:
            self._fit_watcher_column()
            self.watchers_table.fit_names(list(self.model.watchers))
        if changes.rebuilt or changes.watchers:
            self.sync_watchers(now)
        if (
            selected is not None
            and selected == self.selected
            and (changes.rebuilt or selected in changes.processes)
        ):
            self.sync_processes(now)
        if changes.log:
            self.hook_log.append(changes.log)
        if changes.output and self.selected:
            self._append_output(changes)
        if changes.dropped:
            self.output.dropped += changes.dropped
            self._update_output_status()
        if changes.rebuilt or changes.watchers:
            self.header.show(self.model, remote=self.tui.client.is_remote, now=now)
        if changes.rebuilt or (selected is not None and selected in changes.watchers):
            self._update_titles()
            self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        """The Footer recomposes on every refresh: only when what check_action reads changed."""
        view = self.selected_view
        signature = (
            None if view is None else (view.state, bool(view.processes), view.numprocesses > 0),
            self.process_focused,
        )
        if signature != self._binding_signature:
            self._binding_signature = signature
            self.refresh_bindings()

    def _append_output(self, changes: Changes) -> None:
        name, pid = self.selected, self.output_pid
        lines = [e for e in changes.output if e.watcher == name and (pid is None or e.pid == pid)]
        if lines:
            self.output.append(lines)
            if not self.output.follow:
                self._update_output_status()

    def tick(self) -> None:
        now = self.tui.clock()
        self.sync_watchers(now)
        self.sync_processes(now)
        self.header.show(self.model, remote=self.tui.client.is_remote, now=now)
        self._update_output_status()
        if self.model.reaped_since_status:
            self.tui.refresh_counters()

    def sync_watchers(self, now: float | None = None) -> None:
        now = self.tui.clock() if now is None else now
        term = self.filter_text.lower()
        rows = [
            watcher_row(view, now)
            for name, view in self.model.watchers.items()
            if term in name.lower()
        ]
        table = self.watchers_table
        table.sync(rows)
        self.fit_top()
        if self.selected is None or self.selected not in {key for key, _ in rows}:
            self.selected = table.selected_key

    def sync_processes(self, now: float | None = None) -> None:
        now = self.tui.clock() if now is None else now
        view = self.selected_view
        table = self.processes_table
        table.sync(process_rows(view, now, table.extended) if view is not None else [])
        self.fit_top()

    def fit_top(self) -> None:
        """Wide layout: the top row is as tall as its longest table, up to 45% of the screen."""
        # Compared with what we set last, never with styles.height (which includes the CSS):
        # setting a style re-lays out the screen, which calls this again.
        top = self.top
        height: int | None = None
        if not self.has_class("-narrow"):
            # The longest process list of any watcher, not the selected one's: moving between
            # watchers must not resize the panels (a full re-layout and redraw of the screen).
            longest = max(
                (len(v.processes) + len(v.pauses) for v in self.model.watchers.values()), default=0
            )
            rows = max(self.watchers_table.row_count, longest, 2)
            extra = 4 if self.filter_box.display else 3  # borders and the header row
            height = min(rows + extra, max(int(self.size.height * 0.45), 6))
        if height != self._top_height:
            self._top_height = height
            top.styles.height = height

    def _fit_watcher_column(self) -> None:
        width = min(max((len(name) for name in self.model.watchers), default=8), 14)
        self.hook_log.watcher_width = max(width, 7)
        self.hook_log_header.set_watcher_width(self.hook_log.watcher_width)
        self.hook_log.invalidate()

    def _theme_changed(self, _theme: object) -> None:
        self.watchers_table.repaint_all()
        self.processes_table.repaint_all()
        self.hook_log.invalidate()
        self.output.invalidate()

    def on_screen_suspend(self) -> None:
        # A dialog covers this screen: the fast panes wait for it to close (LineView.hold),
        # unless the dialog is about them (quitting: the stop events are worth watching).
        if getattr(self.app.screen, "LIVE_BACKGROUND", False):
            return
        self.hook_log.hold(True)
        self.output.hold(True)

    def on_screen_resume(self) -> None:
        self.hook_log.hold(False)
        self.output.hold(False)

    # -- selection ----------------------------------------------------------------------------
    def _watcher_cursor_moved(self) -> None:
        # Synchronously, not on the RowHighlighted message: a key typed right after a move
        # arrives before that message, and must act on the row under the cursor.
        key = self.watchers_table.selected_key
        if key is not None and key != self.selected:
            self.selected = key

    @on(DataTable.RowHighlighted, "#watchers")
    def _watcher_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Also rows added, removed or sorted under a cursor that stayed put."""
        key = event.row_key.value
        if key is not None and key != self.selected:
            self.selected = key

    @on(DataTable.RowHighlighted, "#processes")
    def _process_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.focused is self.processes_table:
            self.output_pid = self.processes_table.selected_pid
            self._refresh_bindings_if_changed()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if event.widget is self.processes_table:
            self.output_pid = self.processes_table.selected_pid
        elif event.widget is self.watchers_table:
            self.output_pid = None
        self._refresh_bindings_if_changed()

    def watch_selected(self, old: str | None, new: str | None) -> None:
        if old == new:
            return
        self.set_reactive(MainScreen.output_pid, None)
        if self.processes_table.extended:
            self.processes_table.set_extended(())
        self.sync_processes()
        self._reload_output()
        self._update_titles()
        self._refresh_bindings_if_changed()
        if self.extended_on:
            self._poll_extended()

    def watch_output_pid(self, old: int | None, new: int | None) -> None:
        if old != new:
            self._reload_output()
            self._update_titles()

    def _reload_output(self) -> None:
        name, pid = self.selected, self.output_pid
        lines = self.model.output_of(name) if name else []
        self.output.replace([e for e in lines if pid is None or e.pid == pid])
        self._update_output_status()

    def _update_titles(self) -> None:
        view = self.selected_view
        name = self.selected or "—"
        processes_panel = self.processes_panel
        extended = " · extended stats" if self.extended_on else ""
        processes_panel.set_labels(f"processes · {name}{extended}", _watcher_note(view))
        target = f"{name} pid {self.output_pid}" if self.output_pid is not None else name
        self.output_panel.set_labels(f"output · {target}")
        watchers_title = "watchers" + (f" /{self.filter_text}" if self.filter_text else "")
        self.watchers_panel.set_labels(watchers_title)

    def _update_output_status(self) -> None:
        output = self.output
        parts: list[str] = []
        if output.search:
            position = output.match_position()
            where = f"{position[0]}/{position[1]}" if position else f"{output.match_count} matches"
            parts.append(f"“{output.search}” {where}")
        if output.dropped:
            parts.append(f"{output.dropped} lines dropped (UI behind)")
        parts.append("following" if output.follow else "paused · end to follow")
        self.output_panel.set_labels(subtitle="  ".join(parts))

    # -- actions ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_inputs":
            return isinstance(self.focused, Input) or self.maximized is not None
        if action not in WATCHER_ACTIONS and not action.endswith("_process"):
            return True
        view = self.selected_view
        if view is None:
            return None
        on_process = self.process_focused
        if action.endswith("_process"):
            return on_process
        if action in ("stop", "restart") and on_process:
            return False
        return watcher_action_state(action, view, parameters)

    def action_start(self) -> None:
        self._watcher_command("start", self.tui.client.start)

    def action_stop(self) -> None:
        self._watcher_command("stop", self.tui.client.stop)

    def action_restart(self) -> None:
        self._watcher_command("restart", self.tui.client.restart)

    def action_stop_process(self) -> None:
        self._process_kill("stop")

    def action_restart_process(self) -> None:
        self._process_kill("restart")

    def _watcher_command(self, verb: str, run: Callable[[str], Awaitable[Outcome]]) -> None:
        if self.selected:
            self.tui.command(f"{verb} {self.selected}", partial(run, self.selected))

    def _process_kill(self, verb: str) -> None:
        pid = self.processes_table.selected_pid
        if self.selected and pid is not None:
            kill = partial(self.tui.client.kill, self.selected, pid)
            self.tui.command(f"{verb} process {pid}", kill)

    def action_scale(self, step: int) -> None:
        if self.selected:
            client = self.tui.client
            verb, scale = ("incr", client.incr) if step > 0 else ("decr", client.decr)
            self.tui.command(f"{verb} {self.selected}", partial(scale, self.selected, abs(step)))

    def action_signal(self) -> None:
        name = self.selected
        if name is None:
            return
        pid = self.processes_table.selected_pid if self.process_focused else None
        target = f"{name} pid {pid}" if pid is not None else f"every process of {name}"

        def send(signum: int | None) -> None:
            if signum is not None:
                deliver = partial(self.tui.client.signal, name, signum, pid)
                self.tui.command(f"signal {target}", deliver)

        self.app.push_screen(SignalPicker(target), send)

    def action_extended(self) -> None:
        self.extended_on = not self.extended_on
        self.set_class(self.extended_on, "-extended")
        if self.extended_on:
            self._poll_extended()
        else:
            self.workers.cancel_group(self, "extended")
            self.processes_table.set_extended(())
            self.sync_processes()
        self._update_titles()

    @work(exclusive=True, group="extended")
    async def _poll_extended(self) -> None:
        while self.extended_on and self.selected:
            name = self.selected
            stats = await self.tui.client.extended_stats(name)
            if not stats.ok:
                self.notify(stats.error, title="extended stats", severity="error")
                self.extended_on = False
                self._update_titles()
                return
            view = self.model.watchers.get(name)
            if view is not None and name == self.selected:
                for pid, entry in stats.processes.items():
                    process = view.processes.get(pid)
                    if process is not None:
                        process.extended = dict(entry)
                self.processes_table.set_extended(extended_keys(stats.processes))
                self.sync_processes()
            await asyncio.sleep(EXTENDED_INTERVAL)

    def action_filter(self) -> None:
        box = self.filter_box
        box.remove_class("hidden")
        box.focus()

    def action_search(self) -> None:
        box = self.search_box
        box.remove_class("hidden")
        box.focus()

    def action_close_inputs(self) -> None:
        focused = self.focused
        if isinstance(focused, SearchInput):
            focused.value = ""
            focused.add_class("hidden")
            self.output.focus()
        elif isinstance(focused, Input) and focused.id == "filter":
            focused.value = ""
            focused.add_class("hidden")
            self.watchers_table.focus()
        elif self.maximized is not None:
            self.minimize()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.sync_watchers()
        self._update_titles()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        if not self.filter_text:
            self.filter_box.add_class("hidden")
        self.watchers_table.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.output.search = event.value
        self._update_output_status()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self._find(older=True)

    @on(SearchInput.Find)
    def _search_find(self, event: SearchInput.Find) -> None:
        self._find(event.older)

    def _find(self, older: bool) -> None:
        if not self.output.find(older):
            self.notify(f"no match for “{self.output.search}”", severity="warning", timeout=2)
        self._update_output_status()

    def action_cycle(self, step: int) -> None:
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def action_help(self) -> None:
        self.tui.show_help()


def _watcher_note(view: WatcherView | None) -> str:
    if view is None:
        return ""
    if view.state == WatcherState.FAILED:
        return f"failed: {view.failure or describe_reason(view.reason) or '?'}"
    if view.cmd:
        return view.cmd if len(view.cmd) < 60 else view.cmd[:59] + "…"
    return ""

"""The main screen: watchers, processes, hook-event log and output, driven by keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.events import DescendantFocus
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, Input

from tuiman.core.states import WatcherState
from tuiman.ui.keys import MAIN_BINDINGS, attach_bindings
from tuiman.ui.model import Changes, CoreModel
from tuiman.ui.rows import describe_reason, process_rows, watcher_row
from tuiman.ui.screens.main_actions import MainActions
from tuiman.ui.screens.main_layout import MainLayout
from tuiman.ui.screens.main_terminal import MainTerminal
from tuiman.ui.screens.output_follow import OutputFollow
from tuiman.ui.screens.output_modes import OutputModes
from tuiman.ui.sorting import SortOrder, sort_watchers
from tuiman.ui.views import WatcherView
from tuiman.ui.widgets.footer import QuietFooter
from tuiman.ui.widgets.header import StatusHeader
from tuiman.ui.widgets.hook_log import HookLog, HookLogHeader
from tuiman.ui.widgets.output_pane import OutputPane
from tuiman.ui.widgets.panels import Panel, SearchInput
from tuiman.ui.widgets.tables import ProcessesTable, WatchersTable
from tuiman.ui.widgets.terminal_view import TerminalView

if TYPE_CHECKING:
    from tuiman.ui.app import TuimanApp

TICK = 1.0  # ages, countdowns and uptime


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#watchers"
    BINDINGS: ClassVar[list[BindingType]] = MAIN_BINDINGS

    selected: var[str | None] = var(None)
    output_pid: var[int | None] = var(None)
    filter_text: var[str] = var("")
    extended_on: var[bool] = var(False)
    table_order: var[SortOrder] = var(SortOrder())

    def __init__(self) -> None:
        super().__init__()
        # Kept as attributes: no query per update, and still valid while the app shuts down.
        self.header = StatusHeader(id="header")
        self.top = Horizontal(id="top")
        self.watchers_panel = Panel(id="watchers-panel")
        self.processes_panel = Panel(id="processes-panel")
        self.hooks_panel = Panel(id="hooks-panel")
        self.output_panel = OutputPane(id="output-panel")
        self.filter_box = Input(
            placeholder="filter watchers (escape clears)", id="filter", classes="hidden"
        )
        self.watchers_table = WatchersTable(id="watchers")
        self.processes_table = ProcessesTable(id="processes")
        self.hook_log_header = HookLogHeader(id="hooklog-header")
        self.hook_log = HookLog(id="hooklog")
        self.output = self.output_panel.view
        self.actions = MainActions(self)
        self.follow = OutputFollow()  # the slot the output pane follows across restarts
        # The watcher the user last put the cursor on: a filter that hid it gives it back.
        self._chosen: str | None = None
        self._syncing = False
        self.sizes = MainLayout(self)
        self.terminals = MainTerminal(self)
        self.output_modes = OutputModes(self)

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
        yield self.output_panel
        yield QuietFooter(id="footer")

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
        self.sizes.resize()

    def on_mount(self) -> None:
        self.watchers_panel.set_labels("watchers")
        self.hooks_panel.set_labels("hooks & events")
        self.hook_log_header.set_watcher_width(self.hook_log.watcher_width)
        self.update_titles()
        self.set_interval(TICK, self.tick)
        self.watch(self.watchers_table, "cursor_coordinate", self._watcher_cursor_moved, init=False)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.tui.client.is_remote:
            attach_bindings(self._bindings)
        self.tui.boot()

    # -- applying bus changes -----------------------------------------------------------------
    def apply(self, changes: Changes, now: float) -> None:
        """One batch of bus events. New CPU/RSS figures alone wait for the next tick: every
        DataTable update re-renders the whole visible table, so they are drawn once a second."""
        selected = self.selected
        if changes.rebuilt or changes.watchers:
            self.actions.show_readiness_columns()
        if changes.rebuilt:
            self.sizes.fit_watcher_column()
            self.watchers_table.fit_names(list(self.model.watchers))
        if changes.rebuilt or changes.watchers:
            views = self.model.watchers.values()
            self.watchers_table.fit_running([max(w.running, w.numprocesses) for w in views])
            self.sync_watchers(now)
        if (
            selected is not None
            and selected == self.selected
            and (changes.rebuilt or selected in changes.processes)
        ):
            self.sync_processes(now)
        if changes.log:
            self.hook_log.append(changes.log)
        if changes.output and (self.selected or self.output_panel.combined):
            self.output_panel.append_new(changes.output, self.selected, self.follow.wid)
        if changes.dropped:
            self.output_panel.add_dropped(changes.dropped)
        self.terminals.apply(changes)
        if changes.rebuilt or changes.watchers:
            self.header.show(self.model, remote=self.tui.client.is_remote, now=now)
        if changes.rebuilt or (selected is not None and selected in changes.watchers):
            self.update_titles()
            self.actions.refresh_bindings_if_changed()

    def tick(self) -> None:
        now = self.tui.clock()
        self.sync_watchers(now)
        self.sync_processes(now)
        self.header.show(self.model, remote=self.tui.client.is_remote, now=now)
        self.output_panel.update_status()
        self.terminals.send_size()  # layout changes (zoom, narrow) included
        if self.model.reaped_since_status:
            self.tui.refresh_counters()

    def sync_watchers(self, now: float | None = None) -> None:
        now = self.tui.clock() if now is None else now
        term = self.filter_text.lower()
        blocker = self.model.start_blocker()
        shown = (view for name, view in self.model.watchers.items() if term in name.lower())
        ready = self.actions.readiness_shown
        ordered = sort_watchers(shown, self.table_order)
        rows = [watcher_row(view, now, blocker, readiness=ready) for view in ordered]
        table = self.watchers_table
        self._syncing = True
        try:
            table.sync(rows)
            chosen = self._chosen
            if chosen is not None and chosen != table.selected_key and table.shows(chosen):
                table.select_key(chosen)
        finally:
            self._syncing = False
        self.sizes.fit_top()
        if self.selected is None or self.selected not in {key for key, _ in rows}:
            self.selected = table.selected_key

    def sync_processes(self, now: float | None = None) -> None:
        now = self.tui.clock() if now is None else now
        view = self.selected_view
        table = self.processes_table
        ready = self.actions.readiness_shown
        rows = process_rows(view, now, table.extended, self.table_order, ready) if view else []
        table.sync(rows)
        self.sizes.fit_top()
        self._follow_slot(view)

    def _follow_slot(self, view: WatcherView | None) -> None:
        """The followed process was replaced in its slot: on to the new one, and say so."""
        follow = self.follow
        if follow.pid is None:
            return
        was_gone = follow.gone(view)
        successor = follow.successor(view)
        if successor is not None:
            self.set_reactive(MainScreen.output_pid, successor)  # same slot: no reload
            self.processes_table.select_key(str(successor))
            self.update_titles()
        elif was_gone:
            self.update_titles()

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
        self.terminals.hold(True)

    def on_screen_resume(self) -> None:
        self.hook_log.hold(False)
        self.output.hold(False)
        self.terminals.hold(False)

    # -- selection ----------------------------------------------------------------------------
    def _watcher_cursor_moved(self) -> None:
        # Synchronously, not on the RowHighlighted message: a key typed right after a move
        # arrives before that message, and must act on the row under the cursor.
        key = self.watchers_table.selected_key
        if key is not None and not self._syncing:
            self._chosen = key
        if key is not None and key != self.selected:
            self.selected = key

    @on(DataTable.RowHighlighted, "#watchers")
    def _watcher_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Also rows added, removed or sorted under a cursor that stayed put."""
        key = event.row_key.value
        if key is not None and key != self.selected:
            self.selected = key

    @on(DataTable.RowSelected)
    def _row_entered(self) -> None:
        """Enter on a watcher or a process: read its output."""
        self.output.focus()

    @on(DataTable.RowHighlighted, "#processes")
    def _process_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.focused is self.processes_table:
            pid = self.processes_table.selected_pid
            if self.follow.gone(self.selected_view) and pid != self.follow.pid:
                return  # the followed row was removed: the cursor fell on a neighbour
            self._show_process(pid)
            self.actions.refresh_bindings_if_changed()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if event.widget is self.processes_table:
            self._show_process(self.processes_table.selected_pid)
        elif event.widget is self.watchers_table:
            self._show_process(None)
        self.actions.refresh_bindings_if_changed()

    def _show_process(self, pid: int | None) -> None:
        if pid == self.follow.pid and pid == self.output_pid:
            return
        self.follow.select(self.selected_view, pid)
        self.output_pid = self.follow.pid  # its watcher reloads the pane

    def watch_selected(self, old: str | None, new: str | None) -> None:
        if old == new:
            return
        self.set_reactive(MainScreen.output_pid, None)
        self.follow.select(None, None)
        if self.processes_table.extended:
            self.processes_table.set_extended(())
        self.processes_table.switch(old, new)
        self.sync_processes()
        self._reload_output()
        self.update_titles()
        self.actions.refresh_bindings_if_changed()
        if self.extended_on:
            self.actions.poll_extended()

    def watch_output_pid(self, old: int | None, new: int | None) -> None:
        if old != new:
            self._reload_output()
            self.update_titles()

    def reload_output(self) -> None:
        self._reload_output()

    def _reload_output(self) -> None:
        name = self.selected
        if self.output_panel.combined:
            self.output_panel.reload_combined(self.model.output)
        else:
            self.output_panel.reload(
                self.model.output_of(name) if name else [], self.follow.wid, name
            )
        self.terminals.update()

    def update_titles(self) -> None:
        view = self.selected_view
        name = self.selected or "—"
        processes_panel = self.processes_panel
        extended = " · extended stats" if self.extended_on else ""
        processes_panel.set_labels(f"processes · {name}{extended}", _watcher_note(view))
        note = self.follow.note(view)
        target = self.follow.title(name) + (f" · {note}" if note else "")
        if self.terminals.target is not None:
            target = f"{name} pid {self.terminals.target[1]} · terminal"
        if self.output_panel.combined:
            target = "all watchers"
        self.output_panel.set_labels(f"output · {target}")
        watchers_title = "watchers" + (f" /{self.filter_text}" if self.filter_text else "")
        if self.table_order.key != "config":
            watchers_title += f" · {self.table_order.label}"
        self.watchers_panel.set_labels(watchers_title)

    # -- actions (the commands themselves are in MainActions) --------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.actions.check(action, parameters)

    def action_start(self) -> None:
        self.actions.watcher_command("start", self.tui.client.start)

    def action_stop(self) -> None:
        self.actions.watcher_command("stop", self.tui.client.stop)

    def action_restart(self) -> None:
        self.actions.watcher_command("restart", self.tui.client.restart)

    def action_reload(self) -> None:
        self.actions.watcher_command("reload", self.tui.client.reload)

    def action_stop_process(self) -> None:
        self.actions.process_kill("stop")

    def action_restart_process(self) -> None:
        self.actions.process_kill("restart")

    def action_scale(self, step: int) -> None:
        self.actions.scale(step)

    def action_scale_to(self) -> None:
        self.actions.scale_to()

    def action_signal(self) -> None:
        self.actions.signal()

    def action_extended(self) -> None:
        self.actions.toggle_extended()

    def action_filter(self) -> None:
        box = self.filter_box
        box.remove_class("hidden")
        box.focus()

    def action_search(self) -> None:
        self.output_panel.open_search()

    def action_close_inputs(self) -> None:
        focused = self.focused
        if isinstance(focused, SearchInput):
            self.output_panel.close_search()
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
        self.update_titles()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        if not self.filter_text:
            self.filter_box.add_class("hidden")
        self.watchers_table.focus()

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

    def action_type(self) -> None:
        self.terminals.start_typing()

    @on(TerminalView.Resized)
    def _terminal_resized(self) -> None:
        self.terminals.send_size()

    @on(TerminalView.TypingChanged)
    def _typing_changed(self, event: TerminalView.TypingChanged) -> None:
        self.output_panel.set_class(event.typing, "-typing")
        if not event.typing:
            self.terminals.typing_stopped()
        self.refresh_bindings()

    def action_wrap(self) -> None:
        self.output_modes.toggle_wrap()

    def action_timestamps(self) -> None:
        self.output_modes.toggle_timestamps()

    def action_select_output(self) -> None:
        self.output_modes.select()

    def action_pretty_json(self) -> None:
        self.output_modes.toggle_pretty_json()

    def action_combined_output(self) -> None:
        self.output_modes.toggle_combined()

    def action_clear_output(self) -> None:
        self.output_modes.clear()

    def action_info(self) -> None:
        self.actions.show_info()

    def action_dependencies(self) -> None:
        self.actions.show_dependencies()

    def action_sort(self) -> None:
        self.set_sort(self.table_order.next())

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.set_sort(self.table_order.clicked(str(event.column_key.value)))

    def set_sort(self, order: SortOrder, remember: bool = True) -> None:
        """Order both tables by `order` (kept for the next session unless `remember` is off)."""
        if order == self.table_order:
            return
        self.table_order = order
        if self.is_mounted:
            self.sync_watchers()
            self.sync_processes()
            self.update_titles()
        if remember:
            self.tui.remember_sort(order)


def _watcher_note(view: WatcherView | None) -> str:
    if view is None:
        return ""
    if view.state == WatcherState.FAILED:
        return f"failed: {view.failure or describe_reason(view.reason) or '?'}"
    parts = ["on demand"] if view.on_demand else []
    parts += [f"socket {text}" for text in view.sockets]
    if view.cmd:
        parts.append(view.cmd)
    note = " · ".join(parts)
    limit = 90 if view.sockets else 60  # a socket's address is worth the room
    return note if len(note) < limit else note[: limit - 1] + "…"

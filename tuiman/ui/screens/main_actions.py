"""The main screen's commands: start, stop, restart, scale and signal the selection, and the
extended-stats columns; and which of them apply to what is selected.

`MainActions` reads the selection from the screen and sends commands through the app's
client; the only thing it remembers is what the footer's keys were last refreshed for. The
screen's `action_*` methods delegate here (Textual resolves a binding's action on the screen).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.widgets import Input

from tuiman.client.protocol import Outcome
from tuiman.ui.info_text import InfoLine, info_sections
from tuiman.ui.keys import WATCHER_ACTIONS, watcher_action_state
from tuiman.ui.readiness_view import dependency_lines
from tuiman.ui.rows import extended_keys
from tuiman.ui.screens.info import InfoScreen
from tuiman.ui.screens.reused import ReusedDialogs
from tuiman.ui.screens.scale_to import ScaleToScreen
from tuiman.ui.screens.signal_picker import SignalPicker

if TYPE_CHECKING:
    from textual.worker import Worker

    from tuiman.ui.screens.main import MainScreen

EXTENDED_INTERVAL = 2.0


class MainActions:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self._binding_signature: object = None
        self.readiness_shown = False  # the ready columns are on (docs/readiness.md)
        self._dialogs: ReusedDialogs | None = None

    @property
    def dialogs(self) -> ReusedDialogs:
        if self._dialogs is None:
            self._dialogs = ReusedDialogs(self.screen.app)
        return self._dialogs

    def check(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The screen's check_action: True runs the action, None dims it, False hides it."""
        screen = self.screen
        if action == "close_inputs":
            return isinstance(screen.focused, Input) or screen.maximized is not None
        if action == "type":
            return screen.terminals.target is not None
        if action not in WATCHER_ACTIONS and not action.endswith("_process"):
            return True
        view = screen.selected_view
        if view is None:
            return False  # nothing selected (a filter matching nothing): nothing to act on
        on_process = screen.process_focused
        if action.endswith("_process"):
            return on_process
        if action in ("stop", "restart") and on_process:
            return False
        return watcher_action_state(action, view, parameters)

    def show_info(self) -> None:
        screen = self.screen
        view = screen.selected_view
        if view is None:
            return
        pid = screen.processes_table.selected_pid if screen.process_focused else None
        title = f"{view.name}" + (f" · pid {pid}" if pid is not None else "")
        sections = info_sections(view, pid, screen.hook_log.items, screen.tui.clock())
        self.dialogs.push(
            "info",
            InfoScreen,
            lambda: InfoScreen(title, sections),
            lambda info: info.refill(title, sections),
        )

    def show_readiness_columns(self) -> None:
        """The ready columns, while some watcher has probes or dependencies."""
        screen = self.screen
        shown = any(view.readiness is not None for view in screen.model.watchers.values())
        if shown != self.readiness_shown:
            self.readiness_shown = shown
            screen.watchers_table.show_readiness(shown)
            screen.processes_table.show_readiness(shown)

    def show_dependencies(self) -> None:
        """The dependency tree of the selected watcher, and of all (docs/readiness.md)."""
        screen = self.screen
        watchers = screen.model.watchers
        view = screen.selected_view
        sections = dependency_lines(watchers, view.name) if view is not None else []
        sections += dependency_lines(watchers, None)
        info = [(heading, [InfoLine("", line) for line in lines]) for heading, lines in sections]
        self.dialogs.push(
            "info",
            InfoScreen,
            lambda: InfoScreen("dependencies", info),
            lambda shown: shown.refill("dependencies", info),
        )

    def refresh_bindings_if_changed(self) -> None:
        """The Footer recomposes on every refresh: only when what `check` reads changed."""
        screen = self.screen
        view = screen.selected_view
        signature = (
            None
            if view is None
            else (view.state, bool(view.processes), view.numprocesses > 0, view.start_pending),
            screen.process_focused,
            screen.terminals.target is not None,
        )
        if signature != self._binding_signature:
            self._binding_signature = signature
            screen.refresh_bindings()

    # -- commands -----------------------------------------------------------------------------
    def watcher_command(self, verb: str, run: Callable[[str], Awaitable[Outcome]]) -> None:
        name = self.screen.selected
        if name:
            self.screen.tui.command(f"{verb} {name}", partial(run, name))

    def process_kill(self, verb: str) -> None:
        screen = self.screen
        pid = screen.processes_table.selected_pid
        if screen.selected and pid is not None:
            kill = partial(screen.tui.client.kill, screen.selected, pid)
            screen.tui.command(f"{verb} process {pid}", kill)

    def scale(self, step: int) -> None:
        name = self.screen.selected
        if name:
            tui = self.screen.tui
            client = tui.client
            verb, scale = ("incr", client.incr) if step > 0 else ("decr", client.decr)
            tui.command(f"{verb} {name}", partial(scale, name, abs(step)))

    def scale_to(self) -> None:
        screen = self.screen
        view = screen.selected_view
        if view is None:
            return
        name = view.name

        def apply(count: int | None) -> None:
            # Sent even when it looks like no change: what the UI knows of the count may be a
            # batch behind the core (events wait while keys are answered), and the core's
            # scale to the count it has is a no-op.
            if count is not None:
                client = screen.tui.client
                screen.tui.command(
                    f"scale {name} to {count}", partial(client.scale_to, name, count)
                )

        current = view.numprocesses
        self.dialogs.push(
            "scale-to",
            ScaleToScreen,
            lambda: ScaleToScreen(name, current),
            lambda dialog: dialog.refill(name, current),
            apply,
        )

    def signal(self) -> None:
        screen = self.screen
        name = screen.selected
        if name is None:
            return
        pid = screen.processes_table.selected_pid if screen.process_focused else None
        target = f"{name} pid {pid}" if pid is not None else f"every process of {name}"

        def send(signum: int | None) -> None:
            if signum is not None:
                deliver = partial(screen.tui.client.signal, name, signum, pid)
                screen.tui.command(f"signal {target}", deliver)

        self.dialogs.push(
            "signal-picker",
            SignalPicker,
            lambda: SignalPicker(target),
            lambda picker: picker.refill(target),
            send,
        )

    # -- extended stats -----------------------------------------------------------------------
    def toggle_extended(self) -> None:
        screen = self.screen
        screen.extended_on = not screen.extended_on
        screen.set_class(screen.extended_on, "-extended")
        if screen.extended_on:
            self.poll_extended()
        else:
            screen.workers.cancel_group(screen, "extended")
            screen.processes_table.set_extended(())
            screen.sync_processes()
        screen.update_titles()

    def poll_extended(self) -> Worker[None]:
        """(Re)start polling the selected watcher's extended_stats hook, on the screen."""
        return self.screen.run_worker(
            self._poll_extended, name="_poll_extended", group="extended", exclusive=True
        )

    async def _poll_extended(self) -> None:
        screen = self.screen
        while screen.extended_on and screen.selected:
            name = screen.selected
            stats = await screen.tui.client.extended_stats(name)
            if not stats.ok:
                screen.notify(stats.error, title="extended stats", severity="error")
                screen.extended_on = False
                screen.update_titles()
                return
            view = screen.model.watchers.get(name)
            if view is not None and name == screen.selected:
                for pid, entry in stats.processes.items():
                    process = view.processes.get(pid)
                    if process is not None:
                        process.extended = dict(entry)
                screen.processes_table.set_extended(extended_keys(stats.processes))
                screen.sync_processes()
            await asyncio.sleep(EXTENDED_INTERVAL)

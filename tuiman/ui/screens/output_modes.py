"""The output pane's modes the user switches from the main screen: wrap, timestamps, clear,
every watcher's lines at once, JSON lines indented, select and copy.

Wrap and timestamps are remembered in settings.toml; they shape the line view only (a pty
process' pane is a terminal, which wraps as the terminal would and has no per-line times).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuiman.ui.app import TuimanApp
    from tuiman.ui.screens.main import MainScreen


class OutputModes:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen

    @property
    def _app(self) -> TuimanApp:
        return self.screen.tui

    def apply(self, *, wrap: bool, timestamps: bool) -> None:
        """Set both modes without remembering them (as loaded from the settings)."""
        panel = self.screen.output_panel
        panel.view.show_timestamps(timestamps)
        panel.view.set_wrap(wrap)
        panel.update_status()

    def toggle_wrap(self) -> None:
        view = self.screen.output_panel.view
        self._set(wrap=not view.wrap, timestamps=view.timestamps)

    def toggle_timestamps(self) -> None:
        view = self.screen.output_panel.view
        self._set(wrap=view.wrap, timestamps=not view.timestamps)

    def _set(self, *, wrap: bool, timestamps: bool) -> None:
        self.apply(wrap=wrap, timestamps=timestamps)
        app = self._app
        app.remember_output(wrap=wrap, timestamps=timestamps)

    def toggle_pretty_json(self) -> None:
        view = self.screen.output_panel.view
        view.show_pretty_json(not view.pretty_json)
        self.screen.output_panel.update_status()

    def toggle_combined(self) -> None:
        """Every watcher's output interleaved, or the selected watcher's again."""
        screen = self.screen
        panel = screen.output_panel
        panel.combined = not panel.combined
        panel.view.show_combined(panel.combined)
        screen.reload_output()
        screen.update_titles()

    def select(self) -> None:
        """Select mode in the output pane: keys pick lines, y copies them (OSC 52)."""
        panel = self.screen.output_panel
        if panel.terminal.display:
            self._say("a terminal shows the process' screen: select with the mouse (shift+drag)")
            return
        self.screen.set_focus(panel.view)  # now: the next key already moves the selection
        if not panel.view.start_selecting():
            self._say("no line to select")

    def clear(self) -> None:
        panel = self.screen.output_panel
        if panel.terminal.display:
            self._say("a terminal shows the process' screen: nothing to clear")
        elif not panel.clear():
            self._say("nothing to clear")

    def _say(self, message: str) -> None:
        self._app.notify(message, timeout=2, markup=False)

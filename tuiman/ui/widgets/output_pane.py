"""The output panel: the selected watcher's (or process') output, its search box, and its status.

The screen says what to show (`reload`, `append_new`); the pane filters the lines, runs the
search typed into its box, and keeps its subtitle (search position, dropped lines, following).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input

from tuiman.ui.model import OutputEntry
from tuiman.ui.widgets.line_view import follow_status
from tuiman.ui.widgets.output_view import OutputView
from tuiman.ui.widgets.panels import Panel, SearchInput
from tuiman.ui.widgets.terminal_view import TerminalView


class OutputPane(Panel):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = OutputView(id="output")
        self.search_box = SearchInput(
            placeholder="search output (enter/up: older, down: newer, escape)",
            id="search",
            classes="hidden",
        )
        self.terminal = TerminalView(id="terminal")  # a pty process (docs/terminals.md)
        self.terminal.display = False
        self.terminal.on_status = self.update_status

    def compose(self) -> ComposeResult:
        yield self.view
        yield self.terminal
        yield self.search_box

    def show_terminal(self, shown: bool) -> None:
        """The emulator instead of the lines, for a pty process."""
        had_focus = self.view.has_focus or self.terminal.has_focus
        self.terminal.display = shown
        self.view.display = not shown
        if had_focus:
            (self.terminal if shown else self.view).focus()

    # -- what is shown ------------------------------------------------------------------------
    def reload(self, lines: Iterable[OutputEntry], wid: int | None) -> None:
        """Show `lines` (one watcher's), only those of slot `wid` if given (every process
        that ran in it: the pane follows a slot across restarts)."""
        self.view.replace([e for e in lines if wid is None or e.wid == wid])
        self.update_status()

    def append_new(self, entries: Iterable[OutputEntry], watcher: str, wid: int | None) -> None:
        """Add what is new for `watcher` (and slot `wid`, if given) out of a batch of every
        watcher's."""
        lines = [e for e in entries if e.watcher == watcher and (wid is None or e.wid == wid)]
        if lines:
            self.view.append(lines)
            if not self.view.follow:
                self.update_status()

    def add_dropped(self, count: int) -> None:
        self.view.dropped += count
        self.update_status()

    def update_status(self) -> None:
        if self.terminal.display:
            self.set_labels(subtitle=self.terminal.status())
            return
        output = self.view
        parts: list[str] = []
        if output.search:
            position = output.match_position()
            where = f"{position[0]}/{position[1]}" if position else f"{output.match_count} matches"
            parts.append(f"“{output.search}” {where}")
        if output.dropped:
            parts.append(f"{output.dropped} lines dropped (UI behind)")
        parts.append(follow_status(output))
        self.set_labels(subtitle="  ".join(parts))

    # -- search -------------------------------------------------------------------------------
    def open_search(self) -> None:
        box = self.search_box
        box.remove_class("hidden")
        box.focus()

    def close_search(self) -> None:
        box = self.search_box
        box.value = ""
        box.add_class("hidden")
        self.view.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.view.search = event.value
        self.update_status()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self._find(older=True)

    @on(SearchInput.Find)
    def _search_find(self, event: SearchInput.Find) -> None:
        self._find(event.older)

    def _find(self, older: bool) -> None:
        if not self.view.find(older):
            self.notify(f"no match for “{self.view.search}”", severity="warning", timeout=2)
        self.update_status()

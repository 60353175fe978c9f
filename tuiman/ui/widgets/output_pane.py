"""The output panel: the selected watcher's (or process') output, its search box, and its status.

The screen says what to show (`reload`, `append_new`); the pane filters the lines, runs the
search typed into its box, and keeps its subtitle (search position, dropped lines, following).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import attrgetter

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input

from tuiman.ui.model import OutputEntry
from tuiman.ui.widgets.line_view import follow_status
from tuiman.ui.widgets.output_cleared import ClearedOutput
from tuiman.ui.widgets.output_view import OutputView
from tuiman.ui.widgets.panels import Panel, SearchInput
from tuiman.ui.widgets.terminal_view import TerminalView

COMBINED = ("", None)  # _showing while every watcher's lines are shown (no watcher is "")


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
        self.cleared = ClearedOutput()
        self._showing: tuple[str, int | None] | None = None  # (watcher, wid) of the lines shown
        self.combined = False  # every watcher's lines, interleaved (the screen decides)

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
    def reload(
        self, lines: Sequence[OutputEntry], wid: int | None, watcher: str | None = None
    ) -> None:
        """Show `lines` (one watcher's), only those of slot `wid` if given (every process
        that ran in it: the pane follows a slot across restarts), less what was cleared."""
        self._showing = None if watcher is None else (watcher, wid)
        kept = lines if self._showing is None else self.cleared.after_clear(self._showing, lines)
        self.view.replace([e for e in kept if wid is None or e.wid == wid])
        self.update_status()

    def reload_combined(self, buffers: Mapping[str, Sequence[OutputEntry]]) -> None:
        """Show every watcher's lines (less what was cleared here), interleaved by time.
        Already shown, nothing changes: a move in the tables does not merge them again."""
        if self._showing == COMBINED:
            return
        self._showing = COMBINED
        kept = [self.cleared.after_clear_combined(name, lines) for name, lines in buffers.items()]
        self.view.set_names(list(buffers))
        self.view.replace(heapq.merge(*kept, key=attrgetter("time")))
        self.update_status()

    def clear(self) -> bool:
        """Empty the pane for the watcher (or slot) shown, or for every watcher in the
        combined view; later lines show. False: nothing to clear."""
        view = self.view
        last = view.pending[-1] if view.pending else (view.items[-1] if view.items else None)
        if last is None:
            return False
        if self.combined:
            self.cleared.clear_combined({e.watcher: e for e in chain(view.items, view.pending)})
        elif self._showing not in (None, COMBINED):
            self.cleared.clear(self._showing, last)
        else:
            return False
        view.replace([])
        self.update_status()
        return True

    def append_new(
        self, entries: Iterable[OutputEntry], watcher: str | None, wid: int | None
    ) -> None:
        """Add what is new for `watcher` (and slot `wid`, if given) out of a batch of every
        watcher's."""
        if self.combined:
            lines = list(entries)
        else:
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
        if output.selection is not None:
            count = output.selection.last - output.selection.first + 1
            parts.append(f"select {count} · shift+up/down extends · y copies · escape leaves")
        if output.search:
            position = output.match_position()
            where = f"{position[0]}/{position[1]}" if position else f"{output.match_count} matches"
            parts.append(f"“{output.search}” {where}")
        if output.dropped:
            parts.append(f"{output.dropped} lines dropped (UI behind)")
        modes = [
            name
            for name, on in (
                ("wrap", output.wrap),
                ("time", output.timestamps),
                ("json", output.pretty_json),
            )
            if on
        ]
        if modes:
            parts.append(" ".join(modes))
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

    @on(OutputView.SelectionChanged)
    def _selection_changed(self, event: OutputView.SelectionChanged) -> None:
        if event.copied is not None:
            lines = "line" if event.copied == 1 else "lines"
            self.notify(f"copied {event.copied} {lines} to the clipboard (OSC 52)", timeout=3)
        self.update_status()
        self.screen.refresh_bindings()

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

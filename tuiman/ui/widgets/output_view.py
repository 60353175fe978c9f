"""The output pane: a watcher's (or one process') stdout and stderr, ANSI colours kept."""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.highlighter import JSONHighlighter
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import var

from tuiman.ui.model import OutputEntry
from tuiman.ui.palette import Palette
from tuiman.ui.pretty_json import pretty_json_lines
from tuiman.ui.widgets.line_selection import LineSelection
from tuiman.ui.widgets.line_view import LineView, rows_of

OUTPUT_LINES = 5000
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]")
WID_COLOURS = (
    "cyan",
    "green",
    "magenta",
    "blue",
    "yellow",
    "bright_cyan",
    "bright_green",
    "bright_magenta",
)
MATCH = Style(bgcolor="yellow", color="black")
CURRENT_MATCH = Style(bgcolor="bright_red", color="white", bold=True)


TIMESTAMP_CELLS = len("12:34:56.789 ")
TIMESTAMP_STYLE = Style(dim=True)


_JSON = JSONHighlighter()
NAME_CELLS = 16  # longer watcher names are cut with an ellipsis in the combined view


def watcher_style(name: str) -> Style:
    """The same colour for a watcher in every session (not Python's salted hash)."""
    return Style(color=WID_COLOURS[zlib.crc32(name.encode()) % len(WID_COLOURS)], bold=True)


def watcher_label(name: str, cells: int) -> str:
    if cell_len(name) > cells:
        return set_cell_size(name, max(cells - 1, 0)) + "…"
    return set_cell_size(name, cells)


def plain_text(line: str) -> str:
    return _ANSI.sub("", line)


def arrival_time(seconds: float) -> str:
    """Local wall-clock time with milliseconds: 12:34:56.789."""
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}"


SELECTED = Style(reverse=True)


class OutputView(LineView[OutputEntry]):
    # Active only while selecting (check_action): otherwise the keys scroll as usual.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "select_move(-1, False)", "up", show=False),
        Binding("down", "select_move(1, False)", "down", show=False),
        Binding("shift+up", "select_move(-1, True)", "extend up", show=False),
        Binding("shift+down", "select_move(1, True)", "extend down", show=False),
        Binding("pageup", "select_page(-1)", "page up", show=False),
        Binding("pagedown", "select_page(1)", "page down", show=False),
        Binding("y,enter", "select_copy", "copy", id="copy-selection"),
        Binding("escape", "select_leave", "leave selection", id="leave-selection"),
    ]
    SELECT_ACTIONS = frozenset({"select_move", "select_page", "select_copy", "select_leave"})

    class SelectionChanged(Message):
        """Selecting began, moved or ended (the footer shows other keys), or lines were
        copied."""

        def __init__(self, copied: int | None = None) -> None:
            super().__init__()
            self.copied = copied

    search: var[str] = var("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(OUTPUT_LINES, id=id)
        self.dropped = 0  # output events the bus dropped because the UI fell behind
        self.current_match: int | None = None  # line index of the highlighted match
        self.match_count = 0
        self.timestamps = False  # each line prefixed with the time it arrived
        self.combined = False  # each line prefixed with its watcher's name
        self._name_cells = 0  # the names column in the combined view
        self._prefix = 4  # cells before the text: kept, item_width runs for every line
        self.pretty_json = False  # a line that is a JSON object drawn indented, over rows
        self.selection: LineSelection | None = None  # select mode: lines to copy
        self._followed_before_selecting = False

    def item_width(self, item: OutputEntry) -> int:
        return len(item.text) + self._prefix

    def item_cells(self, item: OutputEntry) -> int:
        plain = plain_text(item.text)
        # printable ASCII is one cell a character: `w` counts every kept line, 5x faster so
        cells = len(plain) if plain.isascii() and plain.isprintable() else cell_len(plain)
        return cells + self._prefix

    def item_rows(self, item: OutputEntry, width: int) -> int:
        lines = self._json_lines(item)
        if lines is None:
            return rows_of(self.item_cells(item), width)
        prefix = self._prefix
        return sum(rows_of(prefix + cell_len(line), width) for line in lines)

    def _json_lines(self, item: OutputEntry) -> tuple[str, ...] | None:
        if not self.pretty_json or "{" not in item.text:
            return None
        return pretty_json_lines(plain_text(item.text))

    def show_pretty_json(self, shown: bool) -> None:
        if shown != self.pretty_json:
            self.pretty_json = shown
            self._cache.clear()
            self.set_expand(shown)

    def _update_prefix(self) -> None:
        names = self._name_cells + 1 if self.combined else 0
        self._prefix = 4 + (TIMESTAMP_CELLS if self.timestamps else 0) + names

    def set_names(self, names: list[str]) -> None:
        """The watchers the combined view names: its names column fits the longest."""
        self._name_cells = min(max((cell_len(name) for name in names), default=0), NAME_CELLS)
        self._update_prefix()

    def show_combined(self, combined: bool) -> None:
        self.combined = combined  # the pane reloads the lines next
        self._update_prefix()

    def show_timestamps(self, shown: bool) -> None:
        if shown != self.timestamps:
            self.timestamps = shown
            self._update_prefix()
            self.reformat()

    def render_item(self, item: OutputEntry, number: int, palette: Palette) -> Text:
        colour = WID_COLOURS[item.wid % len(WID_COLOURS)]
        prefix_style = (
            palette.error + Style(bold=True)
            if item.stream == "stderr"
            else Style(color=colour, dim=True)
        )
        json_lines = self._json_lines(item) if self.pretty_json else None
        if json_lines is not None:
            indent = "\n" + " " * self._prefix
            body = Text(indent.join(json_lines), end="")
            _JSON.highlight(body)
        else:
            # the model made the text terminal-safe: only SGR sequences are left for the decoder
            body = Text.from_ansi(item.text, end="")
        term = self.search
        if term:
            style = CURRENT_MATCH if number == self.current_match else MATCH
            body.highlight_words([term], style, case_sensitive=False)
        # stderr is told apart by its mark too, not only by colour (NO_COLOR, monochrome)
        mark = "!" if item.stream == "stderr" else "│"
        line = Text.assemble((f"{item.wid:>2}{mark}", prefix_style), " ", body)
        if self.combined:
            name = watcher_label(item.watcher, self._name_cells)
            line = Text.assemble((name, watcher_style(item.watcher)), " ", line)
        if self.timestamps:
            line = Text.assemble((arrival_time(item.time), TIMESTAMP_STYLE), " ", line)
        if self.selection is not None and number in self.selection:
            line.stylize(SELECTED)
        return line

    # -- select and copy ----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.SELECT_ACTIONS:
            return self.selection is not None
        return True

    def start_selecting(self) -> bool:
        """Select mode on the last line on screen; the view holds still meanwhile. False:
        no line to select."""
        if not self.items:
            return False
        if self.selection is None:
            self._followed_before_selecting = self.follow
        self.follow = False
        bottom = int(self.scroll_y) + self.scrollable_content_region.height - 1
        last = min(self._line_at_row(bottom), self.line_count - 1)
        self.selection = LineSelection(last, last)
        self._show_cursor()
        self.post_message(self.SelectionChanged())
        return True

    def action_select_move(self, step: int, extend: bool) -> None:
        if self.selection is not None:
            self.selection.move(step, self.line_count, extend=extend)
            self._show_cursor()
            self.post_message(self.SelectionChanged())

    def action_select_page(self, pages: int) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)
        self.action_select_move(pages * height, False)

    def action_select_copy(self) -> None:
        selection = self.selection
        if selection is None:
            return
        self.app.copy_to_clipboard(self.selected_text() + "\n")
        self.action_select_leave(copied=selection.last - selection.first + 1)

    def action_select_leave(self, copied: int | None = None) -> None:
        if self.selection is not None:
            self.selection = None
            self.invalidate()
            if self._followed_before_selecting:
                self.action_follow_end()  # what arrived meanwhile shows
            self.post_message(self.SelectionChanged(copied))

    def selected_text(self) -> str:
        if self.selection is None:
            return ""
        lines = list(self.items)[self.selection.first : self.selection.last + 1]
        return "\n".join(plain_text(entry.text) for entry in lines)

    def _show_cursor(self) -> None:
        """Repaint the selection and scroll the cursor's line into view."""
        selection = self.selection
        if selection is None:
            return
        self.invalidate()
        top = self._row_of_line(selection.cursor)
        height = self.scrollable_content_region.height
        if top < self.scroll_y:
            self._move_to(top)
        elif top >= self.scroll_y + height:
            self._move_to(top - height + 1)

    def append(self, items: Iterable[OutputEntry]) -> None:
        first = self._first
        super().append(items)
        trimmed = self._first - first
        if self.current_match is not None and trimmed:
            shifted = self.current_match - trimmed
            self.current_match = shifted if shifted >= 0 else None
        if self.selection is not None and trimmed:
            self.selection.anchor = max(self.selection.anchor - trimmed, 0)
            self.selection.cursor = max(self.selection.cursor - trimmed, 0)

    def replace(self, items: Iterable[OutputEntry]) -> None:
        self.action_select_leave()  # other lines: the indices mean nothing now
        super().replace(items)

    # -- search -------------------------------------------------------------------------------
    def watch_search(self) -> None:
        self.current_match = None
        self.match_count = self._count_matches()
        self.invalidate()

    def _matches(self) -> list[int]:
        term = self.search.lower()
        if not term:
            return []
        return [
            index for index, item in enumerate(self.items) if term in plain_text(item.text).lower()
        ]

    def _count_matches(self) -> int:
        return len(self._matches())

    def find(self, older: bool = True) -> bool:
        """Jump to the next match above (older) or below the current one; wraps around."""
        matches = self._matches()
        self.match_count = len(matches)
        if not matches:
            self.current_match = None
            self.invalidate()
            return False
        current = self.current_match
        if current is None:
            target = matches[-1] if older else matches[0]
        elif older:
            target = max((m for m in matches if m < current), default=matches[-1])
        else:
            target = min((m for m in matches if m > current), default=matches[0])
        self.current_match = target
        self.invalidate()
        self.scroll_to_line(target)
        return True

    def match_position(self) -> tuple[int, int] | None:
        """(1-based position of the current match, match count), if a match is selected."""
        if self.current_match is None:
            return None
        matches = self._matches()
        if self.current_match not in matches:
            return None
        return matches.index(self.current_match) + 1, len(matches)

"""The output pane: a watcher's (or one process') stdout and stderr, ANSI colours kept."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual.reactive import var

from tuiman.ui.model import OutputEntry
from tuiman.ui.palette import Palette
from tuiman.ui.widgets.line_view import LineView

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


def plain_text(line: str) -> str:
    return _ANSI.sub("", line)


class OutputView(LineView[OutputEntry]):
    search: var[str] = var("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(OUTPUT_LINES, id=id)
        self.dropped = 0  # output events the bus dropped because the UI fell behind
        self.current_match: int | None = None  # line index of the highlighted match
        self.match_count = 0

    def item_width(self, item: OutputEntry) -> int:
        return len(item.text) + 4

    def render_item(self, item: OutputEntry, number: int, palette: Palette) -> Text:
        colour = WID_COLOURS[item.wid % len(WID_COLOURS)]
        prefix_style = (
            palette.error + Style(bold=True)
            if item.stream == "stderr"
            else Style(color=colour, dim=True)
        )
        # the model made the text terminal-safe: only SGR sequences are left for the decoder
        body = Text.from_ansi(item.text, end="")
        term = self.search
        if term:
            style = CURRENT_MATCH if number == self.current_match else MATCH
            body.highlight_words([term], style, case_sensitive=False)
        # stderr is told apart by its mark too, not only by colour (NO_COLOR, monochrome)
        mark = "!" if item.stream == "stderr" else "│"
        return Text.assemble((f"{item.wid:>2}{mark}", prefix_style), " ", body)

    def append(self, items: Iterable[OutputEntry]) -> None:
        first = self._first
        super().append(items)
        if self.current_match is not None and self._first != first:
            shifted = self.current_match - (self._first - first)
            self.current_match = shifted if shifted >= 0 else None

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

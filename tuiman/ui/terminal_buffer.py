"""A pty process' screen as a terminal would draw it: pyte's VT100/VT220 emulator, plus the
scrollback and the alternate screen pyte leaves out (docs/terminals.md#in-the-ui).

No Textual here. Only the process on screen has a `TerminalBuffer`; under a flood of text that
only scrolls it skips to the last screenful (`feed`), since that is all a screen would show.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from typing import Any

import pyte
from pyte.screens import Char, StaticDefaultDict

SCROLLBACK = 2000  # lines kept above the screen
_ALTERNATE_MODES = frozenset({1049, 1047, 47})
_RESET = "\x1b[0m"
# What makes the screen depend on more than the last lines written: cursor addressing, scroll
# regions, saved cursors, modes. Text without them only scrolls.
_ADDRESSING = re.compile(r"\x1b\[[0-9;?]*[HfrdJ]|\x1b[78M]|\x1b\[\?")

Line = StaticDefaultDict[int, Char]


class _Screen(pyte.Screen):
    """pyte's screen with scrollback (lines that scroll off the top) and the alternate screen
    that full-screen programs (htop, vim, less) switch to and back from."""

    def __init__(self, columns: int, lines: int) -> None:
        self.scrollback: deque[Line] = deque(maxlen=SCROLLBACK)
        self.alternate = False
        self._saved: tuple[dict[int, Line], int, int] | None = None
        super().__init__(columns, lines)

    def index(self) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0 and not self.alternate:
            self.scrollback.append(self.buffer[top])
        super().index()

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and _ALTERNATE_MODES & set(modes) and not self.alternate:
            saved = {y: _copy(line) for y, line in self.buffer.items()}
            self._saved = (saved, self.cursor.x, self.cursor.y)
            self.alternate = True
            self.erase_in_display(2)
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private") and _ALTERNATE_MODES & set(modes) and self.alternate:
            self.alternate = False
            if self._saved is not None:
                saved, x, y = self._saved
                self.buffer.clear()
                self.buffer.update(saved)
                self.cursor.x, self.cursor.y = min(x, self.columns - 1), min(y, self.lines - 1)
                self._saved = None
            self.dirty.update(range(self.lines))
        super().reset_mode(*modes, **kwargs)


class _TolerantStream(pyte.Stream):
    """A sequence pyte cannot handle (`CSI > 4;2 m` from vim: a private SGR) is skipped. pyte
    resets its parser and raises; the UI must not die of what a child writes."""

    def _send_to_parser(self, data: str) -> bool | None:
        try:
            return super()._send_to_parser(data)
        except Exception:
            return self._taking_plain_text  # the fresh parser's state


def _copy(line: Line) -> Line:
    copied: Line = StaticDefaultDict(line.default)
    copied.update(line)
    return copied


class TerminalBuffer:
    def __init__(self, rows: int, cols: int) -> None:
        self.screen = _Screen(max(cols, 1), max(rows, 1))
        self._stream = _TolerantStream(self.screen)
        self.skipped = 0  # characters skipped under floods

    @property
    def rows(self) -> int:
        return int(self.screen.lines)

    @property
    def cols(self) -> int:
        return int(self.screen.columns)

    def feed(self, text: str) -> None:
        if len(text) > self.rows * (self.cols + 1) and not self.screen.alternate:
            # Text that only scrolls leaves just its last `rows` lines on screen: start after
            # the line break before them, colours reset. Anything that moves the cursor, or a
            # text without that many line breaks, is fed whole.
            start = self._last_lines_start(text)
            if start > 0 and _ADDRESSING.search(text) is None:
                self.skipped += start
                text = _RESET + text[start:]
        try:
            self._stream.feed(text)
        except Exception:  # pyte's own bug in drawing: lose this piece, never the UI
            self._stream = _TolerantStream(self.screen)

    def _last_lines_start(self, text: str) -> int:
        """Where the last `rows` lines of `text` begin (0: it has no more than that)."""
        end = len(text)
        for _ in range(self.rows + 1):
            end = text.rfind("\n", 0, end)
            if end < 0:
                return 0
        return end + 1

    def resize(self, rows: int, cols: int) -> None:
        if (rows, cols) != (self.rows, self.cols) and rows > 0 and cols > 0:
            self.screen.resize(rows, cols)

    def take_dirty(self) -> set[int]:
        dirty = set(self.screen.dirty)
        self.screen.dirty.clear()
        return dirty

    @property
    def history_size(self) -> int:
        return len(self.screen.scrollback)

    def line(self, y: int, back: int) -> Mapping[int, Char]:
        """Row `y` of the view scrolled `back` lines into the scrollback."""
        if back <= 0:
            return self.screen.buffer[y] if y < self.rows else {}
        history = self.screen.scrollback
        index = len(history) - back + y
        if index < len(history):
            return history[index] if index >= 0 else {}
        row = index - len(history)
        return self.screen.buffer[row] if row < self.rows else {}

    def cursor(self) -> tuple[int, int] | None:
        cursor = self.screen.cursor
        return None if cursor.hidden else (cursor.x, cursor.y)

    def text_lines(self) -> list[str]:
        """The screen as plain text (tests, snapshots)."""
        return [line.rstrip() for line in self.screen.display]

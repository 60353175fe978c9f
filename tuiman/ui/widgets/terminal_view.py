"""A pty process drawn through its terminal emulator (docs/terminals.md#in-the-ui): colours,
cursor, full-screen programs, the scrollback under the mouse wheel, and typing mode.

In typing mode every key goes to the process (`check_consume_key` takes them from the screen's
and the app's bindings, ctrl+c included) until the stop-typing key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import ClassVar

from pyte.screens import Char
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import var
from textual.strip import Strip
from textual.widget import Widget

from tuiman.ui.terminal_buffer import TerminalBuffer
from tuiman.ui.typing_keys import typed_text

WHEEL_LINES = 3
STOP_TYPING_KEY = "ctrl+right_square_bracket"
_BRIGHT = "bright"
_NAMES = {"brown": "yellow"}


def _colour(name: str) -> str | None:
    if name == "default":
        return None
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return f"#{name}"
    if name.startswith(_BRIGHT):
        base = name[len(_BRIGHT) :]
        return f"bright_{_NAMES.get(base, base)}"
    return _NAMES.get(name, name)


@lru_cache(maxsize=4096)
def cell_style(
    fg: str,
    bg: str,
    bold: bool,
    italics: bool,
    underscore: bool,
    strikethrough: bool,
    reverse: bool,
) -> Style:
    return Style(
        color=_colour(fg),
        bgcolor=_colour(bg),
        bold=bold or None,
        italic=italics or None,
        underline=underscore or None,
        strike=strikethrough or None,
        reverse=reverse or None,
    )


CURSOR = Style(reverse=True)


def line_strip(line: Mapping[int, Char], cols: int, cursor_x: int | None) -> Strip:
    """One emulator row as a Strip: runs of equal style joined into one segment."""
    segments: list[Segment] = []
    text: list[str] = []
    current: Style | None = None
    blank = " "
    for x in range(cols):
        char = line.get(x)
        if char is None:
            data, style = blank, cell_style("default", "default", False, False, False, False, False)
        else:
            data = char.data
            if not data:
                continue  # the right half of a wide character drawn in the cell before
            if not data.isprintable():
                data = "\ufffd"  # never a control character of a child's to the real terminal
            style = cell_style(
                char.fg,
                char.bg,
                char.bold,
                char.italics,
                char.underscore,
                char.strikethrough,
                char.reverse,
            )
        if x == cursor_x:
            style = style + CURSOR
        if style is not current:
            if text:
                segments.append(Segment("".join(text), current))
            text, current = [], style
        text.append(data)
    if text:
        segments.append(Segment("".join(text), current))
    return Strip(segments, cols)


class TerminalView(Widget, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            STOP_TYPING_KEY,
            "stop_typing",
            "stop typing",
            key_display="^]",
            id="stop-typing",
            tooltip="Leave typing mode: keys act on tuiman again",
        ),
    ]

    typing: var[bool] = var(False)

    class Resized(Message):
        """The emulator's area changed size: the process' terminal should follow."""

        def __init__(self, rows: int, cols: int) -> None:
            super().__init__()
            self.rows, self.cols = rows, cols

    class TypingChanged(Message):
        def __init__(self, typing: bool) -> None:
            super().__init__()
            self.typing = typing

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.buffer: TerminalBuffer | None = None  # only while a pty process is shown
        self.back = 0  # lines scrolled back into the scrollback
        self.send: Callable[[str], None] | None = None
        self._strips: dict[int, Strip] = {}
        self._cursor_rows: set[int] = set()
        self.on_status: Callable[[], None] | None = None  # the pane's subtitle shows `status`

    # -- content ------------------------------------------------------------------------------
    def attach(self, buffer: TerminalBuffer | None) -> None:
        rows, cols = self.size.height, self.size.width
        if buffer is not None and rows > 0 and cols > 0:
            buffer.resize(rows, cols)  # made before this widget was laid out, or in a thread
        self.buffer = buffer
        self.back = 0
        self._strips.clear()
        self.refresh()

    def feed(self, text: str) -> None:
        buffer = self.buffer
        if buffer is None:
            return
        history = buffer.history_size
        buffer.feed(text)
        dirty = buffer.take_dirty()
        if self.back:
            self.back = min(self.back + buffer.history_size - history, buffer.history_size)
            self._strips.clear()
            self.refresh()
            return
        if buffer.history_size != history or len(dirty) >= buffer.rows:
            self._strips.clear()
            self.refresh()
            return
        for y in dirty:
            self._strips.pop(y, None)
        cursor = buffer.cursor()
        if cursor is not None:  # the old cursor row, and the new one
            self._strips.pop(cursor[1], None)
        for y in self._cursor_rows:
            self._strips.pop(y, None)
        self._cursor_rows = {cursor[1]} if cursor else set()
        self.refresh()

    def status(self) -> str:
        """The pane's subtitle: typing or not, and how far back the view is scrolled."""
        parts = [f"{self.back} lines back · wheel down to return"] if self.back else []
        if self.typing:
            parts.append("TYPING · keys go to the process · ^] stops")
        return "  ".join(parts) or "t to type · wheel scrolls back"

    def text_lines(self) -> list[str]:
        return self.buffer.text_lines() if self.buffer is not None else []

    # -- drawing ------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        buffer = self.buffer
        width = self.size.width
        if buffer is None or y >= buffer.rows:
            return Strip.blank(width)
        strip = self._strips.get(y)
        if strip is None:
            cursor = buffer.cursor() if self.back == 0 else None
            cursor_x = cursor[0] if cursor is not None and cursor[1] == y else None
            strip = line_strip(buffer.line(y, self.back), buffer.cols, cursor_x)
            self._strips[y] = strip
        return strip.crop_extend(0, width, None)

    def on_resize(self, event: events.Resize) -> None:
        rows, cols = event.size.height, event.size.width
        if rows <= 0 or cols <= 0:
            return
        if self.buffer is not None:
            self.buffer.resize(rows, cols)
            self._strips.clear()
        self.post_message(self.Resized(rows, cols))

    # -- scrollback ---------------------------------------------------------------------------
    def _scroll_back(self, lines: int) -> None:
        if self.buffer is None:
            return
        back = max(0, min(self.back + lines, self.buffer.history_size))
        if back != self.back:
            self.back = back
            self._strips.clear()
            self.refresh()
            self._status_changed()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_back(WHEEL_LINES)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_back(-WHEEL_LINES)

    # -- typing mode --------------------------------------------------------------------------
    def start_typing(self) -> None:
        self.typing = True
        self.focus()

    def action_stop_typing(self) -> None:
        self.typing = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_typing":
            return self.typing
        return True

    def watch_typing(self, typing: bool) -> None:
        self.set_class(typing, "-typing")
        self._status_changed()
        self._strips.clear()
        self.refresh()
        self.refresh_bindings()
        self.post_message(self.TypingChanged(typing))

    def _status_changed(self) -> None:
        if self.on_status is not None:
            self.on_status()

    def on_blur(self) -> None:
        self.typing = False

    def _is_stop_key(self, key: str) -> bool:
        keys = self.app._keymap.get("stop-typing", STOP_TYPING_KEY)  # normalized key names
        return key in {k.strip() for k in keys.split(",")}

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return self.typing and not self._is_stop_key(key)

    async def _on_key(self, event: events.Key) -> None:
        if not self.typing or self._is_stop_key(event.key):
            return
        event.stop()
        event.prevent_default()
        text = typed_text(event.key, event.character, terminal=True)
        if text is not None:
            self._type(text)

    def _on_paste(self, event: events.Paste) -> None:
        if self.typing:
            event.stop()
            self._type(event.text)

    def _type(self, text: str) -> None:
        if self.back:
            self._scroll_back(-self.back)
        if self.send is not None:
            self.send(text)

"""A bounded, scrolling list of lines rendered lazily with the line API.

Only the lines on screen are turned into Rich text (and cached), so appending thousands of
lines per second costs a deque append each. The view follows the end until the user scrolls
up, and follows again once they scroll back to the bottom (or press `end`). While it does not
follow it holds still: new lines wait aside (as many as the view keeps) and are counted, and
join the view when it follows again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from tuiman.ui.palette import Palette, palette_of

Item = TypeVar("Item")


class LineView(ScrollView, Generic[Item], can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end", "follow_end", "follow", show=False),
    ]

    follow: var[bool] = var(True)

    def __init__(
        self, max_lines: int, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: deque[Item] = deque(maxlen=max_lines)
        self._first = 0  # absolute number of _lines[0]: keys the render cache across trims
        self._width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(512)
        self._moving = False  # set while the view scrolls itself
        self._held = False  # covered by a dialog: appends update the data, not the screen
        self._held_trimmed = 0
        self._pending: deque[Item] = deque(maxlen=max_lines)  # arrived while paused
        self.arrived_paused = 0  # lines that arrived since the view stopped following

    # -- to implement -------------------------------------------------------------------------
    def render_item(self, item: Item, number: int, palette: Palette) -> Text:
        raise NotImplementedError

    def item_width(self, item: Item) -> int:
        return 0

    # -- content ------------------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def items(self) -> deque[Item]:
        return self._lines

    @property
    def max_lines(self) -> int:
        return self._lines.maxlen or 0

    @property
    def pending(self) -> deque[Item]:
        """Lines that arrived while paused, not shown yet."""
        return self._pending

    @property
    def dropped_paused(self) -> int:
        """Of what is shown and what arrived while paused, how many lines the view cannot keep:
        the oldest shown ones go when it follows again."""
        return max(self.line_count + self.arrived_paused - self.max_lines, 0)

    def append(self, items: Iterable[Item]) -> None:
        if not self.follow:
            arrived = list(items)
            self._pending.extend(arrived)
            self.arrived_paused += len(arrived)
            return
        lines = self._lines
        before = len(lines)
        maxlen = lines.maxlen or 0
        added = 0
        width = self._width
        for item in items:
            lines.append(item)
            added += 1
            width = max(width, self.item_width(item))
        if not added:
            return
        trimmed = max(before + added - maxlen, 0) if maxlen else 0
        self._first += trimmed
        self._width = width
        if self._held:
            self._held_trimmed += trimmed
            return
        self._show_appended(trimmed)

    def _show_appended(self, trimmed: int) -> None:
        self._set_virtual_size(self._width, len(self._lines))
        if self.follow:
            self._scroll_to_end()
        elif trimmed:
            # Keep the text under the reader's eyes while old lines fall off the top.
            self._move_to(self.scroll_y - trimmed)
        self.refresh()

    @property
    def held(self) -> bool:
        return self._held

    def hold(self, held: bool) -> None:
        """Stop (or resume) showing appended lines. A dialog screen dims what is under it by
        blending it again at every repaint: a pane printing 10 000 lines/s under the signal
        picker cost as much CPU again as the whole UI. Released, the pane catches up at once."""
        if held == self._held:
            return
        self._held = held
        if not held:
            trimmed, self._held_trimmed = self._held_trimmed, 0
            self._show_appended(trimmed)

    def replace_at(self, index: int, item: Item) -> None:
        """Put `item` in place of line `index` (0 = oldest kept), redrawing only that line."""
        self._lines[index] = item
        self._width = max(self._width, self.item_width(item))
        self._cache.discard(self._first + index)
        if not self._held:
            self.refresh_lines(index, 1)

    def replace(self, items: Iterable[Item]) -> None:
        self._pending.clear()
        self.arrived_paused = 0
        self._lines.clear()
        self._first = 0
        self._width = 0
        self._held_trimmed = 0
        self._cache.clear()
        self._set_virtual_size(0, 0)
        self.follow = True
        LineView.append(self, items)
        self.refresh()

    def invalidate(self) -> None:
        """Drop cached renderings (theme or highlight changed)."""
        self._cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # -- scrolling ----------------------------------------------------------------------------
    def _move_to(self, y: float) -> None:
        self._moving = True
        try:
            self.scroll_to(y=max(y, 0), animate=False, immediate=True)
        finally:
            self._moving = False

    def _set_virtual_size(self, width: int, height: int) -> None:
        # Assigning virtual_size re-lays out the whole screen (the reactive is declared with
        # layout=True); a scroll view only needs its scrollbars updated, which _scroll_update
        # does (Textual 8.2.8, pinned). A scrollbar appearing still triggers its own layout.
        size = Size(width, height)
        if size != self.virtual_size:
            self.set_reactive(Widget.virtual_size, size)
            self._moving = True  # clamping the offset to the new size is not the user scrolling
            try:
                self._scroll_update(size)
            finally:
                self._moving = False

    @property
    def _last_top(self) -> int:
        """The scroll offset that shows the last line at the bottom."""
        return max(len(self._lines) - self.scrollable_content_region.height, 0)

    def _scroll_to_end(self) -> None:
        self._move_to(self._last_top)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._moving:
            return
        if new_value >= self._last_top:
            self.follow = True  # at the last line (also after Textual clamps on a resize)
        elif new_value < old_value:
            self.follow = False

    def on_resize(self) -> None:
        if self.follow:
            self._scroll_to_end()

    def watch_follow(self, following: bool) -> None:
        if following and self._pending:
            pending = list(self._pending)
            self._pending.clear()
            self.arrived_paused = 0
            self.append(pending)
        elif following:
            self.arrived_paused = 0

    def action_follow_end(self) -> None:
        self.follow = True
        self._scroll_to_end()

    def scroll_to_row(self, index: int) -> None:
        """Show line `index` at the top; stop following."""
        self.follow = False
        self._move_to(index)
        self.refresh()

    def scroll_to_line(self, index: int) -> None:
        """Bring line `index` (0 = oldest kept) into the middle of the view; stop following."""
        self.follow = False
        self._move_to(index - self.scrollable_content_region.height // 2)
        self.refresh()

    # -- rendering ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base_style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base_style)
        number = self._first + index
        strip = self._cache.get(number)
        if strip is None:
            text = self.render_item(self._lines[index], index, palette_of(self.app))
            text.no_wrap = True
            text.stylize_before(base_style)
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._cache[number] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base_style).apply_offsets(
            scroll_x, index
        )


def follow_status(view: LineView[Any]) -> str:
    """A pane's subtitle part: following, or paused with what arrived since; and how much it
    keeps."""
    keeps = f"keeps {view.max_lines} lines"
    if view.follow:
        return f"following · {keeps}"
    arrived = view.arrived_paused
    if not arrived:
        return f"paused · end to follow · {keeps}"
    dropped = view.dropped_paused
    lost = f", {dropped} oldest will drop" if dropped else ""
    return f"paused · {arrived} new{lost} · end to follow · {keeps}"

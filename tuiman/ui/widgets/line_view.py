"""A bounded, scrolling list of lines rendered lazily with the line API.

Only the lines on screen are turned into Rich text (and cached), so appending thousands of
lines per second costs a deque append each. The view follows the end until the user scrolls
up, and follows again once they scroll back to the bottom (or press `end`). While it does not
follow it holds still: new lines wait aside (as many as the view keeps) and are counted, and
join the view when it follows again.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable
from itertools import accumulate
from typing import Any, ClassVar, Generic, TypeVar

from rich.style import Style
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
        # Wrapping (a long line folds into rows at the pane width): kept apart so the one row
        # per line path stays as cheap as without it.
        self._wrap = False
        self._wrap_width = 0
        self._expand = False  # an item may draw as several lines (pretty-printed JSON)
        self._rows: deque[int] = deque(maxlen=max_lines)  # rows of each line, while wrapping
        self._total_rows = 0
        self._row_starts: list[int] | None = None  # first row of each line; None: rebuild
        self._folded: LRUCache[int, list[Strip]] = LRUCache(512)

    # -- to implement -------------------------------------------------------------------------
    def render_item(self, item: Item, number: int, palette: Palette) -> Text:
        raise NotImplementedError

    def item_width(self, item: Item) -> int:
        return 0

    def item_cells(self, item: Item) -> int:
        """Cells the rendered item takes on one unwrapped row (wrapping folds it)."""
        return self.item_width(item)

    def item_rows(self, item: Item, width: int) -> int:
        """Rows the item takes, folded at `width` (0: not folded). An item drawn as several
        lines (render_item's text has newlines) must say so here, line by line."""
        return rows_of(self.item_cells(item), width)

    @property
    def _multi(self) -> bool:
        """Rows are not lines: counted per line and looked up."""
        return self._wrap or self._expand

    @property
    def _fold_width(self) -> int:
        return self._wrap_width if self._wrap else 0

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
        if self._multi:
            self._append_wrapped(items)
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

    def _append_wrapped(self, items: Iterable[Item]) -> None:
        lines, rows = self._lines, self._rows
        maxlen = lines.maxlen or 0
        width = self._fold_width
        trimmed_rows = 0
        added = 0
        for item in items:
            if len(lines) == maxlen:
                trimmed_rows += rows[0]
                self._first += 1
            lines.append(item)
            self._width = max(self._width, self.item_width(item))
            count = self.item_rows(item, width)
            rows.append(count)
            self._total_rows += count
            added += 1
        if not added:
            return
        self._total_rows -= trimmed_rows
        self._row_starts = None
        if self._held:
            self._held_trimmed += trimmed_rows
            return
        self._show_appended(trimmed_rows)

    @property
    def wrap(self) -> bool:
        return self._wrap

    def set_wrap(self, wrap: bool) -> None:
        """Fold long lines at the pane width (True) or scroll them sideways."""
        if wrap == self._wrap:
            return
        top = self._line_at_row(int(self.scroll_y))
        self._wrap = wrap
        self._rewrap(self.scrollable_content_region.width)
        if not self.follow:
            self._move_to(self._row_of_line(top))

    def set_expand(self, expand: bool) -> None:
        """Let items draw as several lines (item_rows says how many)."""
        if expand == self._expand:
            return
        top = self._line_at_row(int(self.scroll_y))
        self._expand = expand
        self._rewrap(self.scrollable_content_region.width)
        if not self.follow:
            self._move_to(self._row_of_line(top))

    def _rewrap(self, width: int) -> None:
        """Count the rows of every line again (wrapping switched on, or the width changed)."""
        self._rows.clear()
        self._total_rows = 0
        self._row_starts = None
        self._held_trimmed = 0
        self._folded.clear()
        self._cache.clear()
        if self._multi:
            self._wrap_width = max(width, 1)
            fold = self._fold_width
            self._rows.extend(self.item_rows(item, fold) for item in self._lines)
            self._total_rows = sum(self._rows)
            self._set_virtual_size(0 if self._wrap else self._width, self._total_rows)
        else:
            self._set_virtual_size(self._width, len(self._lines))
        if self.follow:
            self._scroll_to_end()
        self.refresh()

    @property
    def content_rows(self) -> int:
        return self._total_rows if self._multi else len(self._lines)

    def _starts(self) -> list[int]:
        starts = self._row_starts
        if starts is None:
            starts = self._row_starts = list(accumulate(self._rows, initial=0))
        return starts

    def _row_of_line(self, index: int) -> int:
        if not self._multi:
            return index
        starts = self._starts()
        return starts[min(max(index, 0), len(starts) - 1)]

    def _line_at_row(self, row: int) -> int:
        if not self._multi:
            return row
        return max(bisect_right(self._starts(), row) - 1, 0)

    def _show_appended(self, trimmed: int) -> None:
        if self._multi:
            self._set_virtual_size(0 if self._wrap else self._width, self._total_rows)
        else:
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
        if self._multi:
            self._folded.discard(self._first + index)
            count = self.item_rows(item, self._fold_width)
            if count != self._rows[index]:
                self._total_rows += count - self._rows[index]
                self._rows[index] = count
                self._row_starts = None
                if not self._held:
                    self._show_appended(0)
                return
            if not self._held:
                self.refresh_lines(self._row_of_line(index), count)
            return
        if not self._held:
            self.refresh_lines(index, 1)

    def replace(self, items: Iterable[Item]) -> None:
        self._pending.clear()
        self.arrived_paused = 0
        self._lines.clear()
        self._rows.clear()
        self._total_rows = 0
        self._row_starts = None
        self._folded.clear()
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
        self._folded.clear()
        self.refresh()

    def reformat(self) -> None:
        """Drop cached renderings and row counts (what a line looks like changed)."""
        if self._multi:
            self._rewrap(self.scrollable_content_region.width)
        else:
            width = 0
            for item in self._lines:
                width = max(width, self.item_width(item))
            self._width = width
            self._set_virtual_size(width, len(self._lines))
            self.invalidate()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._folded.clear()

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
        return max(self.content_rows - self.scrollable_content_region.height, 0)

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
        if self._wrap and self.scrollable_content_region.width != self._wrap_width:
            self._rewrap(self.scrollable_content_region.width)
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
        self._move_to(self._row_of_line(index))
        self.refresh()

    def scroll_to_line(self, index: int) -> None:
        """Bring line `index` (0 = oldest kept) into the middle of the view; stop following."""
        self.follow = False
        self._move_to(self._row_of_line(index) - self.scrollable_content_region.height // 2)
        self.refresh()

    # -- rendering ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        if self._multi:
            return self._render_wrapped_row(y)
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base_style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base_style)
        number = self._first + index
        strip = self._cache.get(number)
        if strip is None:
            strip = self._render_strip(index, base_style)
            self._cache[number] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base_style).apply_offsets(
            scroll_x, index
        )

    def _render_strip(self, index: int, base_style: Style) -> Strip:
        text = self.render_item(self._lines[index], index, palette_of(self.app))
        text.no_wrap = True
        text.stylize_before(base_style)
        return Strip(text.render(self.app.console), text.cell_len)

    def _render_wrapped_row(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base_style = self.rich_style
        if self._wrap and width != self._wrap_width:
            self._rewrap(width)
        scroll_x = 0 if self._wrap else int(self.scroll_x)
        row = int(self.scroll_y) + y
        if row >= self._total_rows:
            return Strip.blank(width, base_style)
        index = self._line_at_row(row)
        part = row - self._starts()[index]
        number = self._first + index
        rows = self._folded.get(number)
        if rows is None:
            rows = self._render_rows(index, width if self._wrap else 0, base_style)
            self._folded[number] = rows
        if part >= len(rows):
            return Strip.blank(width, base_style)
        return (
            rows[part]
            .crop_extend(scroll_x, scroll_x + width, base_style)
            .apply_offsets(scroll_x, index)
        )

    def _render_rows(self, index: int, fold: int, base_style: Style) -> list[Strip]:
        text = self.render_item(self._lines[index], index, palette_of(self.app))
        text.no_wrap = True
        text.stylize_before(base_style)
        console = self.app.console
        parts = text.split("\n") if "\n" in text.plain else [text]
        rows: list[Strip] = []
        for part in parts:
            strip = Strip(part.render(console), part.cell_len)
            length = strip.cell_length
            if fold and length > fold:
                # Folded cell by cell as a terminal wraps, so a line's rows are known without
                # rendering it (item_cells, item_rows).
                rows.extend(strip.divide([*range(fold, length, fold), length]))
            else:
                rows.append(strip)
        return rows


def rows_of(cells: int, width: int) -> int:
    return max(-(-cells // width), 1) if width > 0 else 1


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

"""A DataTable kept in sync with a list of rows by touching only the cells that changed.

Rows are described as tuples of `Cell` (text, colour role); the table remembers what it last
wrote per row key, so a refresh costs one tuple comparison per row, and a changed row costs the
repaint of that one line. Columns have fixed widths: no re-measuring on updates (textual#6457).

DataTable itself re-renders every visible cell through Rich after any `update_cell` (its caches
are keyed on a table-wide update counter): with 100 processes whose ages tick each second that
was 40 ms a frame at 200x60. Here body lines are drawn from one cached strip per row, rebuilt
only when that row's cells, position, cursor, hover or styles change.

Textual pin: this module leans on DataTable and Widget internals (Textual 8.2.8), none of them
public API. A Textual bump must re-check each one; `tests/ui/test_live_table_parity.py` draws
the same rows in a LiveTable and in a stock DataTable and fails when they stop matching.
- `_data` (row key -> column key -> cell): written in place by `_update_row`, read by
  `_row_strip`, to change a cell without `update_cell`'s table-wide re-render. It is a
  `_RowData` (a dict whose `[]`, `get`, `del` and `clear` bring an off-screen row up to date
  first): DataTable must keep reading rows through those, not through `values()`/`items()`
  (`sort` does, for the first column only, which never changes).
- `_row_locations` (row key <-> row index, `.get` and `.get_key`).
- `_get_styles_to_render_cell(...)` (positional arguments: header, row label, fixed, hover,
  cursor, show_cursor, show_hover_cursor, foreground/background CSS priority) and
  `_get_row_style(row_index, base_style)`: the cursor, hover and row styles DataTable uses.
- `_show_hover_cursor`, `_should_render_row_labels`, `_pseudo_class_state` (set by
  `DataTable.render_lines` before the lines are drawn): part of the row strip's cache key.
- `_clear_caches()` (overridden: DataTable calls it whenever its own caches go stale).
- `_scroll_update(size)`: Widget's reaction to `virtual_size`, redeclared here with
  `layout=False`.
- Behaviour, not names: `remove_row` asks for a screen-wide layout (suppressed in `refresh`);
  `render_line(y)` is called per visible line with y relative to the widget; `sort(key=...)`
  hands the key function the sort column's cell; the per-cell mouse meta is
  `{"row", "column"}` and the fill past the last column carries `out_of_bounds`.
- `_update_dimensions(new_rows)` (overridden: nothing to measure with fixed widths) and what
  `add_row` does, repeated once for many rows by `_add_rows`: `_row_locations`, `_data`,
  `rows` (`Row(key, height, label, auto_height)`), `_new_rows`,
  `_require_update_dimensions`, `_highlight_cursor()`, `_update_count`.
- `watch_hover_coordinate(old, value)` (extended: the tooltip of `TOOLTIP_COLUMNS`).
- `switch` swaps whole containers: DataTable reaches `_data`, `rows` and `_row_locations`
  through `self` each time (`clear` empties the current ones in place, `sort` assigns a new
  `_row_locations`), so a set kept aside can stand in; then `_new_rows`, `_update_count`
  and `_update_dimensions` as above.

`tuiman/ui/strip_cycles.py` also replaces `Strip.crop_extend`, `Strip.divide` and
`LRUCache.clear` (same results, no reference cycles); `tests/ui/test_strip_cycles.py` checks
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, ClassVar, Self

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, DuplicateKey, RowDoesNotExist, RowKey
from textual.widgets.data_table import Row as TableRow

from tuiman.ui.palette import Palette, palette_of
from tuiman.ui.terminal_text import safe_text

Cell = tuple[str, str]  # (text, palette role)
Row = tuple[str, tuple[Cell, ...]]  # (row key, cells)
MASS_REMOVAL = 64  # removing more rows than this at once is cheaper as clear + add
STASHES_KEPT = 4  # sets of rows kept aside by `switch` (the most recently left ones)


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    width: int


class _RowData(dict[RowKey, dict[ColumnKey, Text]]):
    """DataTable's `_data`, in which a row off screen may lag behind what the table shows:
    its Texts are brought up to date when the row is read (drawn, looked up), so a refresh
    that changes 5 000 rows (an age crossing a minute) makes the Texts of the ~30 on screen."""

    def __init__(self, table: LiveTable) -> None:
        super().__init__()
        self.table = table
        self.behind: dict[RowKey, tuple[Cell, ...]] = {}  # row -> the cells its Texts show

    def __getitem__(self, key: RowKey) -> dict[ColumnKey, Text]:
        if self.behind and key in self.behind:
            self.table._catch_up(key, self.behind.pop(key))
        return super().__getitem__(key)

    def get(self, key: RowKey, default: Any = None) -> Any:
        if self.behind and key in self.behind:
            self.table._catch_up(key, self.behind.pop(key))
        return super().get(key, default)

    def __delitem__(self, key: RowKey) -> None:
        self.behind.pop(key, None)
        super().__delitem__(key)

    def clear(self) -> None:
        self.behind.clear()
        super().clear()

    def catch_up(self) -> None:
        while self.behind:
            key, cells = self.behind.popitem()
            self.table._catch_up(key, cells)


@dataclass
class _Stash:
    """What `switch` keeps aside: the DataTable's own row containers and ours."""

    specs: list[ColumnSpec]
    data: _RowData
    rows: dict[RowKey, TableRow]
    locations: Any  # DataTable's TwoWayDict[RowKey, int]
    shown: dict[str, tuple[Cell, ...]]
    order: list[str]
    strips: dict[RowKey, tuple[tuple[Any, ...], Strip]]
    versions: dict[RowKey, int]
    cursor_row: int
    scroll_y: float


class LiveTable(DataTable[Text]):
    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home,g", "first_row", "first row", show=False),
        Binding("end,G", "last_row", "last row", show=False),
    ]
    # Columns whose full text shows as a tooltip while the mouse is over the cell (a long
    # reason is cut at the column's width).
    TOOLTIP_COLUMNS: ClassVar[frozenset[str]] = frozenset()
    _removing = False  # inside remove_row (a class default: DataTable may refresh during __init__)

    # DataTable assigns virtual_size whenever rows come or go, and Widget's reactive re-lays
    # out the whole screen each time (a churning watcher: every batch). A table of fixed height
    # only needs its scrollbars updated; one whose height follows its rows (the narrow layout)
    # still asks for the layout.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)
        if self._height_follows_rows:
            self.refresh(layout=True)

    @property
    def _height_follows_rows(self) -> bool:
        height = self.styles.height
        return height is not None and height.is_auto

    def clear(self, columns: bool = False) -> Self:
        self._row_versions.clear()
        return super().clear(columns)

    def remove_row(self, row_key: RowKey | str) -> None:
        # DataTable.remove_row asks for a screen-wide layout as well; see virtual_size above.
        key = RowKey(row_key) if isinstance(row_key, str) else row_key
        self._row_strips.pop(key, None)
        self._row_versions.pop(key, None)
        self._removing = True
        try:
            super().remove_row(row_key)
        finally:
            self._removing = False

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        if self._removing and not self._height_follows_rows:
            layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def __init__(self, *, id: str | None = None) -> None:
        # Before DataTable's __init__: its reactive watchers already clear caches.
        self._row_strips: dict[RowKey, tuple[tuple[Any, ...], Strip]] = {}
        self._row_versions: dict[RowKey, int] = {}
        self._frame_style: Style | None = None
        self._tooltip_shown: str | None = None
        # No cell padding: each column's width includes one blank separating it from the next.
        super().__init__(id=id, cursor_type="row", cell_padding=0)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._specs: list[ColumnSpec] = []
        self._stashes: dict[str, _Stash] = {}  # by `switch` key, least recently left first
        self._data = self._row_data = _RowData(self)
        self.updates = 0  # cells written since mount (for tests and the bench)

    @property
    def _column_keys(self) -> list[str]:
        return [spec.key for spec in self._specs]

    def on_mount(self) -> None:
        for column in self.COLUMNS:
            self.add_spec(column)

    def add_spec(self, column: ColumnSpec) -> None:
        self._row_data.catch_up()  # a row behind has one cell fewer than it shows from here on
        self.add_column(column.label, width=column.width, key=column.key)
        self._specs.append(column)
        self._shown = {key: (*cells, ("", "plain")) for key, cells in self._shown.items()}

    def remove_spec(self, key: str) -> None:
        index = self._column_keys.index(key)
        self._row_data.catch_up()
        self.remove_column(key)
        del self._specs[index]
        self._shown = {k: cells[:index] + cells[index + 1 :] for k, cells in self._shown.items()}

    def set_width(self, key: str, width: int) -> None:
        """Change a column's width; rows are re-added by the next sync (names rarely change)."""
        specs = [ColumnSpec(c.key, c.label, width) if c.key == key else c for c in self._specs]
        if specs == self._specs:
            return
        self.set_specs(specs)

    @property
    def specs(self) -> list[ColumnSpec]:
        return list(self._specs)

    def set_specs(self, specs: list[ColumnSpec]) -> None:
        """New columns; rows are re-added by the next sync."""
        self._stashes.clear()
        self.clear(columns=True)
        self._shown.clear()
        self._order = []
        self._specs = []
        for column in specs:
            self.add_spec(column)

    def switch(self, leaving: str | None, entering: str | None) -> None:
        """Keep the rows shown for `leaving` aside and bring back those last shown for
        `entering` (with its cursor and scroll position), for the next sync to bring up to
        date: a move between two watchers then costs the cells that changed meanwhile, not
        the building of every row (5 000 processes: every cell a new Text). Only the
        containers change hands; nothing is copied."""
        if leaving is not None and self.row_count:
            self._stashes.pop(leaving, None)
            self._stashes[leaving] = _Stash(
                list(self._specs),
                self._row_data,
                self.rows,
                self._row_locations,
                self._shown,
                self._order,
                self._row_strips,
                self._row_versions,
                self.cursor_row,
                self.scroll_y,
            )
            while len(self._stashes) > STASHES_KEPT:
                del self._stashes[next(iter(self._stashes))]
        stash = None if entering is None else self._stashes.pop(entering, None)
        if stash is None or stash.specs != self._specs:
            stash = _Stash(
                list(self._specs),
                _RowData(self),
                {},
                type(self._row_locations)({}),
                {},
                [],
                {},
                {},
                0,
                0,
            )
        self._data = self._row_data = stash.data
        self.rows = stash.rows
        self._row_locations = stash.locations
        self._shown = stash.shown
        self._order = stash.order
        self._row_strips = stash.strips
        self._row_versions = stash.versions
        self._new_rows = set()
        self._clear_caches()
        self._update_count += 1
        self._update_dimensions(())  # the virtual size, now: the scroll position needs it
        self.hover_coordinate = Coordinate(0, 0)
        self.cursor_coordinate = Coordinate(stash.cursor_row, 0)
        self.scroll_to(y=stash.scroll_y, animate=False, immediate=True)
        self.refresh()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:
            return None
        return None if row_key.value is None else str(row_key.value)

    def select_key(self, key: str) -> None:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return
        if index != self.cursor_row:
            self.move_cursor(row=index)

    def shows(self, key: str) -> bool:
        """Whether a row with this key is in the table."""
        return key in self._shown

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def sync(self, rows: Sequence[Row]) -> None:
        """Make the table show `rows`, in that order, writing only what changed."""
        palette = palette_of(self.app)
        selected = self.selected_key
        wanted = {key for key, _ in rows}
        stale = [key for key in self._shown if key not in wanted]
        if len(stale) > MASS_REMOVAL and len(stale) > len(self._shown) // 2:
            self.clear()
            self._shown.clear()
        else:
            for key in stale:
                self.remove_row(key)
                del self._shown[key]
        changed: list[tuple[int, int, int]] = []
        added: list[tuple[str, list[Text]]] = []
        top = int(self.scroll_offset.y)
        bottom = top + self.size.height - (self.header_height if self.show_header else 0)
        behind = self._row_data.behind
        for key, cells in rows:
            previous = self._shown.get(key)
            if previous is None:
                added.append((key, [self._text(cell, palette) for cell in cells]))
            elif previous != cells:
                row_key = RowKey(key)
                index = self._row_locations.get(row_key)
                if index is not None and not top <= index < bottom:  # off screen: when read
                    behind.setdefault(row_key, previous)
                    self._row_versions[row_key] = self._row_versions.get(row_key, 0) + 1
                else:
                    span = self._update_row(key, previous, cells, palette)
                    if span is not None:
                        changed.append(span)
            self._shown[key] = cells
        self._add_rows(added)
        self._repaint_cells(changed)
        order = [key for key, _ in rows]
        if order != self._order:  # rows came or went, or the sort order moved them
            self._reorder(order)
        self._order = order
        if selected is not None and selected in wanted:
            self.select_key(selected)
        if self.mouse_hover and self.TOOLTIP_COLUMNS:
            self._show_tooltip_at(self.hover_coordinate)  # the hovered cell's text changed

    def watch_hover_coordinate(self, old: Coordinate, value: Coordinate) -> None:
        super().watch_hover_coordinate(old, value)
        if self.TOOLTIP_COLUMNS:
            self._show_tooltip_at(value)

    def _show_tooltip_at(self, at: Coordinate) -> None:
        text = self._tooltip_text(at)
        if text != self._tooltip_shown:
            self._tooltip_shown = text
            # Plain Text: no markup in hook, config or child text; no terminal sequences.
            self.tooltip = None if text is None else Text(safe_text(text))

    def _tooltip_text(self, at: Coordinate) -> str | None:
        if not 0 <= at.column < len(self._specs):
            return None
        if self._specs[at.column].key not in self.TOOLTIP_COLUMNS:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(Coordinate(at.row, 0))
        except Exception:  # the row went away under the mouse
            return None
        cells = self._shown.get(str(row_key.value))
        if cells is None or at.column >= len(cells):
            return None
        return cells[at.column][0] or None

    def _add_rows(self, rows: list[tuple[str, list[Text]]]) -> None:
        """DataTable.add_row, once for many rows: add_row re-validates the cursor and looks up
        the column order per row, which dominated filling a 5 000-row table. Rows are one line
        high and have no label (as this table always adds them)."""
        if not rows:
            return
        was_empty = self.row_count == 0
        column_keys = [column.key for column in self.ordered_columns]
        for key, texts in rows:
            row_key = RowKey(key)
            if row_key in self._row_locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            self._row_locations[row_key] = self.row_count
            self._data[row_key] = dict(zip_longest(column_keys, texts))
            self.rows[row_key] = TableRow(row_key, 1, None, False)
            self._new_rows.add(row_key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and column_keys and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()

    def repaint_all(self) -> None:
        """Rewrite every cell (the theme changed)."""
        palette = palette_of(self.app)
        self._row_strips.clear()
        self._stashes.clear()  # their cells have the old theme's colours
        for key, cells in self._shown.items():
            for column, cell in zip(self._column_keys, cells, strict=False):
                self.update_cell(key, column, self._text(cell, palette))

    def _catch_up(self, row_key: RowKey, behind: tuple[Cell, ...]) -> None:
        """Bring a row's Texts from the cells they show (`behind`) to the shown ones."""
        # DataTable also looks rows up by their plain string (a RowKey hashes alike).
        cells = self._shown.get(str(getattr(row_key, "value", row_key)))
        data = dict.get(self._row_data, row_key)  # not through _RowData.get: no catching up
        if cells is None or data is None:
            return
        palette = palette_of(self.app)
        for column, old, new in zip(self._column_keys, behind, cells, strict=False):
            if old != new:
                data[ColumnKey(column)] = self._text(new, palette)
                self.updates += 1

    def _update_row(
        self, key: str, previous: tuple[Cell, ...], cells: tuple[Cell, ...], palette: Palette
    ) -> tuple[int, int, int] | None:
        """Write the changed cells; return (row index, first, last changed column) to repaint.

        DataTable.update_cell would repaint, and re-render, the whole table for each cell.
        """
        row_key = RowKey(key)
        data = self._data.get(row_key)
        if data is None:
            return None
        first = last = -1
        for index, (column, old, new) in enumerate(
            zip(self._column_keys, previous, cells, strict=False)
        ):
            if old != new:
                data[ColumnKey(column)] = self._text(new, palette)
                self.updates += 1
                first = index if first < 0 else first
                last = index
        self._row_versions[row_key] = self._row_versions.get(row_key, 0) + 1
        row_index = self._row_locations.get(row_key)
        return None if row_index is None or first < 0 else (row_index, first, last)

    def _repaint_cells(self, changed: list[tuple[int, int, int]]) -> None:
        """Mark dirty only the changed cells that are on screen: the compositor then renders,
        and the terminal receives, those few cells instead of whole lines."""
        if not changed:
            return
        scroll_x, scroll_y = self.scroll_offset
        width, height = self.size
        header = self.header_height if self.show_header else 0
        edges = [0]
        for spec in self._specs:
            edges.append(edges[-1] + spec.width)
        for row_index, first, last in changed:
            y = header + row_index - scroll_y
            if header <= y < height:
                x0, x1 = edges[first] - scroll_x, edges[last + 1] - scroll_x
                if x1 > 0 and x0 < width:
                    self.refresh(Region(max(x0, 0), y, min(x1, width) - max(x0, 0), 1))

    def _update_dimensions(self, new_rows: Any) -> None:
        """DataTable measures every cell of every new row to size auto-width columns: with
        5 000 processes, ~70 000 measures each time the processes table is filled. Every
        column here has its spec's width and every row one line, so there is nothing to
        measure; the virtual size is still recomputed."""
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)
        else:
            super()._update_dimensions(())

    # -- rendering ----------------------------------------------------------------------------
    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._row_strips.clear()

    def notify_style_update(self) -> None:
        self._row_strips.clear()
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = self.rich_style  # once per frame, not once per line
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        header = self.header_height if self.show_header else 0
        if (
            y < header
            or self.fixed_rows
            or self.fixed_columns
            or self._should_render_row_labels
            or self.cursor_type != "row"
        ):
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base_style = self._frame_style or self.rich_style
        row_index = y - header + scroll_y
        row_key = self._row_locations.get_key(row_index)
        if row_key is None or self.rows[row_key].height != 1:
            return super().render_line(y) if row_key is not None else Strip.blank(width, base_style)
        strip = self._row_strip(row_index, row_key, base_style)
        if strip is None:
            return super().render_line(y)
        return strip.crop(scroll_x, scroll_x + width).adjust_cell_length(width, base_style)

    def _row_strip(self, row_index: int, row_key: RowKey, base_style: Style) -> Strip | None:
        """The whole row as one strip (cells, then the cursor/hover fill to the widget's edge),
        styled as DataTable styles it, with the row/column meta that mouse clicks read."""
        cursor = self.cursor_coordinate.row == row_index
        hover = self.hover_coordinate.row == row_index
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        signature = (
            row_index,
            self._row_versions.get(row_key, 0),
            cursor,
            hover,
            self.show_cursor,
            self._show_hover_cursor,
            base_style,
            self._pseudo_class_state,
            widths,
            self.size.width,
        )
        cached = self._row_strips.get(row_key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        data = self._data.get(row_key, {})

        def cursor_styles(css_priority: bool) -> tuple[Style, Style]:
            return self._get_styles_to_render_cell(
                False,  # not the header
                False,  # not a row label
                False,  # not a fixed cell
                hover,
                cursor,
                self.show_cursor,
                self._show_hover_cursor,
                css_priority and self.cursor_foreground_priority == "css",
                css_priority and self.cursor_background_priority == "css",
            )

        component, post = cursor_styles(True)
        row_style = self._get_row_style(row_index, base_style)
        segments: list[Segment] = []
        for column_index, (column, width) in enumerate(
            zip(self.ordered_columns, widths, strict=True)
        ):
            cell = data.get(column.key, "")
            if isinstance(cell, str):
                cell = Text(cell)
            if not isinstance(cell, Text) or cell.spans or "\n" in cell.plain:
                return None
            text = cell.plain
            if cell_len(text) > width:
                cropped = cell.copy()
                cropped.truncate(width, overflow="ellipsis")
                text = cropped.plain
            pre = row_style + Style.from_meta({"row": row_index, "column": column_index})
            pre += component
            if text:
                own = cell.style if isinstance(cell.style, Style) else Style.parse(cell.style or "")
                segments.append(Segment(text, pre + own + post))
            pad = width - cell_len(text)
            if pad > 0:
                segments.append(Segment(" " * pad, pre + post))
        remaining = max(0, self.size.width - sum(widths))
        extend, _ = cursor_styles(False)  # the fill past the last column, as DataTable
        extend = (
            row_style
            + extend
            + Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        )
        segments.append(Segment(" " * remaining, extend))
        strip = Strip(segments).simplify()
        self._row_strips[row_key] = (signature, strip)
        return strip

    def _reorder(self, order: list[str]) -> None:
        position = {key: index for index, key in enumerate(order)}
        current = [str(row.key.value) for row in self.ordered_rows]
        if current == order:
            return
        # DataTable.sort hands the key function the row's cells; the first column is unique.
        first_column = self._column_keys[0]
        by_first = {self._shown[key][0][0]: position[key] for key in order if key in self._shown}
        self.sort(first_column, key=lambda cell: by_first.get(_plain(cell), len(order)))

    @staticmethod
    def _text(cell: Cell, palette: Palette) -> Text:
        text, role = cell
        return Text(text, style=palette.role(role), no_wrap=True, overflow="ellipsis")


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)

"""A DataTable kept in sync with a list of rows by touching only the cells that changed.

Rows are described as tuples of `Cell` (text, colour role); the table remembers what it last
wrote per row key, so a refresh costs one tuple comparison per row and one `update_cell` per
changed cell. Columns have fixed widths: no re-measuring on updates (textual#6457).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from rich.text import Text
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from tuiman.ui.palette import Palette, palette_of

Cell = tuple[str, str]  # (text, palette role)
Row = tuple[str, tuple[Cell, ...]]  # (row key, cells)
MASS_REMOVAL = 64  # removing more rows than this at once is cheaper as clear + add


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    label: str
    width: int


class LiveTable(DataTable[Text]):
    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = ()
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

    def remove_row(self, row_key: RowKey | str) -> None:
        # DataTable.remove_row asks for a screen-wide layout as well; see virtual_size above.
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
        # No cell padding: each column's width includes one blank separating it from the next.
        super().__init__(id=id, cursor_type="row", cell_padding=0)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._specs: list[ColumnSpec] = []
        self.updates = 0  # cells written since mount (for tests and the bench)

    @property
    def _column_keys(self) -> list[str]:
        return [spec.key for spec in self._specs]

    def on_mount(self) -> None:
        for column in self.COLUMNS:
            self.add_spec(column)

    def add_spec(self, column: ColumnSpec) -> None:
        self.add_column(column.label, width=column.width, key=column.key)
        self._specs.append(column)
        self._shown = {key: (*cells, ("", "plain")) for key, cells in self._shown.items()}

    def remove_spec(self, key: str) -> None:
        index = self._column_keys.index(key)
        self.remove_column(key)
        del self._specs[index]
        self._shown = {k: cells[:index] + cells[index + 1 :] for k, cells in self._shown.items()}

    def set_width(self, key: str, width: int) -> None:
        """Change a column's width; rows are re-added by the next sync (names rarely change)."""
        specs = [ColumnSpec(c.key, c.label, width) if c.key == key else c for c in self._specs]
        if specs == self._specs:
            return
        self.clear(columns=True)
        self._shown.clear()
        self._order = []
        self._specs = []
        for column in specs:
            self.add_spec(column)

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
        added = False
        for key, cells in rows:
            previous = self._shown.get(key)
            if previous is None:
                self.add_row(*(self._text(cell, palette) for cell in cells), key=key)
                added = True
            elif previous != cells:
                self._update_row(key, previous, cells, palette)
            self._shown[key] = cells
        order = [key for key, _ in rows]
        if (added or stale) and order != self._order:
            self._reorder(order)
        self._order = order
        if selected is not None and selected in wanted:
            self.select_key(selected)

    def repaint_all(self) -> None:
        """Rewrite every cell (the theme changed)."""
        palette = palette_of(self.app)
        for key, cells in self._shown.items():
            for column, cell in zip(self._column_keys, cells, strict=False):
                self.update_cell(key, column, self._text(cell, palette))

    def _update_row(
        self, key: str, previous: tuple[Cell, ...], cells: tuple[Cell, ...], palette: Palette
    ) -> None:
        for column, old, new in zip(self._column_keys, previous, cells, strict=False):
            if old != new:
                self.update_cell(key, column, self._text(new, palette))
                self.updates += 1

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

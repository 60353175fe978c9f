"""The watchers table and the processes table of the selected watcher."""

from __future__ import annotations

from typing import ClassVar

from tuiman.ui.rows import EXTENDED_LABELS, NAME_MAX
from tuiman.ui.widgets.live_table import ColumnSpec, LiveTable


class WatchersTable(LiveTable):
    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = (
        ColumnSpec("name", "watcher", 8),  # widened to the longest name by fit_names
        ColumnSpec("state", "state", 9),
        ColumnSpec("running", "run", 6),  # widened to the largest count by fit_running
        ColumnSpec("priority", "prio", 5),
        ColumnSpec("restarts", "rst", 4),
        ColumnSpec("cpu", "cpu", 6),
        ColumnSpec("rss", "rss", 6),
        ColumnSpec("info", "info", 60),
    )
    TOOLTIP_COLUMNS: ClassVar[frozenset[str]] = frozenset({"info"})

    def show_readiness(self, shown: bool) -> None:
        """A ready column before info, only for configs with probes or dependencies."""
        show_ready_column(self, shown, before="info")

    def fit_names(self, names: list[str]) -> None:
        """Make the name column as wide as the longest name (8 to 20 cells)."""
        width = min(max([len(name) for name in names] + [7]), NAME_MAX) + 1
        self.set_width("name", width)

    def fit_running(self, counts: list[int]) -> None:
        """Make the run column hold "N/N" for the largest count (6 cells at least)."""
        digits = len(str(max(counts, default=0)))
        self.set_width("running", max(6, 2 * digits + 2))


class ProcessesTable(LiveTable):
    COLUMNS: ClassVar[tuple[ColumnSpec, ...]] = (
        ColumnSpec("pid", "pid", 8),
        ColumnSpec("wid", "wid", 4),
        ColumnSpec("state", "state", 12),  # "stopped (T)"
        ColumnSpec("age", "age", 7),
        ColumnSpec("cpu", "cpu", 6),
        ColumnSpec("rss", "rss", 6),
        ColumnSpec("exit", "exit", 5),
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.extended: tuple[str, ...] = ()

    def set_extended(self, keys: tuple[str, ...]) -> None:
        """Show exactly these extended-stats columns after the standard ones."""
        if keys == self.extended:
            return
        for key in self.extended:
            self.remove_spec(f"x:{key}")
        for key in keys:
            label = EXTENDED_LABELS.get(key, key)
            self.add_spec(ColumnSpec(f"x:{key}", label, max(len(label), 6) + 1))
        self.extended = keys

    def show_readiness(self, shown: bool) -> None:
        """A ready column after state, only for configs with probes or dependencies."""
        show_ready_column(self, shown, before="age")

    @property
    def selected_pid(self) -> int | None:
        key = self.selected_key
        return int(key) if key is not None and key.isdigit() else None


READY_COLUMN = ColumnSpec("ready", "ready", 9)


def show_ready_column(table: LiveTable, shown: bool, before: str) -> None:
    specs = table.specs
    if any(spec.key == READY_COLUMN.key for spec in specs) == shown:
        return
    if shown:
        index = next(i for i, spec in enumerate(specs) if spec.key == before)
        table.set_specs([*specs[:index], READY_COLUMN, *specs[index:]])
    else:
        table.set_specs([spec for spec in specs if spec.key != READY_COLUMN.key])

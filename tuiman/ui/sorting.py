"""The order of the watchers and processes tables: config order, or by a column (no Textual).

`o` cycles through `SORT_KEYS`; a click on a column header sorts by it, a second click on the
same header reverses it. Numbers (CPU, memory, restarts) put the biggest first; names and states
sort alphabetically. Ties keep the config order (watchers) or the slot order (processes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from tuiman.core.states import ProcessState, WatcherState
from tuiman.ui.views import ProcessView, WatcherView

T = TypeVar("T")

SORT_KEYS = ("config", "name", "state", "cpu", "memory", "restarts")
DESCENDING_FIRST = frozenset({"cpu", "memory", "restarts"})
# Table column -> sort key, for header clicks (both tables).
COLUMN_SORT_KEYS = {
    "name": "name",
    "pid": "name",
    "wid": "name",
    "state": "state",
    "cpu": "cpu",
    "rss": "memory",
    "restarts": "restarts",
    "priority": "config",
}
# Trouble first when sorting by state: what needs looking at is at the top.
WATCHER_STATE_RANK = {
    WatcherState.FAILED: 0,
    WatcherState.FLAPPING: 1,
    WatcherState.STOPPING: 2,
    WatcherState.STARTING: 3,
    WatcherState.ACTIVE: 4,
    WatcherState.STOPPED: 5,
}


@dataclass(frozen=True, slots=True)
class SortOrder:
    key: str = "config"
    descending: bool = False

    @classmethod
    def by(cls, key: str) -> SortOrder:
        return cls(key, key in DESCENDING_FIRST)

    @property
    def label(self) -> str:
        if self.key == "config":
            return "config order"
        arrow = "↓" if self.descending else "↑"
        return f"by {self.key} {arrow}"

    def next(self) -> SortOrder:
        """The next key of `SORT_KEYS` (what `o` does)."""
        index = SORT_KEYS.index(self.key) if self.key in SORT_KEYS else 0
        return SortOrder.by(SORT_KEYS[(index + 1) % len(SORT_KEYS)])

    def clicked(self, column: str) -> SortOrder:
        """A click on `column`'s header: sort by it, or reverse it if it already sorts."""
        key = COLUMN_SORT_KEYS.get(column)
        if key is None:
            return self
        if key == self.key and key != "config":
            return SortOrder(key, not self.descending)
        return SortOrder.by(key)


CONFIG_ORDER = SortOrder()


def sort_watchers(views: Iterable[WatcherView], order: SortOrder) -> list[WatcherView]:
    listed = list(views)  # config order
    if order.key == "config":
        return listed
    if order.key == "name":
        return sorted(listed, key=lambda v: v.name.casefold(), reverse=order.descending)
    if order.key == "state":
        return sorted(
            listed, key=lambda v: WATCHER_STATE_RANK.get(v.state, 9), reverse=order.descending
        )
    return _by_number(listed, order, _watcher_number(order.key))


def sort_processes(processes: Iterable[ProcessView], order: SortOrder) -> list[ProcessView]:
    slot_order = sorted(processes, key=lambda p: (p.wid, p.started, p.pid))
    if order.key in ("config", "name"):
        return slot_order[::-1] if order.descending else slot_order
    if order.key == "state":
        return sorted(
            slot_order,
            key=lambda p: p.state != ProcessState.RUNNING,
            reverse=not order.descending,
        )
    if order.key == "restarts":
        return slot_order
    return _by_number(slot_order, order, _process_number(order.key))


def _watcher_number(key: str) -> Callable[[WatcherView], float | None]:
    if key == "cpu":
        return lambda v: v.cpu if v.processes else None
    if key == "memory":
        return lambda v: float(v.rss) if v.processes and v.rss is not None else None
    return lambda v: float(v.restarts)


def _process_number(key: str) -> Callable[[ProcessView], float | None]:
    if key == "cpu":
        return lambda p: p.cpu
    return lambda p: float(p.rss) if p.rss is not None else None


def _by_number(items: list[T], order: SortOrder, number: Callable[[T], float | None]) -> list[T]:
    """Sorted by `number`; items without a number (no stats yet) always last."""
    known = [item for item in items if number(item) is not None]
    unknown = [item for item in items if number(item) is None]
    known.sort(key=lambda item: number(item) or 0.0, reverse=order.descending)
    return known + unknown

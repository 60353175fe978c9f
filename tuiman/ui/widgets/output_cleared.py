"""What the user cleared out of the output pane, so a re-select does not bring it back.

A clear remembers the last line it removed (the very entry object: the model keeps entries
in arrival order, so every line after it in the model's buffer is newer). A watcher's clear
also hides those lines from each of its slots' views; a slot's clear only from that slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from tuiman.ui.model import OutputEntry

ViewKey = tuple[str, int | None]  # (watcher, slot wid or None for every slot)


class ClearedOutput:
    def __init__(self) -> None:
        self._last_cleared: dict[ViewKey, OutputEntry] = {}
        self._last_cleared_combined: dict[str, OutputEntry] = {}  # per watcher, in "all"

    def clear_combined(self, last_of_each: dict[str, OutputEntry]) -> None:
        self._last_cleared_combined.update(last_of_each)

    def after_clear_combined(
        self, watcher: str, lines: Sequence[OutputEntry]
    ) -> Iterable[OutputEntry]:
        """`watcher`'s lines without what a clear of the combined view removed."""
        mark = self._last_cleared_combined.get(watcher)
        start = _after(lines, mark) if mark is not None else 0
        return islice(lines, start, None) if start else lines

    def clear(self, key: ViewKey, last: OutputEntry) -> None:
        self._last_cleared[key] = last

    def after_clear(self, key: ViewKey, lines: Sequence[OutputEntry]) -> Iterable[OutputEntry]:
        """`lines` (the model's buffer for the watcher, oldest first) without what was cleared
        for `key`."""
        watcher, wid = key
        marks = [self._last_cleared.get((watcher, None))]
        if wid is not None:
            marks.append(self._last_cleared.get(key))
        start = 0
        for mark in marks:
            if mark is not None:
                start = max(start, _after(lines, mark))
        return islice(lines, start, None) if start else lines


def _after(lines: Sequence[OutputEntry], mark: OutputEntry) -> int:
    """Index just past `mark` in `lines` (0 if it has left the buffer: all lines are newer)."""
    for back, line in enumerate(reversed(lines)):
        if line is mark:
            return len(lines) - back
    return 0

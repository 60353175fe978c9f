"""Keyboard selection of whole lines in a pane: an anchor where it began, a cursor that moves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LineSelection:
    anchor: int  # line index where the selection began (0 = oldest kept)
    cursor: int  # line index the keys move

    @property
    def first(self) -> int:
        return min(self.anchor, self.cursor)

    @property
    def last(self) -> int:
        return max(self.anchor, self.cursor)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and self.first <= index <= self.last

    def move(self, step: int, count: int, *, extend: bool) -> None:
        """Move the cursor `step` lines within `count` lines; without `extend` the selection
        is the cursor's line only."""
        self.cursor = min(max(self.cursor + step, 0), max(count - 1, 0))
        if not extend:
            self.anchor = self.cursor

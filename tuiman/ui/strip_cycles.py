"""Keep Textual's strips out of reference cycles.

Textual 8.2.8's `Strip.crop_extend` and `Strip.divide` cache their result on the strip itself,
and when nothing needs cutting that result is the strip (or a list holding it): the strip then
refers to itself and is freed only by the cyclic garbage collector, with its seven caches.
Every frame makes such strips, so under load the collector found ~4 000 of these objects a
second, and its collections paused the UI for 20-60 ms (young) and 200-500 ms (middle
generation). Returning the strip itself without caching it gives the same result and lets
reference counting free it.

`LRUCache` keeps its entries in a circular linked list of `[previous, next, key, value]`
lists; its `clear` drops the list's head and leaves the circle, with every cached strip, to
the collector. A `DataTable` clears its render caches on every cell update. Clearing each
link first breaks the circle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

_crop_extend = Strip.crop_extend
_divide = Strip.divide
_lru_clear = LRUCache.clear


def _crop_extend_acyclic(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start == 0 and end == self.cell_length:
        return self  # what crop_extend returns here, without caching self on self
    return _crop_extend(self, start, end, style)


def _divide_acyclic(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cell_length = self.cell_length
    kept = [cut for cut in cuts if cut <= cell_length]
    if kept == [cell_length]:
        return [self]
    return _divide(self, kept)


def _lru_clear_acyclic(self: LRUCache[object, object]) -> None:
    for link in self._cache.values():
        link.clear()
    _lru_clear(self)


def install() -> None:
    """Idempotent; called once the UI is imported."""
    Strip.crop_extend = _crop_extend_acyclic  # type: ignore[method-assign]
    Strip.divide = _divide_acyclic  # type: ignore[method-assign]
    LRUCache.clear = _lru_clear_acyclic  # type: ignore[method-assign,assignment]

"""Strips and LRU caches that the UI drops are freed at once, not left to the cyclic collector
(under load its collections paused the UI for hundreds of milliseconds)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from rich.segment import Segment
from textual.cache import LRUCache
from textual.strip import Strip

import tuiman.ui.app  # noqa: F401  (installs tuiman.ui.strip_cycles)


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_strip_cropped_or_divided_to_itself_is_freed_without_the_collector(
    no_automatic_gc: None,
) -> None:
    strip = Strip([Segment("hello "), Segment("world")])
    assert strip.crop_extend(0, 11, None) is strip
    assert list(strip.divide([11])) == [strip]
    assert strip.crop_extend(2, 14, None).text == "llo world   "  # the other paths still work
    assert [part.text for part in strip.divide([5, 11])] == ["hello", " world"]
    del strip
    assert gc.collect() == 0


def test_a_cleared_lru_cache_leaves_no_cycle(no_automatic_gc: None) -> None:
    cache: LRUCache[int, Strip] = LRUCache(3)
    for key in range(5):
        cache.set(key, Strip([Segment(str(key))]))
    assert cache.get(4) is not None and cache.get(0) is None
    cache.clear()
    assert gc.collect() == 0
    cache.set(1, Strip([Segment("again")]))
    assert cache.get(1) is not None and cache.get(1).text == "again"  # type: ignore[union-attr]

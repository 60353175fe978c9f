"""Fixtures of the fault-injection suite: subreaping like tuiman itself, and loop-lag probes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.reliability.support import LagProbe, reap_new_zombies, set_child_subreaper
from tests.support.procs import zombie_children


@pytest.fixture
def subreaper() -> Iterator[set[int]]:
    """The test process becomes a child subreaper, as `tuiman` itself is (run.py), so escapees
    and grandchildren come back to it. Yields the zombies that existed before the test."""
    baseline = zombie_children()
    assert set_child_subreaper(True)
    try:
        yield baseline
    finally:
        set_child_subreaper(False)
        reap_new_zombies(baseline)


@pytest.fixture
async def lag() -> AsyncIterator[LagProbe]:
    """Measures how long the core's loop is blocked during the test; call `lag.check()`."""
    probe = LagProbe().start()
    yield probe
    await probe.stop()

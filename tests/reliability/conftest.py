from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.reliability.support import (
    LagProbe,
    kill_tagged,
    reap_new_zombies,
    set_child_subreaper,
    zombie_children,
)


@pytest.fixture
def tag(request: pytest.FixtureRequest) -> Iterator[str]:
    """A TEST_TAG value unique to this test; every process carrying it is killed at the end."""
    value = f"rel-{request.node.name}-{os.getpid()}"
    yield value
    kill_tagged(value)


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

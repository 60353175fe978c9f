"""Fixtures shared by every suite: arbiters built from TOML, and a per-test process tag."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.core import ArbiterFactory, build_arbiter, stop_arbiter
from tests.support.procs import kill_tagged
from tuiman.core.supervision.arbiter import Arbiter


@pytest.fixture
async def arbiter_factory(tmp_path: Path) -> AsyncIterator[ArbiterFactory]:
    """Builds arbiters from TOML; every one is quit (and its processes killed) at the end."""
    created: list[Arbiter] = []

    def build(toml: str) -> Arbiter:
        arbiter = build_arbiter(tmp_path, toml)
        created.append(arbiter)
        return arbiter

    yield build
    for arbiter in created:
        await stop_arbiter(arbiter)


@pytest.fixture
def tag(request: pytest.FixtureRequest) -> Iterator[str]:
    """A TEST_TAG value unique to this test; every process carrying it is killed at the end."""
    value = f"{request.node.name}-{os.getpid()}"
    yield value
    kill_tagged(value)

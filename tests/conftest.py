from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.helpers import kill_quietly, make_config
from tuiman.core.supervision.arbiter import Arbiter


@pytest.fixture
async def arbiter_factory(tmp_path: Path) -> AsyncIterator[Callable[[str], Arbiter]]:
    """Builds arbiters from TOML; every one is quit (and its processes killed) at the end."""
    created: list[Arbiter] = []

    def build(toml: str) -> Arbiter:
        arbiter = Arbiter(make_config(tmp_path, toml))
        arbiter.bind()
        created.append(arbiter)
        return arbiter

    yield build
    for arbiter in created:
        pids = [pid for w in arbiter.watchers.values() for pid in w.processes]
        arbiter.force()
        try:
            await asyncio.wait_for(arbiter.quit(), 15)
        finally:
            for pid in pids:
                kill_quietly(pid)

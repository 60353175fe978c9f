from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.control.ctlkit import Instance, instances


@pytest.fixture
def start_tuiman() -> Iterator[Callable[..., Instance]]:
    """start_tuiman(directory, toml, **options) -> a running headless Instance (stopped after)."""
    with instances() as start:
        yield start


@pytest.fixture
def tuiman_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "inst"
    directory.mkdir(mode=0o700)
    return directory

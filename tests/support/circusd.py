"""Where the real Circus lives for the comparison tests.

`.ci/run` installs `tests/circus-requirements.txt` into `.venv-circus` at the repository root;
`TUIMAN_CIRCUS_BIN` (a directory holding `circusd`) overrides it. The tests compare tuiman with
the real thing, so a missing Circus fails them rather than skipping: CI always has it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def circus_bin() -> Path:
    """The directory holding `circusd` and `circusctl`; fails the test with how to install it."""
    configured = os.environ.get("TUIMAN_CIRCUS_BIN")
    directory = Path(configured) if configured else REPO_ROOT / ".venv-circus" / "bin"
    if not (directory / "circusd").is_file():
        raise AssertionError(
            f"no circusd in {directory}: run `python3 -m venv .venv-circus && "
            ".venv-circus/bin/pip install -r tests/circus-requirements.txt` (as .ci/run does)"
        )
    return directory

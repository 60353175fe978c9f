"""The UI reaches the core only through the client protocol, so `tuiman attach` never loads the
supervisor, the process code or the config loaders.

The static rules are import-linter contracts (pyproject.toml), run here and by CI; this file
also checks what a running `attach` really loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_attach_loads_no_supervisor() -> None:
    probe = (
        "import sys, tuiman.launch.attach, tuiman.ui.app, tuiman.client.remote\n"
        "heavy = ('tuiman.core.supervision', 'tuiman.core.processes', 'tuiman.core.config',"
        " 'tuiman.core.circus', 'tuiman.client.local')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_import_contracts_hold() -> None:
    """The contracts of pyproject.toml: core below front ends, the UI only through the client."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [str(lint_imports)], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""The UI reaches the core only through the client protocol, so `tuiman attach` never loads the
supervisor, the process code or the config loaders."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tuiman

PACKAGE = Path(tuiman.__file__).parent
UI_MAY_IMPORT = (
    "tuiman.ui",
    "tuiman.client.protocol",
    "tuiman.core.events",
    "tuiman.core.states",
    "tuiman.core.payloads",
)


def tuiman_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] == "tuiman"}


def test_ui_modules_import_only_the_protocol_and_the_core_leaves() -> None:
    modules = sorted((PACKAGE / "ui").rglob("*.py"))
    assert len(modules) > 20
    outside = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in modules
        for name in tuiman_imports(path)
        if not any(name == allowed or name.startswith(f"{allowed}.") for allowed in UI_MAY_IMPORT)
    }
    assert not outside


def test_the_client_protocol_imports_no_supervision_code() -> None:
    assert tuiman_imports(PACKAGE / "client" / "protocol.py") <= {"tuiman.core.events"}


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

"""`tuiman ctl` and the control clients never import Textual or Rich
(ARCHITECTURE.md#house-rules)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from tuiman.cli import main
for argv in (["ctl", "--socket", "/nonexistent/x.sock", "list"],
             ["ctl", "--socket", "/nonexistent/x.sock", "events"],
             ["ctl", "--socket", "/nonexistent/x.sock", "logs", "w", "-f"]):
    assert main(argv) == 1, argv
import tuiman.control.client, tuiman.control.ctl, tuiman.control.streams
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
assert not loaded, loaded
print("clean")
"""


def test_ctl_imports_no_ui_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_ctl_usage_errors_exit_2() -> None:
    for argv in (
        ["ctl"],
        ["ctl", "frobnicate"],
        ["ctl", "set", "w", "size", "3"],
        ["ctl", "kill", "w"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "tuiman", *argv], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (argv, result.stderr)
        assert "error:" in result.stderr

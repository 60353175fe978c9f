"""`which` finds what `shutil.which` finds (docs/supervision.md#memory), on real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tuiman.core.config.environment import which


def test_the_same_answers_as_shutil_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "plain").write_text("")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    here = str(tmp_path)
    cases = [
        ("sh", os.defpath),
        ("sh", ""),
        ("sh", "/nonexistent"),
        ("tool", here),
        ("tool", f"/nonexistent:{here}:{here}"),
        ("tool", f":{here}"),
        ("tool", ":"),
        ("adir", here),
        ("plain", here),
        (f"{here}/tool", ""),
        (f"{here}/plain", "/bin"),
        ("./tool", "/bin"),
    ]
    for program, search_path in cases:
        assert which(program, search_path) == shutil.which(program, path=search_path), (
            program,
            search_path,
        )
    assert which("tool", here) == f"{here}/tool"

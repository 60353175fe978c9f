"""Attacks on the config path (docs/reliability.md#hostile-output-files-and-numbers): a FIFO
(TOML, Circus INI, or a file a Circus INI includes), a character device that never ends
(`/dev/zero`) and a file far larger than any config. `tuiman check -c` and `tuiman --headless -c`
refuse each at once: exit 2, one line naming the file, no traceback, nothing started.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.reliability.support import TUIMAN
from tests.support.procs import tagged_pids
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(120)

MODES = {"check": ("check", "-c"), "headless": ("--headless", "-c")}
WATCHER_INI = "[watcher:web]\ncmd = sleep 300\n"


def refusal(mode: str, config: str, cwd: Path, tag: str) -> list[str]:
    """tuiman's stderr lines, once it exited 2 with no traceback and nothing on stdout."""
    result = subprocess.run(
        [*TUIMAN, *MODES[mode], config],
        cwd=cwd,
        capture_output=True,
        timeout=15,  # a FIFO used to block the read for ever
        env={**os.environ, "NO_COLOR": "1", "TEST_TAG": tag},
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, (config, result)
    assert "Traceback" not in stderr and "MemoryError" not in stderr, stderr
    assert result.stdout == b"", result
    return stderr.strip().splitlines()


@pytest.mark.parametrize("mode", sorted(MODES))
def test_special_and_huge_config_files_are_refused_in_one_line(
    tmp_path: Path, tag: str, mode: str
) -> None:
    os.mkfifo(tmp_path / "fifo.toml")
    os.mkfifo(tmp_path / "fifo.ini")
    os.mkfifo(tmp_path / "included.ini")
    (tmp_path / "includes.ini").write_text(f"[circus]\ninclude = included.ini\n\n{WATCHER_INI}")
    with open(tmp_path / "huge.toml", "wb") as huge:
        huge.truncate(1 << 30)  # sparse: 1 GiB of NUL bytes that take no disk
    cases = {
        "fifo.toml": ["fifo.toml: ", "not a regular file (a FIFO)"],
        "fifo.ini": ["fifo.ini: ", "not a regular file (a FIFO)"],
        "includes.ini": ["included.ini: ", "not a regular file (a FIFO)"],
        "/dev/zero": ["/dev/zero: ", "not a regular file (a character device)"],
        "huge.toml": ["huge.toml: ", "larger than"],
    }
    for config, (label, reason) in cases.items():
        lines = refusal(mode, config, tmp_path, tag)
        assert len(lines) == 1, (config, lines)
        assert lines[0].startswith(label) and reason in lines[0], (config, lines)
    # the headless runs forked their watchdog first: it is gone too
    wait_until_sync(lambda: tagged_pids(tag) == [], timeout=3)

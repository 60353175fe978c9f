"""Circus' own `examples/*.ini` that need only Python and a shell load and run under tuiman
as they are (tests/data/circus_examples/README.md). A real `tuiman --headless` each, stopped
by SIGTERM once every process showed that it runs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.procs import kill_quietly
from tests.support.waiting import wait_until_sync
from tuiman.core.circus.loader import load_circus_config

DATA = Path(__file__).parent / "data" / "circus_examples"
SPAWN = re.compile(r" spawn pid=(\d+) ")


def ran(lines: list[str], pattern: str, count: int) -> bool:
    return sum(1 for line in lines if re.search(pattern, line)) >= count


# example name -> what its processes show once they all run (on tuiman's stdout or in a file)
EXAMPLES: dict[str, Callable[[list[str], Path], bool]] = {
    "example1": lambda out, _: (
        ran(out, r"^dummy\.\d \| hello, fly #\d", 5)
        and ran(out, r"^dummy2\.\d \| hello, fly 2 #\d", 3)
    ),
    # verbose's lines go to test.log, with Circus' time prefix (its quotes included)
    "example2": lambda out, cwd: (
        ran(out, r"^verbose2\.\d \| \d+:3$", 4)
        and (cwd / "test.log").exists()
        and len(set(re.findall(r"^'[\d/]+ \| [\d:]+' \[(\d+)\] \| \1:\d+$", _log(cwd), re.M))) == 10
    ),
    "example3": lambda out, _: (
        ran(out, r"^dying\.1 \| @@@$", 1) and ran(out, r"^dying2\.1 \| @@@$", 1)
    ),
    "max_age": lambda out, _: ran(out, r"^dummy\.\d \| hello, fly 2 #\d", 3),
}


def _log(cwd: Path) -> str:
    return (cwd / "test.log").read_text(errors="replace")


def copy_examples(tmp_path: Path) -> Path:
    """The examples with `python` as tuiman's own interpreter: with copy_env = false (Circus'
    default) a process finds programs on the default path only, which may have no `python`
    (Circus fails to spawn it then, too)."""
    examples = tmp_path / "examples"
    shutil.copytree(DATA / "examples", examples)
    for ini in examples.glob("*.ini"):
        text = ini.read_text()
        ini.write_text(re.sub(r"^cmd = python\b", f"cmd = {sys.executable}", text, flags=re.M))
    return examples


@pytest.mark.parametrize("name", [*EXAMPLES, "example8"])
def test_example_loads_and_runs(tmp_path: Path, name: str) -> None:
    copy_examples(tmp_path)
    config = load_circus_config(tmp_path / "examples" / f"{name}.ini", cwd=tmp_path / "examples")
    assert all("unknown option" not in warning for warning in config.warnings), config.warnings
    if name == "example8":  # no watchers: nothing to run
        assert config.watchers == ()
        return
    process = subprocess.Popen(
        [sys.executable, "-m", "tuiman", "--headless", "-c", f"{name}.ini"],
        cwd=tmp_path / "examples",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(Path(__file__).parents[1])},
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until_sync(
            lambda: EXAMPLES[name](lines, tmp_path / "examples") or process.poll() is not None,
            timeout=60,
        )
        assert process.poll() is None, "".join(lines) + process.stderr.read()  # type: ignore[union-attr]
        assert EXAMPLES[name](lines, tmp_path / "examples")
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, "".join(lines[-20:])
    finally:
        if process.poll() is None:
            kill_quietly(process.pid)
            process.wait(10)
        reader.join(10)
        for pid in (int(match.group(1)) for line in lines if (match := SPAWN.search(line))):
            kill_quietly(pid)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

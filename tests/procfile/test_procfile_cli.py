"""A Procfile app as a user runs it: `tuiman -c Procfile` with a `.env`, `--exit-on first`,
and `tuiman convert Procfile` (real subprocesses, real children)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import kill_quietly, tagged_pids
from tuiman.core.config.load_options import LoadOptions
from tuiman.core.configfile import load_config

TUIMAN = [sys.executable, "-m", "tuiman"]


@pytest.fixture
def tag() -> Iterator[str]:
    value = f"procfile-{uuid.uuid4().hex}"
    yield value
    for pid in tagged_pids(value):
        kill_quietly(pid)


def run(
    *args: str, cwd: Path, tag: str = "", timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [*TUIMAN, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "TEST_TAG": tag},
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


# Each web and worker writes what it sees into out/, then waits; `done` exits 0 once all
# three have written, which --exit-on first turns into tuiman's exit.
APP = """\
web: echo "$PORT $GREETING" > "out/$TUIMAN_PROCESS_NAME"; exec sleep 60
worker: echo "$PORT $GREETING" > "out/$TUIMAN_PROCESS_NAME"; exec sleep 60
done: while [ "$(ls out | wc -l)" -lt 3 ]; do sleep 0.05; done; exit 0
"""


def test_procfile_app_with_dotenv_runs_until_the_first_exit(tmp_path: Path, tag: str) -> None:
    (tmp_path / "Procfile").write_text(APP)
    (tmp_path / ".env").write_text('export GREETING="hello from .env"\n')
    (tmp_path / "out").mkdir()
    result = run(
        "-c", "Procfile", "-m", "web=2", "--exit-on", "first", "--no-output", cwd=tmp_path, tag=tag
    )
    assert result.returncode == 0, result.stderr
    seen = {path.name: path.read_text().strip() for path in (tmp_path / "out").iterdir()}
    assert seen == {
        "web.1": "5000 hello from .env",
        "web.2": "5001 hello from .env",
        "worker.1": "5100 hello from .env",
    }
    assert "--exit-on first: done.1 exited (0): stopping everything" in result.stderr
    assert tagged_pids(tag) == []


def test_exit_on_first_returns_the_first_exit_code(tmp_path: Path, tag: str) -> None:
    (tmp_path / "Procfile").write_text("server: exec sleep 60\nmigrate: exit 7\n")
    result = run("-c", "Procfile", "--exit-on", "first", cwd=tmp_path, tag=tag)
    assert result.returncode == 7, result.stderr
    assert "migrate.1 exited (7)" in result.stderr
    assert tagged_pids(tag) == []  # the server was stopped with it


def test_convert_round_trips(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text(APP)
    (tmp_path / ".env").write_text("PORT=3000\n")
    result = run("convert", "Procfile", "-m", "web=2", "-o", "tuiman.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert run("check", "-c", "tuiman.toml", cwd=tmp_path).returncode == 0
    from_procfile = load_config(
        "Procfile", cwd=tmp_path, options=LoadOptions(formation=(("web", 2),))
    )
    from_toml = load_config("tuiman.toml", cwd=tmp_path)
    assert from_toml.watchers == from_procfile.watchers
    assert [(w.name, w.numprocesses, w.port) for w in from_toml.watchers] == [
        ("web", 2, 3000),
        ("worker", 1, 3100),
        ("done", 1, 3200),
    ]
    # Converting the conversion's source again gives the same text.
    again = run("convert", "Procfile", "-m", "web=2", cwd=tmp_path)
    assert again.stdout == (tmp_path / "tuiman.toml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "web"], "argument -m/--formation: expected NAME=COUNT, got 'web'"),
        (["-p", "70000"], "argument -p/--port: must be 1..65535, got 70000"),
        (["--exit-on", "first", "--run", "true"], "--exit-on cannot be combined with --run"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "Procfile").write_text("web: true\n")
    result = run("-c", "Procfile", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"tuiman: error: {message} (see --help)\n"

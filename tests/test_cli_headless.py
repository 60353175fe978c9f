"""The `tuiman` command as a user runs it: a real subprocess, real children, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.procs import alive, kill_quietly, tagged_pids
from tests.support.programs import unrunnable_program
from tests.support.waiting import wait_until_sync

TUIMAN = [sys.executable, "-m", "tuiman"]


def write_config(tmp_path: Path, toml: str, name: str = "tuiman.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(toml))
    return path


def run_tuiman(
    *args: str, cwd: Path, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUIMAN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def start_headless(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TUIMAN, "--headless", "-c", str(config), *extra],
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        start_new_session=True,
    )


def test_version_and_check(tmp_path: Path) -> None:
    result = run_tuiman("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("tuiman ")
    good = write_config(tmp_path, '[watchers.a]\ncmd = "sleep 1"\n')
    result = run_tuiman("check", "-c", str(good), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[watchers.a]\ncmd = "sleep 1"\nnumprocesses = [\n', "bad.toml: line 4, column 1:"),
        (
            '[watchers.a]\ncmd = "sleep 1"\nnumprocess = 2\n',
            "bad.toml: watchers.a.numprocess: unknown key (did you mean numprocesses?)",
        ),
        (
            '[watchers.a]\ncmd = "sleep 1"\nnumprocesses = "two"\n',
            "bad.toml: watchers.a.numprocesses:",
        ),
        (
            '[watchers.a]\ncmd = "sleep 1"\nstop_signal = "SIGFOO"\n',
            "bad.toml: watchers.a.stop_signal:",
        ),
        ("[watchers.a]\nnumprocesses = 1\n", "bad.toml: watchers.a.cmd:"),
        (
            '[watchers.a]\ncmd = "sleep 1"\nnumprocesses = 99999999\n',
            "bad.toml: watchers.a.numprocesses: must be <= 10000",
        ),
    ],
    ids=[
        "syntax",
        "unknown-key",
        "wrong-type",
        "bad-signal",
        "missing-cmd",
        "fork-bomb",
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, toml: str, expected: str) -> None:
    bad = write_config(tmp_path, toml, "bad.toml")
    for args in (("check", "-c", "bad.toml"), ("--headless", "-c", "bad.toml")):
        result = run_tuiman(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(expected), lines[0]
    assert bad.exists()


def test_all_errors_listed(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        '[watchers.a]\nnumprocesses = -1\n[watchers.b]\ncmd = "x"\nbogus = 1\n',
        "bad.toml",
    )
    result = run_tuiman("check", "-c", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 3


def test_json_lines_shape_and_clean_exit_on_sigterm(tmp_path: Path, tag: str) -> None:
    config = write_config(
        tmp_path,
        f"""
        [watchers.web]
        cmd = ["sh", "-c", "echo hello; exec sleep 300"]
        env = {{ TEST_TAG = "{tag}" }}
        graceful_timeout = 5
        """,
    )
    proc = start_headless(config, "--json")
    try:
        assert proc.stdout is not None
        records = []
        for line in proc.stdout:
            records.append(json.loads(line))
            if records[-1]["kind"] == "output":
                break
        spawn = next(r for r in records if r["kind"] == "spawn")
        assert list(spawn)[:5] == ["seq", "time", "topic", "kind", "watcher"]
        assert spawn["topic"] == "watcher.web.spawn" and spawn["watcher"] == "web"
        assert records[-1]["line"] == "hello" and records[-1]["stream"] == "stdout"
        assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
        child = spawn["pid"]
        assert alive(child)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
        kinds = [json.loads(line)["kind"] for line in rest.splitlines()]
        assert "reap" in kinds and "stop" in kinds
        assert not alive(child)
        assert tagged_pids(tag) == []
    finally:
        kill_quietly(proc.pid)
        proc.wait(timeout=10)


def test_second_sigint_kills_at_once(tmp_path: Path, tag: str) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(300)"
    )
    config = write_config(
        tmp_path,
        f"""
        [watchers.stubborn]
        cmd = [{sys.executable!r}, "-c", {script!r}]
        env = {{ TEST_TAG = "{tag}" }}
        graceful_timeout = 60
        """,
    )
    proc = start_headless(config)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "| up" in line:
                break
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        for line in proc.stdout:  # the first SIGINT is handled: a graceful stop began
            if "→ stopping" in line:
                break
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0
        assert tagged_pids(tag) == []
    finally:
        kill_quietly(proc.pid)
        proc.wait(timeout=10)


def test_sigkill_of_tuiman_leaves_no_process_behind(tmp_path: Path, tag: str) -> None:
    config = write_config(
        tmp_path,
        f"""
        [watchers.tree]
        cmd = ["sh", "-c", "setsid sleep 300 & sleep 300 & echo started; wait"]
        env = {{ TEST_TAG = "{tag}" }}
        numprocesses = 2
        """,
    )
    proc = start_headless(config)
    try:
        wait_until_sync(lambda: len(tagged_pids(tag)) >= 6)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        killed_at = time.monotonic()
        wait_until_sync(lambda: tagged_pids(tag) == [], timeout=3)
        assert time.monotonic() - killed_at < 1.5
    finally:
        kill_quietly(proc.pid)


def test_exit_code_0_when_every_watcher_is_done(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[watchers.job]\ncmd = "true"\nrespawn = false\n')
    result = run_tuiman("--headless", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reap" in result.stdout


def test_exit_code_1_when_a_one_shot_job_fails(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[watchers.job]\ncmd = ["sh", "-c", "exit 3"]\nrespawn = false\n'
    )
    result = run_tuiman("--headless", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert "exit_code=3" in result.stdout


def test_run_command_exit_code_and_output(tmp_path: Path, tag: str) -> None:
    config = write_config(
        tmp_path,
        f"""
        [watchers.svc]
        cmd = "sleep 300"
        env = {{ TEST_TAG = "{tag}" }}
        graceful_timeout = 5
        """,
    )
    result = run_tuiman(
        "--headless",
        "--no-output",
        "-c",
        str(config),
        "--run",
        "echo from-cmd; exit 7",
        cwd=tmp_path,
    )
    assert result.returncode == 7
    assert "from-cmd" in result.stdout
    assert tagged_pids(tag) == []
    result = run_tuiman("--headless", "-c", str(config), "--run", "kill -TERM $$", cwd=tmp_path)
    assert result.returncode == 128 + signal.SIGTERM


def test_run_fails_when_services_never_ready(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f"""
        [watchers.broken]
        cmd = "{unrunnable_program(tmp_path)}"
        max_retry = 1
        [watchers.broken.restart]
        backoff_initial = 0.05
        """,
    )
    result = run_tuiman("--headless", "-c", str(config), "--run", "echo never", cwd=tmp_path)
    assert result.returncode == 1
    assert "never" not in result.stdout
    assert "never became ready" in result.stderr


def test_demo_config_runs_when_no_config(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*TUIMAN, "--headless", "--no-output"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if " worker start" in line:
                break
        assert any("hook before_start ok" in line for line in seen)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        kill_quietly(proc.pid)
        proc.wait(timeout=10)


def test_core_and_headless_never_import_textual_or_rich() -> None:
    code = (
        "import sys, tuiman.core.supervision.arbiter, tuiman.core.supervision.commands\n"
        "import tuiman.headless, tuiman.launch.run, tuiman.client.remote, tuiman.cli\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for module in Path("tuiman/core").glob("*.py"):
        text = module.read_text()
        assert "import textual" not in text and "from textual" not in text
        assert "import rich" not in text and "from rich" not in text

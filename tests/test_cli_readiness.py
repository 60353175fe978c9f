"""`--run` waits for readiness, `ctl wait` and `ctl status` (docs/readiness.md), as a user runs
them: the real `tuiman` command, a real web server that binds 1.5 s after it starts, curl."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.control.ctlkit import Instance, instances
from tests.support.servers import SLOW_SERVER, free_port
from tests.test_cli_headless import run_tuiman, write_config

PY = "python3"


def stack(tmp_path: Path, port: int, migrate_code: int = 0) -> str:
    (tmp_path / "slow_server.py").write_text(SLOW_SERVER)
    return f"""
        [watchers.migrate]
        cmd = "sh -c 'sleep 0.2; exit {migrate_code}'"
        respawn = false
        [watchers.web]
        cmd = "{PY} {tmp_path}/slow_server.py 1.5 {port}"
        depends_on = {{ migrate = "succeeded" }}
        [watchers.web.ready]
        http = "http://127.0.0.1:{port}/"
        interval = 0.1
        """


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl here")
def test_run_gets_a_200_every_time(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, stack(tmp_path, port))
    for _ in range(3):
        result = run_tuiman(
            "--headless",
            "-c",
            str(config),
            "--run",
            f"curl -sf http://127.0.0.1:{port}/",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert "hello" in result.stdout
        assert "web ready (all processes)" in result.stdout


def test_a_failed_migration_blocks_web_and_headless_exits_1(tmp_path: Path) -> None:
    config = write_config(tmp_path, stack(tmp_path, free_port(), migrate_code=1))
    result = run_tuiman("--headless", "--json", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    blocked = [e for e in events if e["kind"] == "blocked"]
    assert blocked and blocked[0]["watcher"] == "web"
    assert blocked[0]["reason"] == "migrate exited with 1"
    assert not [e for e in events if e["kind"] == "spawn" and e["watcher"] == "web"]
    waiting = next(e for e in events if e["kind"] == "waiting")
    assert waiting["waiting_for"] == ["migrate (succeeded)"]

    result = run_tuiman("--headless", "-c", str(config), "--run", "true", cwd=tmp_path)
    assert result.returncode == 1
    assert "services never became ready: migrate: process" in result.stderr


def test_run_gives_up_after_the_ready_timeout_saying_why(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(
        tmp_path,
        f"""
        [watchers.web]
        cmd = "sleep 60"
        [watchers.web.ready]
        tcp = "127.0.0.1:{port}"
        interval = 0.1
        """,
    )
    result = run_tuiman(
        "--headless", "-c", str(config), "--run", "true", "--ready-timeout", "0.5", cwd=tmp_path
    )
    assert result.returncode == 1
    assert (
        "services never became ready: not ready after 0.5s: "
        "web: not ready (last try: tcp: connection refused)"
    ) in result.stderr


def test_ctl_wait_and_status(start_tuiman_here: Instance) -> None:
    instance = start_tuiman_here
    early = instance.ctl("wait", "--timeout", "0.3")
    assert early.returncode == 3
    assert "web: waiting for migrate (succeeded)" in early.stderr or "web: not ready" in (
        early.stderr
    )
    done = instance.ctl("wait", "web", "--timeout", "20")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ready: web"
    status = instance.ctl("status")
    assert status.returncode == 0
    header, *rows = status.stdout.splitlines()[:3]
    assert header.split()[:3] == ["NAME", "STATE", "READY"]
    assert any(row.split()[:3] == ["web", "active", "ready"] for row in rows)
    unknown = instance.ctl("wait", "nope")
    assert unknown.returncode == 3 and "no watcher named 'nope'" in unknown.stderr


@pytest.fixture
def start_tuiman_here(tmp_path: Path) -> Iterator[Instance]:
    directory = tmp_path / "inst"
    directory.mkdir(mode=0o700)
    with instances() as start:
        yield start(directory, stack(directory, free_port()))

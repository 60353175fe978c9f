"""`tuiman --detach`: the instance runs on in the background and answers `ctl` and `attach`."""

from __future__ import annotations

import re
import stat
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.control.ctlkit import BASE_ENV, TUIMAN, run_ctl
from tests.support.procs import alive, kill_quietly, kill_tagged, tagged_pids
from tests.support.waiting import wait_until_sync


@pytest.fixture
def detached_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "inst"
    directory.mkdir(mode=0o700)
    tag = f"detach-{directory}"
    (directory / "tuiman.toml").write_text(
        textwrap.dedent(
            f"""\
            [tuiman]
            control_socket = "{directory}/ctl.sock"

            [watchers.sleeper]
            cmd = "sleep 300"
            numprocesses = 2
            env = {{ TEST_TAG = "{tag}" }}
            """
        )
    )
    yield directory
    kill_tagged(tag)


def run_tuiman(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUIMAN, *args], cwd=directory, capture_output=True, text=True, timeout=60, env=BASE_ENV
    )


def test_detach_returns_at_once_and_leaves_a_running_instance(detached_dir: Path) -> None:
    started = run_tuiman(detached_dir, "-D", "-c", "tuiman.toml")
    pid_match = re.search(r"pid (\d+)", started.stdout)
    instance_pid = int(pid_match.group(1)) if pid_match else 0
    try:
        assert started.returncode == 0, started.stderr
        assert pid_match, started.stdout
        log_path = detached_dir / "ctl.log"
        assert f"log:    {log_path}" in started.stdout
        assert "attach: tuiman attach -c tuiman.toml" in started.stdout
        assert "stop:   tuiman ctl -c tuiman.toml quit" in started.stdout
        assert stat.S_IMODE(log_path.stat().st_mode) == 0o600

        # The tuiman -D process is gone; its instance runs on and supervises.
        status = run_ctl("-c", "tuiman.toml", "status", "sleeper", cwd=detached_dir)
        assert status.returncode == 0, status.stderr
        assert "active" in status.stdout and "2/2" in status.stdout
        tag = f"detach-{detached_dir}"
        assert len(tagged_pids(tag)) == 2

        quit_reply = run_ctl("-c", "tuiman.toml", "quit", cwd=detached_dir)
        assert quit_reply.returncode == 0, quit_reply.stderr
        wait_until_sync(lambda: not alive(instance_pid), what="the detached instance ended")
        assert tagged_pids(tag) == []
        assert "stopping" in log_path.read_text() or "stopped" in log_path.read_text()
    finally:
        if instance_pid:
            kill_quietly(instance_pid)


def test_a_second_detach_of_the_same_config_says_why_it_ended(detached_dir: Path) -> None:
    first = run_tuiman(detached_dir, "-D", "-c", "tuiman.toml")
    pid_match = re.search(r"pid (\d+)", first.stdout)
    try:
        assert first.returncode == 0, first.stderr
        second = run_tuiman(detached_dir, "--detach", "-c", "tuiman.toml")
        assert second.returncode == 2
        assert "exited with code 2 before it answered" in second.stderr
        assert "already running this config" in second.stderr
    finally:
        if pid_match:
            kill_quietly(int(pid_match.group(1)))


def test_detach_with_a_bad_config_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[watchers.x]\ncmd = 3\n")
    result = run_tuiman(tmp_path, "-D", "-c", "bad.toml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "bad.toml" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.log"))


def test_detach_refuses_run(tmp_path: Path) -> None:
    result = run_tuiman(tmp_path, "-D", "--run", "true")
    assert result.returncode == 2
    assert "--detach cannot be combined with --run" in result.stderr

"""`tuiman completion`: the bash script in a real bash completes subcommands, options, ctl
commands and the running instance's watcher names."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import kill_quietly, tagged_pids
from tests.support.waiting import wait_until_sync

TUIMAN = [sys.executable, "-m", "tuiman"]
BIN_DIR = str(Path(sys.executable).parent)  # where the `tuiman` console script is

COMPLETE_LINE = r"""
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
COMPREPLY=()
_shtab_tuiman tuiman "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = subprocess.run(
        [*TUIMAN, "completion", "bash"], capture_output=True, text=True, check=True
    )
    path = tmp_path_factory.mktemp("completion") / "tuiman.bash"
    path.write_text(result.stdout)
    return path


def complete(script: Path, *words: str, cwd: Path | None = None) -> list[str]:
    """What bash offers for the last word of `tuiman WORDS...`."""
    result = subprocess.run(
        ["bash", "-c", COMPLETE_LINE, "complete", str(script), "tuiman", *words],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        env={**os.environ, "PATH": f"{BIN_DIR}:{os.environ['PATH']}"},
        check=True,
    )
    return sorted(result.stdout.split())


def test_subcommands_complete(bash_script: Path) -> None:
    assert complete(bash_script, "ct") == ["ctl"]
    assert complete(bash_script, "co") == ["completion", "convert"]


def test_options_and_their_choices_complete(bash_script: Path) -> None:
    assert complete(bash_script, "--exit") == ["--exit-on"]
    assert complete(bash_script, "--exit-on", "") == ["first"]
    assert complete(bash_script, "--no-e") == ["--no-env-file"]
    assert complete(bash_script, "completion", "") == ["bash", "tcsh", "zsh"]


def test_ctl_commands_complete(bash_script: Path) -> None:
    assert complete(bash_script, "ctl", "st") == ["start", "stats", "status", "stop"]
    assert "--wait" in complete(bash_script, "ctl", "stop", "--")


@pytest.fixture
def running_instance(tmp_path: Path) -> Iterator[Path]:
    tag = f"completion-{uuid.uuid4().hex}"
    config = tmp_path / "tuiman.toml"
    config.write_text(
        '[watchers.web]\ncmd = "sleep 60"\n[watchers.worker]\ncmd = "sleep 60"\n'
        '[watchers.clock]\ncmd = "sleep 60"\n'
    )
    process = subprocess.Popen(
        [*TUIMAN, "--headless", "-c", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TEST_TAG": tag},
        start_new_session=True,
    )
    try:
        yield config
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in tagged_pids(tag):
            kill_quietly(pid)


def test_watcher_names_come_from_the_running_instance(
    bash_script: Path, running_instance: Path
) -> None:
    config = str(running_instance)
    wait_until_sync(
        lambda: (
            sorted(
                subprocess.run(
                    [*TUIMAN, "ctl", "-c", config, "list"], capture_output=True, text=True
                ).stdout.split()
            )
            == ["clock", "web", "worker"]
        ),
        what="the instance to answer ctl list",
    )
    assert complete(bash_script, "ctl", "-c", config, "stop", "") == ["clock", "web", "worker"]
    assert complete(bash_script, "ctl", "-c", config, "restart", "w") == ["web", "worker"]
    # From the config's directory, ctl finds the instance by ./tuiman.toml.
    assert complete(bash_script, "ctl", "logs", "c", cwd=running_instance.parent) == ["clock"]

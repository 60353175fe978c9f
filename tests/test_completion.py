"""`tuiman completion`: the scripts in real shells complete subcommands, options, ctl commands
and the running instance's watcher names (bash through its completion function; zsh and tcsh
typed into on a pseudo-terminal, TAB and all)."""

from __future__ import annotations

import os
import pty
import re
import select
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

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")


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


@needs_bash
def test_subcommands_complete(bash_script: Path) -> None:
    assert complete(bash_script, "ct") == ["ctl"]
    assert complete(bash_script, "co") == ["completion", "convert"]


@needs_bash
def test_options_and_their_choices_complete(bash_script: Path) -> None:
    assert complete(bash_script, "--exit") == ["--exit-on"]
    assert complete(bash_script, "--exit-on", "") == ["first"]
    assert complete(bash_script, "--no-e") == ["--no-env-file"]
    assert complete(bash_script, "completion", "") == ["bash", "tcsh", "zsh"]


@needs_bash
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


@needs_bash
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


def test_watchers_mode_is_quiet_without_an_instance(tmp_path: Path) -> None:
    result = subprocess.run(
        [*TUIMAN, "completion", "--watchers", "--socket", str(tmp_path / "none.sock")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --- zsh and tcsh, typed into --------------------------------------------------------------------

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|.\x08")
_MARKER_COMMAND = b'echo "SETUP-""DONE"\n'  # echoed as typed; only its output reads SETUP-DONE


def screen_text(output: bytes) -> str:
    return _ESCAPES.sub("", output.decode(errors="replace"))


def type_with_tab(argv: list[str], setup: list[str], partial: str, expected: str, cwd: Path) -> str:
    """Start the shell on a pseudo-terminal, run `setup`, type `partial` and TAB; return what
    the terminal shows once `expected` appears after the setup (or the deadline passes)."""
    env = {**os.environ, "PATH": f"{BIN_DIR}:{os.environ['PATH']}", "TERM": "xterm"}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: exec at once
        os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    output = b""

    def read_until(done: str) -> bool:
        nonlocal output

        def seen() -> bool:
            return done in screen_text(output).partition("SETUP-DONE")[2]

        def more() -> bool:
            nonlocal output
            ready, _, _ = select.select([terminal], [], [], 0.1)
            if ready:
                try:
                    output += os.read(terminal, 65536)
                except OSError:
                    return True
            return seen()

        try:
            wait_until_sync(lambda: seen() or more(), what=f"{done!r} on the terminal")
        except AssertionError:
            return False
        return True

    try:
        for line in setup:
            os.write(terminal, line.encode() + b"\n")
        os.write(terminal, _MARKER_COMMAND)
        read_until("\n")
        os.write(terminal, partial.encode() + b"\t")
        read_until(expected)
        return screen_text(output).partition("SETUP-DONE")[2]
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(terminal)


def shell_setups(tmp_path: Path) -> dict[str, tuple[list[str], list[str]]]:
    scripts = {}
    for shell in ("zsh", "tcsh"):
        scripts[shell] = subprocess.run(
            [*TUIMAN, "completion", shell], capture_output=True, text=True, check=True
        ).stdout
    (tmp_path / "zfunc").mkdir()
    (tmp_path / "zfunc" / "_tuiman").write_text(scripts["zsh"])
    (tmp_path / "tuiman.tcsh").write_text(scripts["tcsh"])
    return {
        "zsh": (
            ["zsh", "-f"],
            [f"fpath=({tmp_path / 'zfunc'} $fpath); autoload -U compinit; compinit -u"],
        ),
        "tcsh": (["tcsh", "-f"], ["set edit", f"source {tmp_path / 'tuiman.tcsh'}"]),
    }


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_zsh_and_tcsh_complete_commands_and_watchers(
    shell: str, running_instance: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell} on this machine")
    argv, setup = shell_setups(tmp_path_factory.mktemp(shell))[shell]
    where = running_instance.parent  # ./tuiman.toml picks the instance
    wait_until_sync(
        lambda: subprocess.run(
            [*TUIMAN, "completion", "--watchers"], capture_output=True, text=True, cwd=where
        ).stdout.split(),
        what="the instance to answer",
    )
    assert "tuiman ctl" in type_with_tab(argv, setup, "tuiman ct", "tuiman ctl", where)
    shown = type_with_tab(argv, setup, "tuiman ctl stop cl", "stop clock", where)
    assert "tuiman ctl stop clock" in shown

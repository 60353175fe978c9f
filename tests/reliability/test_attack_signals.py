"""Attacks on "a stop signal always stops" and on `--run`'s exit code
(docs/reliability.md#hostile-output-files-and-numbers), with a real `tuiman --headless`:

- its stdout and stderr are a pipe the reader closed (`tuiman … 2>&1 | head -1`), a terminal
  that hung up (writes fail with EIO), or a pipe nobody reads (writes block): SIGTERM/SIGINT
  still stop everything and tuiman exits 0, leaving no process;
- a hook ends tuiman's process with `os._exit(0)`, or tuiman is SIGKILLed, while `--run` has
  not finished: the exit code the caller sees is 125, never 0; a finished run still reports
  the command's code, and a SIGTERM to the pid the caller knows still reaches the command.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import PY, TUIMAN, write_hook_module
from tests.support.procs import kill_quietly, ppid, tagged_pids
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(90)

EXIT_UNFINISHED = 125  # tuiman ended before its --run finished (docs/headless.md#exit-codes)

CHATTY = """
[watchers.chatty]
cmd = ["{py}", "-c", "import time\\nwhile 1: print('x' * 200, flush=1); time.sleep(0.001)"]
numprocesses = 2

[watchers.quiet]
cmd = ["sh", "-c", "echo up; exec sleep 300"]
"""


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "tuiman.toml"
    config.write_text(CHATTY.format(py=PY))
    return config


@contextlib.contextmanager
def tuiman_writing_to(
    fd: int, config: Path, tag: str, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """tuiman --headless with stdout and stderr both on `fd`; TEST_TAG reaches tuiman itself,
    its watchdog and every managed process."""
    proc = subprocess.Popen(
        [*TUIMAN, "--headless", "-c", str(config), *extra],
        cwd=config.parent,
        stdin=subprocess.DEVNULL,
        stdout=fd,
        stderr=fd,
        env={**os.environ, "NO_COLOR": "1", "TEST_TAG": tag},
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill_quietly(proc.pid)
            proc.wait(10)


def wait_up(tag: str) -> None:
    """tuiman, its watchdog and the three managed processes all carry the tag."""
    wait_until_sync(lambda: len(tagged_pids(tag)) == 5, timeout=20)


def read_some(fd: int, nbytes: int = 4096) -> bytes:
    data = b""
    while len(data) < nbytes:
        chunk = os.read(fd, nbytes)
        if not chunk:
            break
        data += chunk
    return data


def stop_and_expect_clean_exit(proc: subprocess.Popen[bytes], tag: str, signum: int) -> None:
    wait_up(tag)
    proc.send_signal(signum)
    assert proc.wait(30) == 0, "a stop signal must stop tuiman, and it exits 0"
    wait_until_sync(lambda: tagged_pids(tag) == [], timeout=5)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_stop_signal_stops_when_the_pipe_reader_is_gone(
    tmp_path: Path, tag: str, signum: signal.Signals
) -> None:
    read_end, write_end = os.pipe()
    with tuiman_writing_to(write_end, write_config(tmp_path), tag) as proc:
        os.close(write_end)
        assert read_some(read_end)  # `| head -1`: a little output, then the reader leaves
        os.close(read_end)
        stop_and_expect_clean_exit(proc, tag, signum)


def test_stop_signal_stops_when_the_terminal_hung_up(tmp_path: Path, tag: str) -> None:
    master, slave = pty.openpty()
    with tuiman_writing_to(slave, write_config(tmp_path), tag) as proc:
        os.close(slave)
        with contextlib.suppress(OSError):
            read_some(master)
        os.close(master)  # the terminal is closed: every write to it fails with EIO
        stop_and_expect_clean_exit(proc, tag, signal.SIGTERM)


def test_stop_signal_stops_when_nobody_reads_the_pipe(tmp_path: Path, tag: str) -> None:
    read_end, write_end = os.pipe()
    try:
        with tuiman_writing_to(write_end, write_config(tmp_path), tag) as proc:
            os.close(write_end)
            # nobody reads: the pipe fills up and tuiman's writes block for good
            wait_until_sync(lambda: unread_bytes(read_end) >= 60_000, timeout=20)
            stop_and_expect_clean_exit(proc, tag, signal.SIGTERM)
    finally:
        os.close(read_end)


def unread_bytes(fd: int) -> int:
    count = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return int.from_bytes(count, sys.byteorder)


# -- --run: never 0 unless the run finished --------------------------------------------------------
EXITING_HOOK = """
import os


def exit_quietly(watcher, arbiter, hook_name, **kwargs):
    os._exit(0)
"""

RUN_CONFIG = """
[watchers.web]
cmd = ["sleep", "300"]
{hooks}
"""


def run_headless(
    tmp_path: Path, tag: str, command: str, hooks: str = ""
) -> subprocess.Popen[bytes]:
    config = tmp_path / "tuiman.toml"
    config.write_text(RUN_CONFIG.format(hooks=hooks))
    return subprocess.Popen(
        [*TUIMAN, "--headless", "-c", str(config), "--run", command],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1", "TEST_TAG": tag},
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            kill_quietly(proc.pid)
            proc.wait(10)
    return proc.returncode, err.decode("utf-8", "replace")


def test_a_hook_ending_tuimans_process_is_never_a_successful_run(tmp_path: Path, tag: str) -> None:
    module = write_hook_module(tmp_path, EXITING_HOOK)
    hooks = f'hooks = {{ after_start = "{module}.exit_quietly" }}'
    code, err = finish(run_headless(tmp_path, tag, "touch ran", hooks))
    assert not (tmp_path / "ran").exists()  # the command never ran
    assert code == EXIT_UNFINISHED, err
    assert "ended before its --run finished (its process exited with status 0)" in err
    wait_until_sync(lambda: tagged_pids(tag) == [], timeout=3)  # the watchdog stopped web


def test_sigkill_of_tuiman_during_run_is_never_a_successful_run(tmp_path: Path, tag: str) -> None:
    proc = run_headless(tmp_path, tag, "touch started; exec sleep 300")
    try:
        wait_until_sync(lambda: (tmp_path / "started").exists(), timeout=20)
        # tuiman is the tagged process whose parent is the one the caller waits on
        tuiman = wait_until_sync(
            lambda: [pid for pid in tagged_pids(tag) if ppid(pid) == proc.pid], timeout=5
        )
        os.kill(tuiman[0], signal.SIGKILL)
    finally:
        code, err = finish(proc)
    assert code == EXIT_UNFINISHED, err
    assert "killed by SIGKILL" in err
    # the watchdog ends the services and the --run command itself
    wait_until_sync(lambda: tagged_pids(tag) == [], timeout=3)


def test_a_finished_run_still_reports_the_commands_code(tmp_path: Path, tag: str) -> None:
    assert finish(run_headless(tmp_path, tag, "exit 7"))[0] == 7
    assert finish(run_headless(tmp_path, tag, "true"))[0] == 0
    proc = run_headless(tmp_path, tag, "touch started; exec sleep 300")
    try:
        wait_until_sync(lambda: (tmp_path / "started").exists(), timeout=20)
        proc.send_signal(signal.SIGTERM)  # to the pid the caller knows: forwarded to the command
    finally:
        code, err = finish(proc)
    assert code == 128 + signal.SIGTERM, err
    wait_until_sync(lambda: tagged_pids(tag) == [], timeout=3)

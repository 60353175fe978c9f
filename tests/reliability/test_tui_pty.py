"""The full-screen UI through a real pseudo-terminal (docs/supervision.md#stop,
docs/reliability.md#no-orphans-whatever-happens-to-tuiman "the terminal is always restored"):
`python -m tuiman` with no --headless, SIGTERM (once, and twice), then the terminal got its
alternate-screen exit sequence last and no managed process survives.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import TUIMAN
from tests.support.procs import alive, kill_quietly, kill_tagged, tagged_pids
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(90)

ENTER_ALT_SCREEN = b"\x1b[?1049h"
LEAVE_ALT_SCREEN = b"\x1b[?1049l"


class PtyRun:
    """tuiman on the slave side of a pty (its controlling terminal); the master is drained."""

    def __init__(self, config: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            [*TUIMAN, "-c", str(config)],
            cwd=config.parent,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,  # a session of its own, with the pty as its terminal
            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"},
        )
        os.close(slave)
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every slave fd is closed
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def seen(self, needle: bytes) -> bool:
        with self._lock:
            return needle in self.output

    def finish(self, timeout: float) -> bytes:
        self.proc.wait(timeout)
        self._reader.join(5)
        with self._lock:
            return bytes(self.output)

    def close(self) -> None:
        if self.proc.poll() is None:
            kill_quietly(self.proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        with contextlib.suppress(OSError):
            os.close(self.master)


@pytest.fixture
def tui(tmp_path: Path, tag: str) -> Iterator[tuple[Path, str]]:
    config = tmp_path / "tuiman.toml"
    yield config, tag
    kill_tagged(tag)


def write_config(config: Path, tag: str, graceful_timeout: float) -> None:
    config.write_text(
        f"""
[watchers.web]
cmd = ["sh", "-c", "setsid sleep 300 & sleep 301 & wait"]
numprocesses = 2
env = {{ TEST_TAG = "{tag}" }}
graceful_timeout = 2

[watchers.stubborn]
cmd = ["sh", "-c", "trap '' TERM; sleep 302 & wait; wait"]
graceful_timeout = {graceful_timeout}
env = {{ TEST_TAG = "{tag}" }}
"""
    )


@pytest.mark.parametrize("times", [1, 2], ids=["once", "twice"])
def test_sigterm_restores_the_terminal_and_leaves_nothing(
    tui: tuple[Path, str], times: int
) -> None:
    config, tag = tui
    write_config(config, tag, graceful_timeout=1 if times == 1 else 60)
    run = PtyRun(config)
    try:
        wait_until_sync(lambda: run.seen(ENTER_ALT_SCREEN), timeout=30)
        wait_until_sync(lambda: len(tagged_pids(tag)) == 2 * 3 + 2, timeout=30)
        wait_until_sync(lambda: run.seen(b"stubborn"), timeout=30)  # the UI has drawn its table
        roster = tagged_pids(tag)
        started = time.monotonic()
        run.proc.send_signal(signal.SIGTERM)
        if times == 2:
            # the first SIGTERM is handled: the stopping view is on the screen
            wait_until_sync(lambda: run.seen(b"Stopping everything"), timeout=15)
            run.proc.send_signal(signal.SIGTERM)
        output = run.finish(30)
        assert run.proc.returncode == 0
        if times == 2:
            assert time.monotonic() - started < 15  # not the 60 s graceful_timeout
        # the terminal was handed back: the alternate screen was left after it was last entered
        assert output.rfind(LEAVE_ALT_SCREEN) > output.rfind(ENTER_ALT_SCREEN)
        assert LEAVE_ALT_SCREEN in output[-400:], output[-400:]
        assert b"Traceback" not in output
        wait_until_sync(lambda: not [pid for pid in roster if alive(pid)], timeout=1.0)
        assert tagged_pids(tag) == []
    finally:
        run.close()

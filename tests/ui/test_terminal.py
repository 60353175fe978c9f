"""`tuiman` in a real pseudo-terminal: q restores the terminal; a hangup stops everything."""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.procs import alive
from tests.support.waiting import wait_until_sync
from tests.ui.uihelpers import sleeper_toml

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid(1) to own a terminal"),
]


class Terminal:
    """tuiman as the session leader of a pty (120x40), its output drained by a thread."""

    def __init__(self, tmp_path: Path) -> None:
        config = tmp_path / "tuiman.toml"
        config.write_text(sleeper_toml(tmp_path, numprocesses=2))
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path / "config")}
        self.process = subprocess.Popen(
            ["setsid", "-c", sys.executable, "-m", "tuiman", "-c", str(config)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=tmp_path,
            env=env,
        )
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def children(self) -> list[int]:
        """The managed processes (tuiman's children, except its watchdog, which has no cmdline)."""
        try:
            kids = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [kid.pid for kid in kids if "recorder.py" in " ".join(_cmdline(kid))]

    def wait_for_children(self, count: int, timeout: float = 20.0) -> list[int]:
        def running() -> list[int]:
            pids = [pid for pid in self.children() if alive(pid)]
            return pids if len(pids) == count else []

        try:
            return wait_until_sync(running, timeout, what=f"{count} running children")
        except AssertionError as error:
            raise AssertionError(f"{error}; output: {bytes(self.output[-2000:])!r}") from None

    def hang_up(self) -> None:
        os.close(self.master)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.kill()  # the watchdog then kills whatever it left


def test_q_quits_and_restores_the_terminal(terminal: Terminal) -> None:
    pids = terminal.wait_for_children(2)
    # the first frame is on the terminal: keys now go to the app
    wait_until_sync(lambda: b"hooks & events" in terminal.output, what="the first frame")
    terminal.type(b"q")
    wait_until_sync(lambda: b"gracefully and quit?" in terminal.output, what="the question")
    terminal.type(b"y")
    assert terminal.process.wait(timeout=20) == 0
    assert not any(alive(pid) for pid in pids)
    output = bytes(terminal.output)
    assert b"\x1b[?1049h" in output  # entered the alternate screen ...
    assert output.rindex(b"\x1b[?1049l") > output.rindex(b"\x1b[?1049h")  # ... and left it
    assert b"\x1b[?25h" in output[output.rindex(b"\x1b[?1049l") :]  # cursor shown again


def test_a_terminal_hangup_stops_everything_and_exits(terminal: Terminal) -> None:
    pids = terminal.wait_for_children(2)
    terminal.hang_up()
    terminal.process.wait(timeout=20)
    assert not any(alive(pid) for pid in pids)

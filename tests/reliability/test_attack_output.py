"""A child's output cannot drive the real terminal
(docs/reliability.md#child-output-cannot-drive-the-terminal): the full-screen UI in a real pty
shows a child that prints `ESC c`, OSC (title, clipboard), DCS, cursor moves, mode changes, C1
controls and random bytes; none of those sequences reaches the terminal, the screen is not
reset, mouse reporting stays on, and SGR colours still come through.
"""

from __future__ import annotations

import random
import signal
import sys
from pathlib import Path

import pytest

from tests.reliability.test_tui_pty import ENTER_ALT_SCREEN, LEAVE_ALT_SCREEN, PtyRun
from tests.support.procs import kill_tagged, tagged_pids
from tests.support.waiting import wait_until_sync
from tuiman.ui.terminal_text import safe_ansi, safe_text

pytestmark = pytest.mark.timeout(90)

MOUSE_ON = b"\x1b[?1000h"
MOUSE_OFF = b"\x1b[?1000l"
# What the child prints; none of these may reach the terminal.
ATTACKS = (
    b"\x1bc",  # RIS: full reset, blank screen, mouse reporting off
    b"\x1b]0;pwned-title\x07",  # OSC: window title, BEL-terminated
    b"\x1b]52;c;cHduZWQ=\x1b\\",  # OSC 52: write the clipboard, ST-terminated
    b"\x1bP+q544e\x1b\\",  # DCS: request terminal capabilities
    b"\x1b[2J\x1b[5;5H",  # clear the screen, move the cursor
    b"\x1b[?1000l\x1b[?1006l",  # mouse reporting off
    b"\x1b[?1049l",  # leave the alternate screen
    "\u009b?1000l".encode(),  # C1 CSI, UTF-8 encoded
    b"\x1b7\x1b8\x1b(0",  # save/restore cursor, line-drawing charset
)
CHILD = f"""
import random, sys, time
out = sys.stdout.buffer
attacks = {ATTACKS!r}
out.write(b"".join(attacks) + b"\\n")
out.write(random.Random(8).randbytes(4000) + b"\\n")
out.write(b"".join(attacks) + b"\\x1b[31mred-survives\\x1b[0m ATTACK-DONE\\n")
out.flush()
time.sleep(300)
"""
NEEDLES = (
    b"\x1bc",
    b"pwned-title",
    b"\x1b]52",
    b"\x1bP+q",
    b"\x1b[5;5H",
    MOUSE_OFF,
    b"\x1b[?1006l",
    b"\xc2\x9b",
    b"\x1b(0",
)


def last_sgr(shown: bytes, text: bytes) -> bytes:
    """The SGR sequence in force where `text` was last drawn."""
    at = shown.rindex(text)
    start = shown.rindex(b"\x1b[", 0, at)
    return shown[start : shown.index(b"m", start) + 1]


def test_child_output_never_reaches_the_terminal(tmp_path: Path, tag: str) -> None:
    child = tmp_path / "evil.py"
    child.write_text(CHILD)
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[watchers.evil]
cmd = ["{sys.executable}", "{child}"]
env = {{ TEST_TAG = "{tag}" }}
graceful_timeout = 2
"""
    )
    run = PtyRun(config)
    try:
        wait_until_sync(lambda: run.seen(ENTER_ALT_SCREEN), timeout=30)
        wait_until_sync(lambda: run.seen(b"ATTACK-DONE"), timeout=30)  # the pane drew it
        wait_until_sync(lambda: run.seen(b"red-survives"), timeout=5)
        with run._lock:
            shown = bytes(run.output)
        assert MOUSE_ON in shown
        leaked = [needle for needle in NEEDLES if needle in shown]
        assert leaked == [], f"reached the terminal: {leaked}"
        assert LEAVE_ALT_SCREEN not in shown
        # SGR red came through: "red-survives" is drawn in another colour than the rest
        assert last_sgr(shown, b"red-survives") != last_sgr(shown, b" ATTACK-DONE")
        run.proc.send_signal(signal.SIGTERM)
        output = run.finish(30)
        assert run.proc.returncode == 0
        assert output.rfind(LEAVE_ALT_SCREEN) > output.rfind(ENTER_ALT_SCREEN)
    finally:
        run.close()
        kill_tagged(tag)
    assert tagged_pids(tag) == []


def test_the_sanitiser_keeps_colours_and_drops_every_other_control() -> None:
    generator = random.Random(3)
    for _ in range(300):
        text = generator.randbytes(200).decode("utf-8", "replace") + "".join(
            attack.decode("utf-8", "replace") for attack in ATTACKS
        )
        for safe in (safe_ansi(text), safe_text(text)):
            leftover = safe.replace("\x1b[31m", "").replace("\x1b[0m", "")
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in leftover), safe
    assert safe_ansi("\tx\x1b[1;31mred\x1b[0m") == "        x\x1b[1;31mred\x1b[0m"
    assert safe_text("\x1b[1;31mred\x1b[0m") == "red"
    assert safe_text("plain line") == "plain line"

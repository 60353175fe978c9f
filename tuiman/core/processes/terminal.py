"""A process' pseudo-terminal (docs/terminals.md): opening it, its size, the child taking it as
controlling terminal, and reading its master side without blocking the loop.

What the master yields goes two ways: as text, escape sequences included, to whoever draws a
terminal (the UI's emulator), and reduced to the lines a reader wants — no escape sequences,
carriage returns and backspaces applied — to the ring buffer, the log files and headless.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import fcntl
import os
import re
import struct
import termios
from collections import deque
from collections.abc import Callable

from tuiman.core.line_text import terminal_line

DEFAULT_SIZE = (24, 80)  # rows, columns: until a front end says how big its pane is
MAX_SIZE = 1000
TAIL_CHARS = 256 * 1024  # raw text kept per process, replayed when a front end starts showing it
READ_CHUNK = 65536
MAX_READS_PER_WAKE = 4
MAX_LINE_CHARS = 64 * 1024

TextCallback = Callable[[str], None]
LinesCallback = Callable[[list[tuple[str, bool]]], None]


def open_pty(rows: int, cols: int) -> tuple[int, int]:
    """(master, slave), both close-on-exec; the master non-blocking and already sized."""
    master, slave = os.openpty()
    set_size(master, rows, cols)
    os.set_blocking(master, False)
    return master, slave


def set_size(fd: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ: the kernel sends SIGWINCH to the terminal's foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def take_controlling_terminal() -> None:
    """In the child, after setsid and the dup2 of the slave onto 0/1/2."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


# -- reducing what a terminal program writes to lines ------------------------------------------

_SEQUENCE = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, DCS, SOS, PM, APC strings
    r"|[ -/]*(?![\[\]PX^_])[0-~]"  # two-byte and nF sequences
    r")"
)
_INCOMPLETE_LIMIT = 4096  # an "escape sequence" longer than this is garbage, not held back
_KEEP_CONTROLS = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")


class LineReducer:
    """Raw terminal text in, finished lines out: ``(text, partial)`` as `LineSplitter` gives.

    Escape sequences are dropped except the erase-in-line one a progress bar uses; carriage
    returns and backspaces are applied (`terminal_line`). A sequence cut across two reads is held
    back until its end arrives.
    """

    __slots__ = ("_held", "_line")

    def __init__(self) -> None:
        self._line = ""  # the unfinished line: text, \r, \b and ESC [ K only
        self._held = ""  # the start of an escape sequence whose end has not arrived yet

    def feed(self, text: str) -> list[tuple[str, bool]]:
        if self._held:
            text, self._held = self._held + text, ""
        escape = text.rfind("\x1b")
        if escape >= 0 and len(text) - escape < _INCOMPLETE_LIMIT:
            match = _SEQUENCE.match(text, escape)
            if match is None or match.end() > len(text):
                text, self._held = text[:escape], text[escape:]
        if "\x1b" in text:
            text = _SEQUENCE.sub(_kept_sequence, text)
        text = _KEEP_CONTROLS.sub("", text) if _needs_cleaning(text) else text
        pieces = text.split("\n")
        lines: list[tuple[str, bool]] = []
        first = self._line + pieces[0]
        if len(pieces) == 1:
            self._line = self._cut_long(first, lines)
            return lines
        lines.append((_finished(first), False))
        lines.extend((_finished(piece), False) for piece in pieces[1:-1])
        self._line = self._cut_long(pieces[-1], lines)
        return lines

    def flush(self) -> list[tuple[str, bool]]:
        line, self._line, self._held = self._line, "", ""
        return [(terminal_line(line), False)] if line.strip("\r") else []

    @staticmethod
    def _cut_long(line: str, lines: list[tuple[str, bool]]) -> str:
        while len(line) > MAX_LINE_CHARS:
            lines.append((terminal_line(line[:MAX_LINE_CHARS]), True))
            line = line[MAX_LINE_CHARS:]
        return line


def _finished(line: str) -> str:
    # A terminal's line ends in "\r\n": that carriage return overwrites nothing.
    return terminal_line(line[:-1] if line.endswith("\r") else line)


def _kept_sequence(match: re.Match[str]) -> str:
    sequence = match.group()
    return sequence if sequence[-1] == "K" and sequence[1] == "[" else ""


def _needs_cleaning(text: str) -> bool:
    return not text.isprintable() and _KEEP_CONTROLS.search(text) is not None


# -- the master side ----------------------------------------------------------------------------


class TerminalMaster:
    """Reads a pty's master on the loop (non-blocking, a bounded number of reads per wake-up).

    The slave's last holder closing it makes the read fail with EIO: the stream has ended. The
    master itself stays open for the input writer until `close`.
    """

    def __init__(
        self,
        fd: int,
        loop: asyncio.AbstractEventLoop,
        on_text: TextCallback,
        on_lines: LinesCallback,
    ) -> None:
        self.fd = fd
        self._loop = loop
        self._on_text = on_text
        self._on_lines = on_lines
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._reducer = LineReducer()
        self._tail: deque[str] = deque()
        self._tail_chars = 0
        self.written = 0  # characters read so far: orders the tail against the live events
        self.reading = True
        self.closed = False
        loop.add_reader(fd, self._read)

    @property
    def size(self) -> tuple[int, int]:
        return get_size(self.fd) if not self.closed else DEFAULT_SIZE

    def resize(self, rows: int, cols: int) -> bool:
        if self.closed:
            return False
        with contextlib.suppress(OSError):
            set_size(self.fd, rows, cols)
            return True
        return False

    def tail(self) -> str:
        """The most recent raw text (about `TAIL_CHARS`), for a front end to replay."""
        return "".join(self._tail)

    def _read(self) -> None:
        for _ in range(MAX_READS_PER_WAKE):
            try:
                chunk = os.read(self.fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:  # EIO: nobody holds the slave any more
                chunk = b""
            if not chunk:
                self.end()
                return
            self._take(self._decoder.decode(chunk))
            if len(chunk) < READ_CHUNK:
                return

    def _take(self, text: str) -> None:
        if not text:
            return
        self._keep(text)
        self.written += len(text)
        self._on_text(text)
        lines = self._reducer.feed(text)
        if lines:
            self._on_lines(lines)

    def _keep(self, text: str) -> None:
        tail = self._tail
        tail.append(text)
        self._tail_chars += len(text)
        while self._tail_chars > TAIL_CHARS and len(tail) > 1:
            self._tail_chars -= len(tail.popleft())

    def drain(self) -> None:
        """Read what is buffered now (the process has exited)."""
        if self.reading:
            self._read()

    def end(self) -> None:
        """No more reading: what is left of the last line goes out."""
        if not self.reading:
            return
        self.reading = False
        self._loop.remove_reader(self.fd)
        self._take(self._decoder.decode(b"", final=True))
        rest = self._reducer.flush()
        if rest:
            self._on_lines(rest)

    def close(self) -> None:
        self.end()
        if not self.closed:
            self.closed = True
            os.close(self.fd)

"""Process output (docs/output-and-stats.md#output): line splitting, the per-watcher ring buffer and
ANSI stripping. The log files are in `log_files`.

Stdlib only. `LineSplitter` and `OutputBuffer` run on the event loop.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import NamedTuple

MAX_LINE_BYTES = 64 * 1024


class OutputLine(NamedTuple):
    """One line in the ring buffer. A NamedTuple: immutable like a frozen dataclass, made
    three times faster (one of these per line of output)."""

    time: float  # wall clock, for display only
    pid: int
    wid: int
    stream: str  # "stdout" | "stderr"
    text: str
    partial: bool = False  # this piece of an over-long line continues in the next one


def output_lines(
    time: float, pid: int, wid: int, stream: str, texts: list[str], pieces: list[tuple[str, bool]]
) -> list[OutputLine]:
    """One `OutputLine` per text, ``pieces`` giving each one's `partial` flag."""
    new = tuple.__new__  # skips the NamedTuple's own __new__, a Python call per line
    return [
        new(OutputLine, (time, pid, wid, stream, text, partial))
        for text, (_, partial) in zip(texts, pieces, strict=True)
    ]


class LineSplitter:
    """Turns one stream's byte chunks into decoded ``(text, partial)`` lines.

    "\\n" ends a line and a "\\r" just before it is dropped. A line longer than
    ``max_line_bytes`` is cut into pieces of at most that many bytes, never inside a UTF-8
    sequence; every piece but the last has ``partial=True`` (as docker and journald do). The
    result depends only on the bytes, not on how they were chunked. Bytes that are not UTF-8
    become U+FFFD. `flush` treats EOF as a line end, so a final unterminated line comes out with
    ``partial=False``.
    """

    __slots__ = ("_buf", "_max")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        if max_line_bytes < 4:
            raise ValueError("max_line_bytes must hold one UTF-8 sequence (>= 4)")
        self._max = max_line_bytes
        self._buf = bytearray()  # never more than max_line_bytes + 1 between calls

    def feed(self, chunk: bytes) -> list[tuple[str, bool]]:
        buf = self._buf
        scan = len(buf)  # the held-back bytes contain no newline
        buf += chunk
        lines: list[tuple[str, bool]] = []
        start = 0
        last = buf.rfind(b"\n", scan)
        if last > 0 and self._whole_lines_fit(last):
            # The common case, in bulk: one decode and one split for every complete line. "\n"
            # is never part of a UTF-8 sequence, so the U+FFFDs come out as line by line.
            lines = [(text, False) for text in buf[:last].decode("utf-8", "replace").split("\n")]
            start = scan = last + 1
        while (newline := buf.find(b"\n", scan)) != -1:
            end = newline - 1 if newline > start and buf[newline - 1] == 0x0D else newline
            self._cut(start, end, lines, final=True)
            start = scan = newline + 1
        end = len(buf)
        # A trailing "\r" may belong to a "\r\n" split across chunks: keep it out of the
        # length check so the cut lands where it would have without the split.
        if end > start and buf[end - 1] == 0x0D:
            end -= 1
        start = self._cut(start, end, lines, final=False)
        del buf[:start]  # CPython drops a bytearray's head in O(1)
        return lines

    def _whole_lines_fit(self, end: int) -> bool:
        """No "\\r" before ``end`` and no line longer than the limit: the bulk path's terms."""
        buf = self._buf
        if buf.find(b"\r", 0, end) != -1:
            return False
        return end <= self._max or max(map(len, buf[:end].split(b"\n"))) <= self._max

    def flush(self) -> list[tuple[str, bool]]:
        buf = self._buf
        if not buf:
            return []
        lines: list[tuple[str, bool]] = []
        self._cut(0, len(buf) - 1 if buf[-1] == 0x0D else len(buf), lines, final=True)
        buf.clear()
        return lines

    def _cut(self, start: int, end: int, lines: list[tuple[str, bool]], *, final: bool) -> int:
        buf, limit = self._buf, self._max
        while end - start > limit:
            cut = start + limit
            for back in range(4):  # move a straddling UTF-8 sequence whole into the next piece
                if buf[cut - back] & 0xC0 != 0x80:
                    cut -= back
                    break
            lines.append((buf[start:cut].decode("utf-8", "replace"), True))
            start = cut
        if final:
            lines.append((buf[start:end].decode("utf-8", "replace"), False))
            start = end
        return start


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class OutputBuffer:
    """A watcher's recent lines, bounded by ``max_lines`` and by ``max_bytes``.

    Bytes are the exact UTF-8 length of each line's text (free for ASCII); the per-line overhead
    is not counted. The newest line is always kept, even if it alone exceeds ``max_bytes``.
    """

    __slots__ = ("_lines", "_nbytes", "max_bytes", "max_lines", "total_appended")

    def __init__(self, max_lines: int = 5000, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.total_appended = 0
        self._lines: deque[OutputLine] = deque()
        self._nbytes = 0

    def append(self, line: OutputLine) -> None:
        lines = self._lines
        lines.append(line)
        self._nbytes += _utf8_len(line.text)
        self.total_appended += 1
        while len(lines) > self.max_lines or (self._nbytes > self.max_bytes and len(lines) > 1):
            self._nbytes -= _utf8_len(lines.popleft().text)

    def extend(self, new_lines: list[OutputLine]) -> None:
        """`append` each of ``new_lines``; the same lines are kept, trimmed once at the end."""
        lines = self._lines
        lines.extend(new_lines)
        self._nbytes += _utf8_len("".join([line.text for line in new_lines]))
        self.total_appended += len(new_lines)
        if (excess := len(lines) - self.max_lines) > 0:
            popleft = lines.popleft
            self._nbytes -= _utf8_len("".join([popleft().text for _ in range(excess)]))
        while self._nbytes > self.max_bytes and len(lines) > 1:
            self._nbytes -= _utf8_len(lines.popleft().text)

    def lines(self, pid: int | None = None, last: int | None = None) -> list[OutputLine]:
        """Oldest first; only ``pid``'s lines if given; only the newest ``last`` if given."""
        newest_first: Iterator[OutputLine] = reversed(self._lines)
        if pid is not None:
            newest_first = (line for line in newest_first if line.pid == pid)
        selected = list(islice(newest_first, None if last is None else max(last, 0)))
        selected.reverse()
        return selected

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._lines)


def mask_lines(texts: list[str], redact: Callable[[str], str] | None) -> list[str]:
    """``texts`` with ``redact`` applied to each, looking line by line only when some secret
    shows up in the whole batch (a secret holds no newline that a line could match)."""
    if redact is None:
        return texts
    joined = "\n".join(texts)
    if redact(joined) == joined:
        return texts
    return [redact(text) for text in texts]


_ANSI_RE = re.compile(
    r"\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement
    r"|\x1b[ -/]*[0-~]"  # two-byte and nF sequences: ESC 7, ESC ( B
    r"|\x1b"  # a lone or truncated ESC
)


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences."""
    return _ANSI_RE.sub("", text) if "\x1b" in text else text

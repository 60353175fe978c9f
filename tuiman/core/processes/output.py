"""Process output (docs/output-and-stats.md#output): line splitting, the per-watcher ring buffer and
ANSI stripping. The log files are in `log_files`.

Stdlib only. `LineSplitter` and `OutputBuffer` run on the event loop.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
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


class OutputChunk(NamedTuple):
    """The lines of one read of one process' stream, as the ring buffer and the log files take
    them: one object per chunk, not per line. Its lists are never changed once made."""

    time: float  # wall clock, for display only
    pid: int
    wid: int
    stream: str
    texts: list[str]
    partials: list[bool] | None = None  # each line's `partial` flag; None: none is partial

    def lines(self) -> list[OutputLine]:
        new = tuple.__new__  # skips the NamedTuple's own __new__, a Python call per line
        head = (self.time, self.pid, self.wid, self.stream)
        if self.partials is None:
            return [new(OutputLine, (*head, text, False)) for text in self.texts]
        return [
            new(OutputLine, (*head, text, partial))
            for text, partial in zip(self.texts, self.partials, strict=True)
        ]

    def tail(self, start: int) -> OutputChunk:
        """Its lines from ``start`` on."""
        partials = None if self.partials is None else self.partials[start:]
        return self._replace(texts=self.texts[start:], partials=partials)

    @classmethod
    def of(cls, line: OutputLine) -> OutputChunk:
        return cls(
            line.time,
            line.pid,
            line.wid,
            line.stream,
            [line.text],
            [True] if line.partial else None,
        )


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
    is not counted. The newest line is always kept, even if it alone exceeds ``max_bytes``. The
    lines are kept as the chunks they came in (`OutputChunk`), trimmed at the oldest end as if
    line by line; `lines` makes the `OutputLine`s of what it returns only.
    """

    __slots__ = ("_chunks", "_count", "_nbytes", "max_bytes", "max_lines", "total_appended")

    def __init__(self, max_lines: int = 5000, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.total_appended = 0
        self._chunks: deque[tuple[OutputChunk, int]] = deque()  # with its UTF-8 bytes
        self._count = 0
        self._nbytes = 0

    def append(self, line: OutputLine) -> None:
        self.add(OutputChunk.of(line))

    def add(self, chunk: OutputChunk) -> None:
        """Its lines, newest last; the oldest lines go as `append` one by one would drop them."""
        count = len(chunk.texts)
        if not count:
            return
        size = _utf8_len("".join(chunk.texts))
        self._chunks.append((chunk, size))
        self._count += count
        self._nbytes += size
        self.total_appended += count
        while self._count > self.max_lines:
            self._drop_oldest(self._count - self.max_lines)
        while self._nbytes > self.max_bytes and self._count > 1:
            oldest, oldest_size = self._chunks[0]
            if len(self._chunks) > 1 and self._nbytes - oldest_size > self.max_bytes:
                self._drop_oldest(len(oldest.texts))
                continue
            over, dropping = self._nbytes - self.max_bytes, 0
            for text in oldest.texts:  # the cut is inside the oldest chunk: find it
                if over <= 0 or self._count - dropping <= 1:
                    break
                over -= _utf8_len(text)
                dropping += 1
            self._drop_oldest(dropping)

    def _drop_oldest(self, lines: int) -> None:
        """Drop up to ``lines`` lines, all from the oldest chunk."""
        oldest, size = self._chunks[0]
        if lines >= len(oldest.texts):
            self._chunks.popleft()
            self._count -= len(oldest.texts)
            self._nbytes -= size
            return
        gone = _utf8_len("".join(oldest.texts[:lines]))
        self._chunks[0] = (oldest.tail(lines), size - gone)
        self._count -= lines
        self._nbytes -= gone

    def lines(self, pid: int | None = None, last: int | None = None) -> list[OutputLine]:
        """Oldest first; only ``pid``'s lines if given; only the newest ``last`` if given."""
        wanted = None if last is None else max(last, 0)
        newest_first: list[OutputLine] = []
        for chunk, _ in reversed(self._chunks):
            if wanted is not None and len(newest_first) >= wanted:
                break
            if pid is None or chunk.pid == pid:
                newest_first.extend(reversed(chunk.lines()))
        selected = newest_first[:wanted]
        selected.reverse()
        return selected

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return self._count


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

"""Process output (docs/output-and-stats.md#output): line splitting, the per-watcher ring buffer and
rotating log files.

Stdlib only. `LineSplitter` and `OutputBuffer` run on the event loop. `OutputFileSink` only
queues there; formatting, ANSI stripping and all file I/O happen on one `OutputWriterThread`
shared by every sink, so a slow disk never stalls the loop and 500 watchers never mean 500
threads (bench/README.md#targets).
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, TypeAlias

if TYPE_CHECKING:
    from tuiman.core.config.model import OutputConfig

MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class OutputLine:
    time: float  # wall clock, for display only
    pid: int
    wid: int
    stream: str  # "stdout" | "stderr"
    text: str
    partial: bool = False  # this piece of an over-long line continues in the next one


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


_ANSI_RE = re.compile(
    r"\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement
    r"|\x1b[ -/]*[0-~]"  # two-byte and nF sequences: ESC 7, ESC ( B
    r"|\x1b"  # a lone or truncated ESC
)


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences."""
    return _ANSI_RE.sub("", text) if "\x1b" in text else text


_Item: TypeAlias = "tuple[OutputFileSink, OutputLine] | Callable[[], None] | None"
_LINE_OVERHEAD = 64  # rough bytes per queued line beyond its text
_BATCH = 1024


class OutputWriterThread:
    """One daemon thread doing the file I/O of every `OutputFileSink` attached to it.

    Nothing here blocks the caller. Once ``max_backlog_bytes`` of text is waiting (the disk is
    slower than the children), further lines are dropped and counted on their sink. Calls
    (open, reopen, close) are never dropped and run in order with the lines. The thread starts
    on first use and again after `stop`.
    """

    def __init__(self, max_backlog_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_backlog_bytes = max_backlog_bytes
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._backlog = 0
        self._thread: threading.Thread | None = None

    def submit_line(self, sink: OutputFileSink, line: OutputLine) -> bool:
        """Queue ``line`` for ``sink``; False if it was dropped because the backlog is full."""
        with self._lock:
            if self._backlog >= self.max_backlog_bytes:
                return False
            self._backlog += len(line.text) + _LINE_OVERHEAD
            self._ensure_running()
        self._queue.put((sink, line))
        return True

    def submit_call(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the writer thread after everything queued before it."""
        with self._lock:
            self._ensure_running()
        self._queue.put(call)

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Finish the queued work and end the thread; True if it ended within ``timeout``."""
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return True
            self._queue.put(None)
        thread.join(timeout)
        return not thread.is_alive()

    def _ensure_running(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="tuiman-output", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            with suppress(queue.Empty):
                while len(batch) < _BATCH:
                    batch.append(self._queue.get_nowait())
            touched: set[OutputFileSink] = set()
            freed = 0
            for item in batch:
                if item is None:
                    stop = True
                elif isinstance(item, tuple):
                    sink, line = item
                    freed += len(line.text) + _LINE_OVERHEAD
                    touched.add(sink)
                    try:
                        sink._write(line)
                    except Exception as exc:  # a bug here must not end every sink's writer
                        sink._report(f"writing output failed: {exc!r}")
                else:
                    for sink in touched:
                        sink._each(_LogFile.flush)
                    touched.clear()
                    with suppress(Exception):
                        item()
            for sink in touched:
                sink._each(_LogFile.flush)  # once per batch, not per line
            with self._lock:
                self._backlog -= freed


SHARED_WRITER = OutputWriterThread()  # what sinks use unless given another; starts lazily
_RETRY_DELAY = 5.0  # seconds before retrying a file that failed
_MAX_ERRORS = 100


class _LogFile:
    """One size-rotated log file; used only on the writer thread."""

    def __init__(self, path: Path, config: OutputConfig, report: Callable[[str], None]) -> None:
        self.path = path
        self.max_bytes = config.max_bytes
        self.backup_count = config.backup_count
        self._report = report
        self._handle: BinaryIO | None = None
        self._size = 0
        self._retry_at = 0.0  # monotonic
        self._last_error: str | None = None

    def open(self, mode: Literal["ab", "wb"] = "ab") -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, mode)  # noqa: SIM115 - kept open until close()
            self._size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            self._fail("cannot open", exc)
            return False
        self._handle = handle
        return True

    def write(self, data: bytes) -> bool:
        if self._handle is None and (time.monotonic() < self._retry_at or not self.open()):
            return False
        if (
            0 < self.max_bytes < self._size + len(data)
            and self._size > 0
            and time.monotonic() >= self._retry_at
            and not self._rotate()
        ):
            return False
        try:
            assert self._handle is not None
            self._handle.write(data)
        except OSError as exc:
            self._fail("cannot write", exc)
            self.close()
            return False
        self._size += len(data)
        return True

    def flush(self) -> None:
        try:
            if self._handle is not None:
                self._handle.flush()
        except OSError as exc:
            self._fail("cannot write", exc)
            self.close()

    def close(self) -> None:
        handle, self._handle = self._handle, None
        try:
            if handle is not None:
                handle.close()
        except OSError as exc:
            self._fail("cannot write", exc)

    def reopen(self) -> None:
        self.close()
        self._retry_at = 0.0
        self._last_error = None
        self.open()

    def _rotate(self) -> bool:
        self.close()
        if self.backup_count <= 0:
            return self.open("wb")  # no backups: start the file over
        name = self.path.name
        try:
            for index in range(self.backup_count, 0, -1):
                older = self.path.with_name(f"{name}.{index - 1}") if index > 1 else self.path
                with suppress(FileNotFoundError):  # logrotate may have moved it already
                    os.replace(older, self.path.with_name(f"{name}.{index}"))
        except OSError as exc:
            # Keep appending to the big file; the retry delay paces further attempts.
            self._fail("cannot rotate", exc)
        return self.open()

    def _fail(self, what: str, exc: OSError) -> None:
        self._retry_at = time.monotonic() + _RETRY_DELAY
        message = f"{self.path}: {what}: {exc.strerror or exc}"
        if message != self._last_error:  # a file that keeps failing is reported once per reopen
            self._last_error = message
            self._report(message)


class OutputFileSink:
    """A watcher's log files (docs/output-and-stats.md#output): routing, timestamps, ANSI stripping,
    size rotation.

    ``file`` takes both streams; ``stdout_file``/``stderr_file`` take their stream instead of
    it. Each written line is ``2025-01-31 14:05:09.123 [pid stream] text`` with ANSI codes
    stripped; the pieces of a partial line are written as separate lines. A file that would
    exceed ``max_bytes`` (0 = never) is rotated to ``.1`` … ``.backup_count``; with
    ``backup_count`` 0 it is truncated instead. `write`, `reopen` and `close` may be called on
    the event loop; only `close` waits. I/O errors never raise: each becomes a one-line entry in
    `errors` (the newest 100) and a call of ``on_error``, made on the writer thread.
    """

    def __init__(
        self,
        config: OutputConfig,
        *,
        writer: OutputWriterThread | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._routes: dict[str, Path] = {}
        for stream, own_file in (("stdout", config.stdout_file), ("stderr", config.stderr_file)):
            if (path := own_file or config.file) is not None:
                self._routes[stream] = Path(path)
        self._files = {
            path: _LogFile(path, config, self._report)
            for path in dict.fromkeys(self._routes.values())
        }
        self._writer = writer or SHARED_WRITER
        self.on_error = on_error
        self._errors: deque[str] = deque(maxlen=_MAX_ERRORS)
        self._dropped_by_queue = 0  # counted on the caller's thread
        self._dropped_by_file = 0  # counted on the writer thread
        self._stamp_second = -1
        self._stamp = ""
        self._closed: threading.Event | None = None
        if self._files:
            self._writer.submit_call(partial(self._each, _LogFile.open))

    def route(self, stream: str) -> Path | None:
        """The file ``stream``'s lines go to, if any."""
        return self._routes.get(stream)

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    @property
    def dropped(self) -> int:
        return self._dropped_by_queue + self._dropped_by_file

    def write(self, line: OutputLine) -> None:
        if (
            self._closed is None
            and line.stream in self._routes
            and not self._writer.submit_line(self, line)
        ):
            self._dropped_by_queue += 1

    def reopen(self) -> None:
        if self._closed is None and self._files:
            self._writer.submit_call(partial(self._each, _LogFile.reopen))

    def close(self, timeout: float | None = 5.0) -> bool:
        """Write what is queued, close the files; True once done within ``timeout``."""
        if self._closed is None:
            self._closed = threading.Event()
            self._writer.submit_call(self._close_all)
        return self._closed.wait(timeout)

    # Below: writer thread only.

    def _each(self, action: Callable[[_LogFile], object]) -> None:
        for log_file in self._files.values():
            action(log_file)

    def _close_all(self) -> None:
        self._each(_LogFile.close)
        assert self._closed is not None
        self._closed.set()

    def _write(self, line: OutputLine) -> None:
        second = int(line.time)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((line.time - second) * 1000)
        record = f"{self._stamp}.{millis:03d} [{line.pid} {line.stream}] {strip_ansi(line.text)}\n"
        if not self._files[self._routes[line.stream]].write(record.encode("utf-8", "replace")):
            self._dropped_by_file += 1

    def _report(self, message: str) -> None:
        self._errors.append(message)
        if self.on_error is not None:
            with suppress(Exception):
                self.on_error(message)

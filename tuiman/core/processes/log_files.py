"""Rotating log files of process output (docs/output-and-stats.md#log-files).

Stdlib only. `OutputFileSink` only queues on the event loop; formatting, ANSI stripping and all
file I/O happen on one `OutputWriterThread` shared by every sink, so a slow disk never stalls
the loop and 500 watchers never mean 500 threads (bench/README.md#targets). Every file is
opened non-blocking, so a FIFO nobody reads, or reads slowly, costs its own lines and never
the other sinks' (docs/reliability.md#log-files-never-stall-tuiman).
"""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from tuiman.core.processes.output import OutputChunk, OutputLine, strip_ansi
from tuiman.core.processes.timed_rotation import TimedRotation

if TYPE_CHECKING:
    from tuiman.core.config.model import OutputConfig

_Item: TypeAlias = "tuple[OutputFileSink, OutputChunk] | Callable[[], None] | None"
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

    def behind(self) -> bool:
        """Half the backlog is used: the files take lines slower than the children print."""
        return self._backlog * 2 >= self.max_backlog_bytes

    def submit_chunk(self, sink: OutputFileSink, chunk: OutputChunk) -> bool:
        """Queue ``chunk``'s lines for ``sink`` as one item; False if they were dropped because
        the backlog is full."""
        with self._lock:
            if self._backlog >= self.max_backlog_bytes:
                return False
            self._backlog += _backlog_bytes(chunk)
            self._ensure_running()
        self._queue.put((sink, chunk))
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
            for item in batch:
                if item is None:
                    stop = True
                elif isinstance(item, tuple):
                    sink, chunk = item
                    touched.add(sink)
                    try:
                        sink._write_chunk(chunk)
                    except Exception as exc:  # a bug here must not end every sink's writer
                        sink._report(f"writing output failed: {exc!r}")
                    # Freed chunk by chunk, not after the batch (up to 1024 chunks): a process held
                    # because the writer is `behind` is read again as soon as there is room.
                    with self._lock:
                        self._backlog -= _backlog_bytes(chunk)
                else:
                    for sink in touched:
                        sink._flush()
                    touched.clear()
                    with suppress(Exception):
                        item()
            for sink in touched:
                sink._flush()  # once per batch, not per line


def _backlog_bytes(chunk: OutputChunk) -> int:
    return sum(map(len, chunk.texts)) + _LINE_OVERHEAD * len(chunk.texts)


SHARED_WRITER = OutputWriterThread()  # what sinks use unless given another; starts lazily
_RETRY_DELAY = 5.0  # seconds before retrying a file that failed
_MAX_ERRORS = 100
_FLUSH_AT = 64 * 1024  # bytes gathered before a write(2)
_MAX_PENDING = 1024 * 1024  # bytes a reader that does not keep up may owe; then lines drop
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


class _LogFile:
    """One size-rotated log file; used only on the writer thread.

    Records gather in ``_pending`` and go out in one write(2) per batch. The file is opened
    non-blocking: a pipe or FIFO whose reader is slow keeps what it could not take in
    ``_pending`` (at most `_MAX_PENDING` bytes), and lines beyond that are dropped and counted.
    Only a regular file is rotated (renaming /dev/stdout would be a disaster).
    """

    def __init__(
        self,
        path: Path,
        config: OutputConfig,
        report: Callable[[str], None],
        count_lost: Callable[[int], None],
    ) -> None:
        self.path = path
        self.max_bytes = config.max_bytes
        self.backup_count = config.backup_count
        self._config = config
        self._timed: TimedRotation | None = None  # made on the writer thread (it stats)
        self._identity: tuple[int, int] | None = None  # (dev, ino) of the open file
        self._moved_checked = False  # reopen_moved: stat the path once per batch
        self._report = report
        self._count_lost = count_lost
        self._fd: int | None = None
        self._regular = False
        self._pending = bytearray()
        self._size = 0  # bytes in the file, counting those still pending
        self._retry_at = 0.0  # monotonic
        self._failing = False  # in a burst of failures: reported once, until a write succeeds

    def open(self, truncate: bool = False) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, _OPEN_FLAGS | (os.O_TRUNC if truncate else os.O_APPEND), 0o644)
        except OSError as exc:
            self._fail("cannot open", exc)
            return False
        try:
            info = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            self._fail("cannot open", exc)
            return False
        self._fd = fd
        self._regular = stat.S_ISREG(info.st_mode)
        self._size = info.st_size if self._regular else 0
        self._identity = (info.st_dev, info.st_ino)
        config = self._config
        if self._timed is None and config.rotate_when is not None and self._regular:
            self._timed = TimedRotation(
                self.path,
                config.rotate_when,
                config.rotate_interval,
                config.rotate_utc,
                self.backup_count,
            )
        return True

    def write_block(self, data: bytes, count: int, records: Callable[[], list[bytes]]) -> int:
        """Write ``data``, which is ``count`` records; the number of records written. In one
        piece when nothing can rotate in between and the file takes it whole; otherwise each of
        ``records()`` through `write`, with its per-record checks."""
        if (
            self._fd is None
            or self._timed is not None
            or self._config.reopen_moved
            or (self._regular and 0 < self.max_bytes < self._size + len(data))
        ):
            return sum(map(self.write, records()))
        if len(self._pending) + len(data) > _FLUSH_AT:
            self.flush()
            if self._fd is None or len(self._pending) + len(data) > _MAX_PENDING:
                return sum(map(self.write, records()))  # counts what fails, one by one
        self._pending += data
        self._size += len(data)
        return count

    def write(self, data: bytes) -> bool:
        if self._fd is not None and self._config.reopen_moved and not self._moved_checked:
            self._moved_checked = True
            if self._moved():
                self.flush()
                self._close_fd()
        if self._fd is None and (time.monotonic() < self._retry_at or not self.open()):
            return False
        if self._timed is not None and self._timed.due(time.time()) and not self._rotate_timed():
            return False
        if (
            self._regular
            and 0 < self.max_bytes < self._size + len(data)
            and self._size > 0
            and time.monotonic() >= self._retry_at
            and not self._rotate()
        ):
            return False
        if len(self._pending) + len(data) > _FLUSH_AT:
            self.flush()
            if self._fd is None:
                return False
            if len(self._pending) + len(data) > _MAX_PENDING:
                self._fail("cannot write", OSError(errno.EAGAIN, "the reader is not keeping up"))
                return False
        self._pending += data
        self._size += len(data)
        return True

    def flush(self) -> None:
        self._moved_checked = False  # the next batch looks at the path again
        pending, fd = self._pending, self._fd
        if fd is None or not pending:
            return
        try:
            while pending:
                del pending[: os.write(fd, pending)]
        except BlockingIOError:
            return  # a pipe that is full for now: the rest goes out with the next batch
        except OSError as exc:
            self._lose_pending()
            self._fail("cannot write", exc)
            self._close_fd()
            return
        self._failing = False

    def close(self) -> None:
        self.flush()
        self._lose_pending()  # a reader that never caught up
        self._close_fd()

    def reopen(self) -> None:
        self.close()
        self._retry_at = 0.0
        self._failing = False
        self.open()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with suppress(OSError):  # the writes' errors were reported already
                os.close(fd)

    def _lose_pending(self) -> None:
        if self._pending:
            self._count_lost(self._pending.count(b"\n"))
            self._pending.clear()

    def _rotate(self) -> bool:
        self.close()
        if self.backup_count <= 0:
            return self.open(truncate=True)  # no backups: start the file over
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

    def _moved(self) -> bool:
        """The path no longer names the open file (moved or deleted: logrotate), as Circus'
        WatchedFileStream checks it."""
        try:
            info = os.stat(self.path)
        except OSError:
            return True
        return (info.st_dev, info.st_ino) != self._identity

    def _rotate_timed(self) -> bool:
        timed = self._timed
        assert timed is not None
        now = time.time()
        self.close()
        try:
            target = timed.rotated_name(now)
            with suppress(FileNotFoundError):
                os.remove(target)
            with suppress(FileNotFoundError):
                os.rename(self.path, target)
            for old in timed.files_to_delete():
                os.remove(old)
        except OSError as exc:
            self._fail("cannot rotate", exc)
        timed.advance(now)
        return self.open()

    def _fail(self, what: str, exc: OSError) -> None:
        self._retry_at = time.monotonic() + _RETRY_DELAY
        if not self._failing:  # once per burst: again only after a write went through
            self._failing = True
            self._report(f"{self.path}: {what}: {exc.strerror or exc}")


class OutputFileSink:
    """A watcher's log files (docs/output-and-stats.md#output): routing, timestamps, ANSI stripping,
    size rotation.

    ``file`` takes both streams; ``stdout_file``/``stderr_file`` take their stream instead of
    it. Each written line is ``2025-01-31 14:05:09.123 [pid stream] text`` with ANSI codes
    stripped; the pieces of a partial line are written as separate lines. A file that would
    exceed ``max_bytes`` (0 = never) is rotated to ``.1`` … ``.backup_count``; with
    ``backup_count`` 0 it is truncated instead. `write`, `reopen` and `close` may be called on
    the event loop; only `close` waits. I/O errors never raise: the first of each burst of
    failures of a file becomes a one-line entry in `errors` (the newest 100) and a call of
    ``on_error``, made on the writer thread; `dropped` counts the lines lost.
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
            path: _LogFile(path, config, self._report, self._count_lost)
            for path in dict.fromkeys(self._routes.values())
        }
        self._writer = writer or SHARED_WRITER
        self.on_error = on_error
        self._errors: deque[str] = deque(maxlen=_MAX_ERRORS)
        self._dropped_by_queue = 0  # counted on the caller's thread
        self._dropped_by_file = 0  # counted on the writer thread
        self._stamp_second = -1
        self._stamp = ""
        self._line_format = circus_line_format(config)
        self._raw = config.time_format is None and config.line_format == "raw"
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
        self.write_chunk(OutputChunk.of(line))

    def behind(self) -> bool:
        """Its writer thread is behind: reading more output now would end in dropped lines."""
        return self._writer.behind()

    def write_chunk(self, chunk: OutputChunk) -> None:
        """Queue ``chunk``'s lines in one hand-off to the writer thread."""
        if (
            chunk.texts
            and self._closed is None
            and chunk.stream in self._routes
            and not self._writer.submit_chunk(self, chunk)
        ):
            self._dropped_by_queue += len(chunk.texts)

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

    def _flush(self) -> None:
        self._each(_LogFile.flush)

    def _close_all(self) -> None:
        self._each(_LogFile.close)
        assert self._closed is not None
        self._closed.set()

    def _write_chunk(self, chunk: OutputChunk) -> None:
        texts = chunk.texts
        if chunk.partials is None and self._raw:
            # The common case, in bulk: whole lines as written, one join and one encode.
            data = ("\n".join(texts) + "\n").encode("utf-8", "replace")

            def records() -> list[bytes]:
                return [(text + "\n").encode("utf-8", "replace") for text in texts]
        else:
            if chunk.partials is None and self._line_format is None:
                # One timestamp and prefix for the chunk (its lines share time, pid, stream).
                prefix = self._tuiman_record(
                    OutputLine(chunk.time, chunk.pid, chunk.wid, chunk.stream, "")
                )[:-1]
                strings = [f"{prefix}{strip_ansi(text)}\n" for text in texts]
            else:
                strings = list(map(self._line_format or self._tuiman_record, chunk.lines()))
            data = "".join(strings).encode("utf-8", "replace")

            def records() -> list[bytes]:
                return [string.encode("utf-8", "replace") for string in strings]

        log_file = self._files[self._routes[chunk.stream]]
        self._dropped_by_file += len(texts) - log_file.write_block(data, len(texts), records)

    def _tuiman_record(self, line: OutputLine) -> str:
        second = int(line.time)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((line.time - second) * 1000)
        return f"{self._stamp}.{millis:03d} [{line.pid} {line.stream}] {strip_ansi(line.text)}\n"

    def _count_lost(self, lines: int) -> None:
        self._dropped_by_file += lines

    def _report(self, message: str) -> None:
        self._errors.append(message)
        if self.on_error is not None:
            with suppress(Exception):
                self.on_error(message)


def circus_line_format(config: OutputConfig) -> Callable[[OutputLine], str] | None:
    """How Circus' FileStream writes a line: as written, or with `time_format` as
    `TIME [pid] | line`. None: tuiman's own format."""
    time_format = config.time_format
    if time_format is not None:

        def with_prefix(line: OutputLine) -> str:
            stamp = datetime.fromtimestamp(line.time).strftime(time_format)
            return f"{stamp} [{line.pid}] | {line.text}\n"

        return with_prefix
    if config.line_format == "raw":
        return lambda line: line.text if line.partial else line.text + "\n"
    return None

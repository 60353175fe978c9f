"""A flood of output from several real children (docs/output-and-stats.md#output): every
numbered line reaches the log file exactly once and in order per child, the ring buffer keeps
the newest ones in order, secrets stay masked — with and without a subscriber to output events.
And the bulk paths (splitting a chunk, adding it to the buffer, writing it to a file) give
exactly what the line-by-line ones give."""

from __future__ import annotations

import fcntl
import os
import sys
import termios
import threading
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.core import ArbiterFactory
from tests.support.waiting import wait_until
from tuiman.core.bus import SKIP_OUTPUT, Bus
from tuiman.core.config.model import OutputConfig
from tuiman.core.events import Kind
from tuiman.core.processes import process as process_module
from tuiman.core.processes.log_files import OutputFileSink, OutputWriterThread
from tuiman.core.processes.output import LineSplitter, OutputBuffer, OutputChunk, OutputLine
from tuiman.core.supervision import arbiter as arbiter_module

PY = sys.executable
CHILDREN = 4
LINES = 20_000
SECRET = "hunter2-is-the-secret"
# Each child writes its lines in 8 KiB blocks, as stdio does on a pipe: as fast as it can.
FLOOD = (
    "import os, sys, time\n"
    "pid = os.getpid()\n"
    "secret = os.environ['API_TOKEN']\n"
    "lines = [f'{pid} {s:06d} ' + (secret if s % 1000 == 7 else 'y' * 40) + '\\n'"
    " for s in range(LINES)]\n"
    "data = ''.join(lines).encode()\n"
    "for start in range(0, len(data), 8192):\n"
    "    os.write(1, data[start:start + 8192])\n"
    "time.sleep(300)\n"
).replace("LINES", str(LINES))


def numbered(texts: list[str]) -> dict[int, list[int]]:
    """pid -> the sequence numbers of its lines, in the order they came."""
    seen: dict[int, list[int]] = defaultdict(list)
    for text in texts:
        pid, seq, rest = text.split(" ", 2)
        assert rest == ("********" if int(seq) % 1000 == 7 else "y" * 40), text
        seen[int(pid)].append(int(seq))
    return seen


@pytest.mark.parametrize("subscribed", [False, True], ids=["no-subscriber", "subscriber"])
async def test_every_line_of_a_flood_arrives_once_and_in_order(
    arbiter_factory: ArbiterFactory, tmp_path: Path, subscribed: bool
) -> None:
    log = tmp_path / "flood.log"
    arbiter = arbiter_factory(
        f"""
        [watchers.flood]
        cmd = [{PY!r}, "-c", {FLOOD!r}]
        numprocesses = {CHILDREN}
        env = {{ API_TOKEN = "{SECRET}" }}

        [watchers.flood.output]
        file = {str(log)!r}
        line_format = "raw"
        max_bytes = 0
        """
    )
    # A subscriber to everything but output, always: it must not make output events appear.
    others = arbiter.bus.subscribe(
        maxsize=1_000_000, snapshot=False, skip_kinds=frozenset({Kind.OUTPUT})
    )
    events = arbiter.bus.subscribe(maxsize=1_000_000, snapshot=False) if subscribed else None
    await arbiter.start()
    total = CHILDREN * LINES

    def file_lines() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    await wait_until(lambda: len(file_lines()) >= total, timeout=60)
    written = file_lines()
    in_file = numbered(written)
    assert sorted(in_file) == sorted(arbiter.get("flood").processes)
    assert all(seqs == list(range(LINES)) for seqs in in_file.values())
    assert SECRET not in log.read_text()

    buffer = arbiter.get("flood").output
    assert buffer.total_appended == total
    tail = numbered([item.text for item in buffer.lines()])
    assert len(buffer) == min(total, buffer.max_lines)
    for seqs in tail.values():  # the newest lines of each child, consecutive, up to its last
        assert seqs == list(range(LINES - len(seqs), LINES))

    assert not any(event.kind == Kind.OUTPUT for event in others.drain())
    if events is not None:
        outputs = [e.payload["line"] for e in events.drain() if e.kind == Kind.OUTPUT]
        assert numbered(outputs) == in_file
    else:
        assert not arbiter.bus.wanted(Kind.OUTPUT)


class LineByLine(LineSplitter):
    """The splitter without its bulk path: the reference it must agree with."""

    def _whole_lines_fit(self, end: int) -> bool:
        return False


@given(
    data=st.binary(max_size=300).map(
        lambda b: b.replace(b"\x00", b"\n").replace(b"\x01", b"\r").replace(b"\x02", b"\xe2\x82")
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=8),
    limit=st.sampled_from([4, 7, 64, 1024]),
)
def test_bulk_split_equals_line_by_line(data: bytes, cuts: list[int], limit: int) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    results = []
    for splitter in (LineSplitter(limit), LineByLine(limit)):
        lines: list[tuple[str, bool]] = []
        for start, end in pairwise(bounds):
            lines += splitter.feed(data[start:end])
        results.append(lines + splitter.flush())
    assert results[0] == results[1]


class LineByLineBuffer:
    """The ring buffer's rule, line by line: the reference its chunks must agree with."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self.max_lines, self.max_bytes = max_lines, max_bytes
        self.kept: list[OutputLine] = []
        self.total_appended = 0

    def append(self, line: OutputLine) -> None:
        self.kept.append(line)
        self.total_appended += 1
        while len(self.kept) > self.max_lines or (
            self.nbytes > self.max_bytes and len(self.kept) > 1
        ):
            del self.kept[0]

    @property
    def nbytes(self) -> int:
        return sum(len(line.text.encode()) for line in self.kept)

    def __len__(self) -> int:
        return len(self.kept)

    def lines(self, pid: int | None = None, last: int | None = None) -> list[OutputLine]:
        mine = [line for line in self.kept if pid is None or line.pid == pid]
        return mine if last is None else mine[max(len(mine) - max(last, 0), 0) :]


@given(
    texts=st.lists(st.text(max_size=12), max_size=40),
    batch=st.integers(min_value=1, max_value=9),
    max_lines=st.integers(min_value=1, max_value=12),
    max_bytes=st.integers(min_value=0, max_value=60),
    last=st.none() | st.integers(min_value=-1, max_value=14),
)
def test_buffer_of_chunks_keeps_what_append_keeps(
    texts: list[str], batch: int, max_lines: int, max_bytes: int, last: int | None
) -> None:
    one_by_one, in_chunks = (
        LineByLineBuffer(max_lines, max_bytes),
        OutputBuffer(max_lines, max_bytes),
    )
    for start in range(0, len(texts), batch):
        pid = 1 + start % 2  # chunks of two processes, some with partial lines
        part = texts[start : start + batch]
        partials = [len(text) % 3 == 0 for text in part] if pid == 2 else None
        chunk = OutputChunk(1.0, pid, pid, "stdout", part, partials)
        for item in chunk.lines():
            one_by_one.append(item)
        in_chunks.add(chunk)
        assert in_chunks.lines() == one_by_one.lines()
        assert (len(in_chunks), in_chunks.nbytes) == (len(one_by_one), one_by_one.nbytes)
    for only in (None, 1, 2):
        assert in_chunks.lines(only, last) == one_by_one.lines(only, last)
    assert in_chunks.total_appended == one_by_one.total_appended == len(texts)


def test_a_batch_crossing_max_bytes_rotates_between_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "w.log"
    lines = [f"line {i:02d}" for i in range(10)]  # 7 bytes + \n
    writer = OutputWriterThread()
    sink = OutputFileSink(
        OutputConfig(file=path, line_format="raw", max_bytes=4096, backup_count=3), writer=writer
    )
    try:
        sink.write_chunk(OutputChunk(1.0, 1, 1, "stdout", lines[:2]))
        sink.write_chunk(OutputChunk(1.0, 1, 1, "stdout", ["x" * 4075]))  # fills the file
        sink.write_chunk(OutputChunk(1.0, 1, 1, "stdout", lines[2:]))  # rotated before it
        assert sink.close()
    finally:
        assert writer.stop()
    first = "line 00\nline 01\n" + "x" * 4075 + "\n"
    assert Path(f"{path}.1").read_text() == first
    assert path.read_text() == "".join(f"line {i:02d}\n" for i in range(2, 10))
    assert sink.dropped == 0


def test_output_is_wanted_by_a_subscriber_or_tap_that_does_not_skip_it() -> None:
    bus = Bus()
    assert not bus.wanted(Kind.OUTPUT)
    skipping = bus.subscribe(skip_kinds=SKIP_OUTPUT)
    bus.add_tap(lambda event: None, SKIP_OUTPUT)
    assert not bus.wanted(Kind.OUTPUT) and bus.wanted(Kind.SPAWN)
    bus.emit(Kind.OUTPUT, "w", {"pid": 1, "wid": 1, "stream": "stdout", "line": "x"})
    assert [event.kind for event in skipping.drain()] == [Kind.SNAPSHOT]
    seen: list[str] = []
    bus.add_tap(lambda event: seen.append(event.kind))
    assert bus.wanted(Kind.OUTPUT)
    watching = bus.subscribe(snapshot=False)
    watching.close()
    assert bus.wanted(Kind.OUTPUT)  # the tap still does


async def test_a_writer_that_is_behind_holds_the_child_instead_of_dropping_lines(
    arbiter_factory: ArbiterFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, done = tmp_path / "held.log", tmp_path / "done"
    writer = OutputWriterThread(max_backlog_bytes=64 * 1024)  # behind from 32 KiB on
    monkeypatch.setattr(arbiter_module, "OutputWriterThread", lambda: writer)
    monkeypatch.setattr(process_module, "HOLD_MAX", 60.0)  # the writer is stalled on purpose
    script = (
        "import os, pathlib\n"
        f"data = ''.join(f'{{s:06d}} ' + 'z' * 40 + '\\n' for s in range({LINES})).encode()\n"
        "for start in range(0, len(data), 8192):\n"
        "    os.write(1, data[start:start + 8192])\n"
        f"pathlib.Path({str(done)!r}).touch()\n"
        "import time; time.sleep(300)\n"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.held]
        cmd = [{PY!r}, "-c", {script!r}]
        [watchers.held.output]
        file = {str(log)!r}
        line_format = "raw"
        max_bytes = 0
        """
    )
    disk = threading.Event()  # a disk that does not take writes until set

    def stalled_disk() -> None:
        disk.wait(30)

    writer.submit_call(stalled_disk)
    try:
        await arbiter.start()
        await wait_until(writer.behind, timeout=30)
        [process] = arbiter.get("held").processes.values()
        await wait_until(lambda: pipe_is_full(process.pid), timeout=30)  # its write(2) blocks
        assert not done.exists()
    finally:
        disk.set()
    await wait_until(done.exists, timeout=60)
    await wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= LINES)
    seqs = [int(text.split(" ")[0]) for text in log.read_text().splitlines()]
    assert seqs == list(range(LINES))
    sink = arbiter.get("held").file_sink
    assert sink is not None and sink.dropped == 0
    assert writer.stop()


def pipe_is_full(pid: int) -> bool:
    """The child's stdout pipe holds all it can: nobody reads it, the child's writes block."""
    fd = os.open(f"/proc/{pid}/fd/1", os.O_RDONLY | os.O_NONBLOCK)  # the pipe, opened anew
    try:
        queued = int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")
        return queued >= fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) - 8192  # less than one more block
    finally:
        os.close(fd)


def test_the_backlog_shrinks_with_each_chunk_written_not_after_the_whole_batch(
    tmp_path: Path,
) -> None:
    """A held process is read again as soon as the writer has caught up by one chunk: a batch
    of up to 1024 chunks must not keep the writer `behind` until its end."""
    writer = OutputWriterThread(max_backlog_bytes=64 * 1024)
    sink = OutputFileSink(
        OutputConfig(file=tmp_path / "w.log", line_format="raw", max_bytes=0), writer=writer
    )
    stalled, disk = threading.Event(), threading.Event()
    seen: list[bool] = []

    def stalled_disk() -> None:
        stalled.set()
        disk.wait(30)

    try:
        writer.submit_call(stalled_disk)
        assert stalled.wait(30)  # its batch is made: every item below waits in the next one
        big = OutputChunk(1.0, 1, 1, "stdout", [f"{i:05d} " + "b" * 200 for i in range(150)])
        sink.write_chunk(big)  # alone more than half the backlog
        assert writer.behind()
        writer.submit_call(lambda: seen.append(writer.behind()))
        sink.write_chunk(OutputChunk(1.0, 1, 1, "stdout", ["last"]))
        writer.submit_call(lambda: seen.append(writer.behind()))
        disk.set()
        assert sink.close()
    finally:
        disk.set()
        assert writer.stop()
    assert seen == [False, False]  # the big chunk was freed as soon as it was written
    assert (tmp_path / "w.log").read_text().splitlines()[-1] == "last"
    assert sink.dropped == 0

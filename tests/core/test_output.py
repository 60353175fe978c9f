from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuiman.core.config.model import OutputConfig
from tuiman.core.processes.log_files import OutputFileSink, OutputWriterThread
from tuiman.core.processes.output import LineSplitter, OutputBuffer, OutputLine, strip_ansi

KIB = 1024
T0 = 1_700_000_000.25  # a fixed wall-clock time for file records


def feed_all(splitter: LineSplitter, *chunks: bytes) -> list[tuple[str, bool]]:
    lines: list[tuple[str, bool]] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.flush()


# --- LineSplitter ---------------------------------------------------------------------------


def test_lines_split_across_chunk_boundaries() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"hel") == []
    assert splitter.feed(b"lo\nwor") == [("hello", False)]
    assert splitter.feed(b"ld\n\nno newline") == [("world", False), ("", False)]
    assert splitter.flush() == [("no newline", False)]
    assert splitter.flush() == []


def test_crlf_drops_only_the_carriage_return_before_the_newline() -> None:
    lines = feed_all(LineSplitter(), b"a\r\nb\r", b"\nc\r\r\nd\re\n", b"end\r")
    assert lines == [("a", False), ("b", False), ("c\r", False), ("d\re", False), ("end", False)]


def test_one_mib_line_becomes_sixteen_partial_pieces_and_the_rest() -> None:
    data = b"x" * (1024 * KIB) + b"tail\n"
    expected = [("x" * (64 * KIB), True)] * 16 + [("tail", False)]
    assert LineSplitter().feed(data) == expected
    chunks = [data[i : i + 4 * KIB] for i in range(0, len(data), 4 * KIB)]
    assert feed_all(LineSplitter(), *chunks) == expected


def test_crlf_split_between_chunks_after_a_full_line_is_not_a_cut() -> None:
    splitter = LineSplitter(max_line_bytes=8)
    assert splitter.feed(b"12345678\r") == []
    assert splitter.feed(b"\n") == [("12345678", False)]


def test_line_of_exactly_the_limit_is_not_split() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"y" * (64 * KIB)) == []
    assert splitter.feed(b"\r\n") == [("y" * (64 * KIB), False)]


@pytest.mark.parametrize(
    ("char", "overhang"), [("é", 1), ("€", 1), ("€", 2), ("😀", 1), ("😀", 2), ("😀", 3)]
)
def test_multibyte_char_straddling_the_64k_boundary_decodes_whole(char: str, overhang: int) -> None:
    encoded = char.encode()
    prefix = "a" * (64 * KIB - len(encoded) + overhang)
    lines = LineSplitter().feed((prefix + char + "z\n").encode())
    assert lines == [(prefix, True), (char + "z", False)]


def test_run_of_continuation_bytes_at_the_boundary_is_cut_at_the_limit() -> None:
    lines = LineSplitter().feed(b"a" * (64 * KIB - 4) + b"\x80" * 8 + b"\n")
    assert lines == [("a" * (64 * KIB - 4) + "\ufffd" * 4, True), ("\ufffd" * 4, False)]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    lines = feed_all(LineSplitter(), b"ok\xff\xfe\n", b"\xe2\x82", b"\n\xe2", b"\x82\xac\n")
    assert lines == [("ok\ufffd\ufffd", False), ("\ufffd", False), ("€", False)]


def test_limit_too_small_for_utf8_is_rejected() -> None:
    with pytest.raises(ValueError):
        LineSplitter(max_line_bytes=3)


@given(
    data=st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\n").replace(b"\x01", b"\r")),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=20),
)
def test_result_does_not_depend_on_chunking(data: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    chunks = [data[a:b] for a, b in pairwise(bounds)]
    assert feed_all(LineSplitter(8), *chunks) == feed_all(LineSplitter(8), data)


@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=60
    )
)
def test_pieces_of_a_valid_line_join_back_to_it(text: str) -> None:
    lines = LineSplitter(5).feed(text.encode() + b"\n")
    assert "".join(piece for piece, _ in lines) == text
    assert [partial for _, partial in lines] == [True] * (len(lines) - 1) + [False]
    assert all(len(piece.encode()) <= 5 for piece, _ in lines)


@pytest.mark.timeout(10)
def test_ten_mb_without_newlines_in_4k_chunks_is_not_quadratic() -> None:
    splitter = LineSplitter()
    chunk = b"z" * (4 * KIB)
    pieces: list[tuple[str, bool]] = []
    for _ in range(10 * 1024 * KIB // len(chunk)):
        pieces += splitter.feed(chunk)
    pieces += splitter.flush()
    assert len(pieces) == 160
    assert pieces[-1] == ("z" * (64 * KIB), False)
    assert all(partial for _, partial in pieces[:-1])


# --- OutputBuffer ---------------------------------------------------------------------------


def line(text: str, pid: int = 1, stream: str = "stdout", at: float = T0) -> OutputLine:
    return OutputLine(time=at, pid=pid, wid=1, stream=stream, text=text)


def texts(lines: list[OutputLine]) -> list[str]:
    return [item.text for item in lines]


def test_buffer_is_bounded_by_lines() -> None:
    buffer = OutputBuffer(max_lines=3)
    for i in range(5):
        buffer.append(line(str(i)))
    assert texts(buffer.lines()) == ["2", "3", "4"]
    assert len(buffer) == 3
    assert buffer.total_appended == 5


def test_buffer_is_bounded_by_utf8_bytes() -> None:
    buffer = OutputBuffer(max_bytes=10)
    for text in ("aaaa", "bbbb", "cccc"):
        buffer.append(line(text))
    assert texts(buffer.lines()) == ["bbbb", "cccc"]
    buffer.append(line("éé"))  # 4 bytes, 2 characters
    assert texts(buffer.lines()) == ["cccc", "éé"]
    assert buffer.nbytes == 8
    assert buffer.total_appended == 4


def test_buffer_keeps_the_newest_line_even_if_it_alone_is_too_big() -> None:
    buffer = OutputBuffer(max_bytes=3)
    buffer.append(line("ab"))
    buffer.append(line("too long"))
    assert texts(buffer.lines()) == ["too long"]
    assert buffer.nbytes == 8


def test_buffer_filters_by_pid_and_takes_the_newest() -> None:
    buffer = OutputBuffer()
    for i, pid in enumerate([10, 20, 10, 10, 20]):
        buffer.append(line(f"{pid}:{i}", pid=pid))
    assert texts(buffer.lines(pid=10)) == ["10:0", "10:2", "10:3"]
    assert texts(buffer.lines(pid=10, last=2)) == ["10:2", "10:3"]
    assert texts(buffer.lines(last=2)) == ["10:3", "20:4"]
    assert texts(buffer.lines(last=99)) == ["10:0", "20:1", "10:2", "10:3", "20:4"]
    assert buffer.lines(last=0) == []
    assert buffer.lines(pid=30) == []


# --- strip_ansi -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[1;31mred\x1b[0m plain", "red plain"),
        ("\x1b[2K\x1b[10Gmoved", "moved"),
        ("\x1b]0;window title\x07after", "after"),
        ("\x1b]8;;https://x.org\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b(Bcharset\x1b7saved\x1b8", "charsetsaved"),
        ("cut \x1b]0;never terminated", "cut "),
        ("lone \x1b", "lone "),
        ("no escapes at all", "no escapes at all"),
    ],
)
def test_strip_ansi(raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean


# --- OutputFileSink -------------------------------------------------------------------------


@pytest.fixture
def writer() -> Iterator[OutputWriterThread]:
    writer = OutputWriterThread()
    yield writer
    assert writer.stop()


def record(item: OutputLine) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(item.time)))
    millis = int((item.time - int(item.time)) * 1000)
    return f"{stamp}.{millis:03d} [{item.pid} {item.stream}] {strip_ansi(item.text)}\n"


def wait_for_writer(writer: OutputWriterThread) -> None:
    done = threading.Event()
    writer.submit_call(done.set)
    assert done.wait(5)


def test_sink_writes_timestamped_stripped_lines(tmp_path: Path, writer: OutputWriterThread) -> None:
    path = tmp_path / "logs" / "deep" / "web.log"  # parents do not exist yet
    sink = OutputFileSink(OutputConfig(file=path), writer=writer)
    sink.write(line("\x1b[32mready\x1b[0m", pid=42))
    sink.write(line("oops", pid=43, stream="stderr", at=T0 + 1.5))
    assert sink.close()
    assert path.read_text() == (
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(1_700_000_000))}.250"
        " [42 stdout] ready\n"
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(1_700_000_001))}.750"
        " [43 stderr] oops\n"
    )
    assert sink.errors == []
    assert sink.dropped == 0


def test_sink_routes_each_stream_to_its_own_file(
    tmp_path: Path, writer: OutputWriterThread
) -> None:
    both, err = tmp_path / "both.log", tmp_path / "err.log"
    sink = OutputFileSink(OutputConfig(file=both, stderr_file=err), writer=writer)
    assert (sink.route("stdout"), sink.route("stderr"), sink.route("other")) == (both, err, None)
    out_line, err_line = line("to both"), line("to err", stream="stderr")
    sink.write(out_line)
    sink.write(err_line)
    assert sink.close()
    assert both.read_text() == record(out_line)
    assert err.read_text() == record(err_line)


def test_sink_without_files_ignores_lines(writer: OutputWriterThread) -> None:
    sink = OutputFileSink(OutputConfig(), writer=writer)
    assert sink.route("stdout") is None
    sink.write(line("nowhere"))
    assert sink.close()
    assert (sink.errors, sink.dropped) == ([], 0)


def test_rotation_keeps_backup_count_files(tmp_path: Path, writer: OutputWriterThread) -> None:
    path = tmp_path / "w.log"
    lines = [line(f"line {i}") for i in range(1, 8)]
    size = len(record(lines[0]).encode())
    sink = OutputFileSink(
        OutputConfig(file=path, max_bytes=2 * size, backup_count=2), writer=writer
    )
    for item in lines:
        sink.write(item)
    assert sink.close()
    assert path.read_text() == record(lines[6])
    assert Path(f"{path}.1").read_text() == record(lines[4]) + record(lines[5])
    assert Path(f"{path}.2").read_text() == record(lines[2]) + record(lines[3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.log", "w.log.1", "w.log.2"]


def test_rotation_without_backups_truncates(tmp_path: Path, writer: OutputWriterThread) -> None:
    path = tmp_path / "w.log"
    lines = [line(f"line {i}") for i in range(1, 6)]
    size = len(record(lines[0]).encode())
    sink = OutputFileSink(
        OutputConfig(file=path, max_bytes=2 * size, backup_count=0), writer=writer
    )
    for item in lines:
        sink.write(item)
    assert sink.close()
    assert path.read_text() == record(lines[4])
    assert [p.name for p in tmp_path.iterdir()] == ["w.log"]


def test_reopen_after_external_rename_writes_to_a_fresh_file(
    tmp_path: Path, writer: OutputWriterThread
) -> None:
    path, moved = tmp_path / "w.log", tmp_path / "w.log.rotated"
    sink = OutputFileSink(OutputConfig(file=path), writer=writer)
    before, late, after = line("before"), line("late"), line("after")
    sink.write(before)
    wait_for_writer(writer)
    path.rename(moved)  # what logrotate does before sending SIGUSR1
    sink.write(late)  # still goes to the renamed file: the handle follows it
    sink.reopen()
    sink.write(after)
    assert sink.close()
    assert moved.read_text() == record(before) + record(late)
    assert path.read_text() == record(after)


def test_unwritable_path_is_reported_not_raised(tmp_path: Path, writer: OutputWriterThread) -> None:
    (tmp_path / "plain-file").write_text("")
    path = tmp_path / "plain-file" / "w.log"  # its "directory" is a file, even for root
    reported: list[str] = []
    sink = OutputFileSink(OutputConfig(file=path), writer=writer, on_error=reported.append)
    sink.write(line("one"))
    sink.write(line("two"))
    assert sink.close()
    assert len(sink.errors) == 1
    assert sink.errors[0].startswith(f"{path}: cannot open: ")
    assert "\n" not in sink.errors[0]
    assert reported == sink.errors
    assert sink.dropped == 2


def test_full_backlog_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "w.log"
    writer = OutputWriterThread(max_backlog_bytes=200)  # three 10-char lines (74 bytes each)
    sink = OutputFileSink(OutputConfig(file=path), writer=writer)
    gate = threading.Event()

    def stall() -> None:
        gate.wait(5)

    writer.submit_call(stall)  # a disk that has stopped answering
    lines = [line(f"line {i:5d}") for i in range(5)]
    for item in lines:
        sink.write(item)
    assert sink.dropped == 2
    gate.set()
    assert sink.close()
    assert writer.stop()
    assert path.read_text() == "".join(record(item) for item in lines[:3])

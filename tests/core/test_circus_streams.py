"""Log files written as Circus' streams write them (docs/output-and-stats.md#log-files):
FileStream's raw lines and time_format prefix, size rotation without backups that never
truncates, TimedRotatingFileStream, WatchedFileStream. The INI side is in test_circus_ini."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tuiman.core.circus.loader import load_circus_config
from tuiman.core.config.model import OutputConfig
from tuiman.core.processes.log_files import OutputFileSink, OutputWriterThread
from tuiman.core.processes.output import OutputLine

T0 = 1_700_000_000.25


@pytest.fixture
def writer() -> Iterator[OutputWriterThread]:
    writer = OutputWriterThread()
    yield writer
    assert writer.stop()


def line(text: str, *, pid: int = 7, partial: bool = False, at: float = T0) -> OutputLine:
    return OutputLine(at, pid, 1, "stdout", text, partial)


def flushed(writer: OutputWriterThread) -> None:
    done = threading.Event()
    writer.submit_call(done.set)
    assert done.wait(5)


def ini_output(tmp_path: Path, options: str) -> OutputConfig:
    (tmp_path / "circus.ini").write_text(
        "[watcher:web]\ncmd = sleep 1\n" + textwrap.dedent(options)
    )
    config = load_circus_config(tmp_path / "circus.ini", cwd=tmp_path, environ={})
    return config.watcher("web").output


def test_raw_lines_are_written_as_the_process_wrote_them(
    tmp_path: Path, writer: OutputWriterThread
) -> None:
    path = tmp_path / "out.log"
    sink = OutputFileSink(OutputConfig(file=path, line_format="raw"), writer=writer)
    sink.write(line("\x1b[32mready\x1b[0m"))
    sink.write(line("a long line cut ", partial=True))
    sink.write(line("in two"))
    assert sink.close()
    assert path.read_text() == "\x1b[32mready\x1b[0m\na long line cut in two\n"


def test_time_format_gives_circus_prefix(tmp_path: Path, writer: OutputWriterThread) -> None:
    path = tmp_path / "out.log"
    sink = OutputFileSink(OutputConfig(file=path, time_format="%Y-%m-%d %H:%M"), writer=writer)
    sink.write(line("hello", pid=42))
    assert sink.close()
    stamp = datetime.fromtimestamp(T0).strftime("%Y-%m-%d %H:%M")
    assert path.read_text() == f"{stamp} [42] | hello\n"


def test_file_stream_max_bytes_without_backups_never_truncates(
    tmp_path: Path, writer: OutputWriterThread
) -> None:
    output = ini_output(
        tmp_path,
        """\
        stdout_stream.class = FileStream
        stdout_stream.filename = out.log
        stdout_stream.max_bytes = 4096
        """,
    )
    # Circus closes the file and opens it again in append mode: nothing is lost.
    assert (output.max_bytes, output.backup_count, output.line_format) == (0, 0, "raw")
    sink = OutputFileSink(output, writer=writer)
    for number in range(200):
        sink.write(line(f"line {number:04d} " + "x" * 40))
    assert sink.close()
    lines = (tmp_path / "out.log").read_text().splitlines()
    assert len(lines) == 200 and lines[0].startswith("line 0000")
    assert not (tmp_path / "out.log.1").exists()


def test_timed_rotation_renames_by_period_and_keeps_backup_count(
    tmp_path: Path, writer: OutputWriterThread
) -> None:
    output = ini_output(
        tmp_path,
        """\
        stdout_stream.class = TimedRotatingFileStream
        stdout_stream.filename = out.log
        stdout_stream.rotate_when = H
        stdout_stream.backup_count = 2
        """,
    )
    assert (output.rotate_when, output.rotate_interval, output.backup_count) == ("H", 1, 2)
    path = tmp_path / "out.log"
    for old in ("2001010100", "2001010101", "2001010102"):  # rotated earlier
        (tmp_path / f"out.log.{old}").write_text("old\n")
    (tmp_path / "out.log.notadate").write_text("kept\n")
    sink = OutputFileSink(output, writer=writer)
    sink.write(line("first period"))
    flushed(writer)
    log_file = next(iter(sink._files.values()))
    timed = log_file._timed
    assert timed is not None
    hour_start = int(time.time()) // 3600 * 3600
    assert timed.rollover_at >= hour_start + 3600  # an hour from the file's mtime
    # The period is over (as if an hour had passed): the next line goes to a new file.
    timed.rollover_at = int(time.time())
    period_start = timed.rollover_at - 3600
    sink.write(line("second period"))
    assert sink.close()
    rotated_name = "out.log." + time.strftime("%Y%m%d%H", time.localtime(period_start))
    assert (tmp_path / rotated_name).read_text() == "first period\n"
    assert path.read_text() == "second period\n"
    rotated = sorted(name for name in os.listdir(tmp_path) if name.startswith("out.log."))
    # backup_count = 2: the two newest dated files, and the one that is not Circus' name
    assert rotated == sorted(["out.log.2001010102", rotated_name, "out.log.notadate"])


def test_watched_file_is_reopened_when_logrotate_moves_it(
    tmp_path: Path, writer: OutputWriterThread
) -> None:
    output = ini_output(
        tmp_path,
        """\
        stdout_stream.class = WatchedFileStream
        stdout_stream.filename = out.log
        """,
    )
    assert output.reopen_moved and output.max_bytes == 0
    path = tmp_path / "out.log"
    sink = OutputFileSink(output, writer=writer)
    sink.write(line("before"))
    flushed(writer)
    path.rename(tmp_path / "out.log.1")  # what logrotate does
    sink.write(line("after"))
    flushed(writer)
    path.unlink()  # deleted too: the next line creates it again
    sink.write(line("again"))
    assert sink.close()
    assert (tmp_path / "out.log.1").read_text() == "before\n"
    assert path.read_text() == "again\n"


def test_stream_options_that_differ_or_do_not_apply(tmp_path: Path) -> None:
    (tmp_path / "circus.ini").write_text(
        textwrap.dedent(
            """\
            [watcher:web]
            cmd = sleep 1
            stdout_stream.class = TimedRotatingFileStream
            stdout_stream.filename = out.log
            stdout_stream.rotate_when = midnight
            stdout_stream.utc = false
            stdout_stream.max_bytes = 100
            stdout_stream.refresh_time = 1
            """
        )
    )
    config = load_circus_config(
        tmp_path / "circus.ini", display_name="circus.ini", cwd=tmp_path, environ={}
    )
    output = config.watcher("web").output
    assert (output.rotate_when, output.rotate_utc) == ("MIDNIGHT", True)
    assert list(config.warnings) == [
        "circus.ini: [watcher:web] stdout_stream.max_bytes: tuiman ignores it: "
        "TimedRotatingFileStream does not use it",
        "circus.ini: [watcher:web] stdout_stream.refresh_time: tuiman ignores it: "
        "Circus ignores it too",
        "circus.ini: [watcher:web] stdout_stream.utc: Circus reads utc = false as true "
        "(any non-empty value); so does tuiman",
    ]

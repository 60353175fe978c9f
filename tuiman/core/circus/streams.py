"""Circus' output streams (`stdout_stream.*`, `stderr_stream.*`) → the watcher's `output` table
(docs/circus.md#streams).

FileStream, TimedRotatingFileStream and WatchedFileStream write what Circus writes
(`circus/stream/file_stream.py`): the line as the process wrote it, or with `time_format`
Circus' `TIME [pid] | line`. StdoutStream and FancyStdoutStream are what tuiman always does
(the output view; headless: stdout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuiman.core.circus.model import IniLocation, ini_int
from tuiman.core.circus.options import WatcherValues
from tuiman.core.config.output_keys import as_rotate_when
from tuiman.core.config.validate import InvalidValue
from tuiman.core.config.watchers import absolute_path

_STREAMS = ("stdout_stream", "stderr_stream")
_PACKAGE_PREFIXES = ("circus.stream.", "circus.stream.file_stream.")
_FILE_CLASSES = ("FileStream", "TimedRotatingFileStream", "WatchedFileStream")
_SCREEN_CLASSES = ("StdoutStream", "FancyStdoutStream")
_SCREEN_OPTIONS = ("color", "time_format")
# Options each file class reads; `refresh_time` is read by none (Circus ignores it too).
_CLASS_OPTIONS: dict[str, tuple[str, ...]] = {
    "FileStream": ("filename", "max_bytes", "backup_count", "time_format"),
    "TimedRotatingFileStream": (
        "filename",
        "backup_count",
        "time_format",
        "rotate_when",
        "rotate_interval",
        "utc",
    ),
    "WatchedFileStream": ("filename", "time_format"),
}
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})
STREAM_OPTIONS: tuple[str, ...] = tuple(
    f"{stream}.{option}"
    for stream in _STREAMS
    for option in (
        "class",
        "filename",
        "max_bytes",
        "backup_count",
        "time_format",
        "rotate_when",
        "rotate_interval",
        "utc",
        "refresh_time",
    )
)


@dataclass
class _FileStream:
    stream: str  # "stdout_stream" or "stderr_stream"
    path: Path
    # output keys → values, and where each came from
    keys: dict[str, Any] = field(default_factory=dict)
    locations: dict[str, IniLocation] = field(default_factory=dict)


def translate_streams(values: WatcherValues, cwd: Path) -> None:
    """Streams for stdout and/or stderr → the output table (one file when they share one)."""
    file_streams = [
        file_stream
        for file_stream in (_read_stream(values, stream, cwd) for stream in _STREAMS)
        if file_stream is not None
    ]
    if not file_streams:
        return
    output: dict[str, Any] = {}
    output_path = ("watchers", values.name, "output")
    first = file_streams[0]
    if len(file_streams) == 2 and file_streams[1].path == first.path:
        output["file"] = str(first.path)
        values.problems.origins[(*output_path, "file")] = first.locations["filename"]
    else:
        for file_stream in file_streams:
            key = f"{file_stream.stream.removesuffix('_stream')}_file"
            output[key] = str(file_stream.path)
            values.problems.origins[(*output_path, key)] = file_stream.locations["filename"]
    for key, value in first.keys.items():
        for other in file_streams[1:]:
            if other.keys.get(key) != value:
                values.problems.error_at(
                    other.locations.get(key, other.locations["filename"]),
                    f"{key} = {other.keys.get(key)} differs from {first.stream}'s ({value}): "
                    "tuiman writes both files alike",
                )
        output[key] = value
        values.problems.origins[(*output_path, key)] = first.locations.get(
            key, first.locations["filename"]
        )
    values.table["output"] = output


def _class_name(text: str) -> str:
    for prefix in _PACKAGE_PREFIXES:
        if text.startswith(prefix) and text[len(prefix) :] in (*_FILE_CLASSES, *_SCREEN_CLASSES):
            return text[len(prefix) :]
    return text


def _read_stream(values: WatcherValues, stream: str, cwd: Path) -> _FileStream | None:
    reader = values.reader
    options = reader.unread(f"{stream}.")
    if not options:
        return None
    class_option = f"{stream}.class"
    stream_class = _class_name((reader.text(class_option) or "").strip())
    if not stream_class and f"{stream}.filename" in options:
        stream_class = "FileStream"  # Circus: a filename alone means a FileStream
    if stream_class in _SCREEN_CLASSES:
        for option in _SCREEN_OPTIONS:
            reader.raw(f"{stream}.{option}")
        values.problems.warn_at(
            IniLocation(reader.location(class_option).file_label, reader.section.name),
            f"tuiman ignores {class_option} = {stream_class}: tuiman always shows process "
            "output (the UI's output view; headless: stdout)",
        )
        return None
    if stream_class not in _FILE_CLASSES:
        for option in options:
            reader.raw(option)
        problem = (
            f"stream class {stream_class} does not map onto tuiman's output"
            if stream_class
            else f"expected {class_option} or {stream}.filename"
        )
        values.problems.error_at(
            reader.location(class_option if stream_class else options[0]),
            f"{problem} (FileStream, TimedRotatingFileStream and WatchedFileStream do)",
        )
        return None
    return _read_file_stream(values, stream, stream_class, cwd)


def _read_file_stream(
    values: WatcherValues, stream: str, stream_class: str, cwd: Path
) -> _FileStream | None:
    reader = values.reader
    class_location = reader.location(f"{stream}.class")

    def location(option: str) -> IniLocation:
        full = f"{stream}.{option}"
        return reader.location(full) if full in reader.section.options else class_location

    filename = reader.text(f"{stream}.filename")
    if filename is None or not filename.strip():
        values.problems.error_at(location("filename"), f"{stream_class} needs a filename")
        return None
    # Circus opens it from its own cwd.
    file_stream = _FileStream(stream, absolute_path(filename.strip(), cwd))
    file_stream.locations["filename"] = location("filename")
    read = _CLASS_OPTIONS[stream_class]
    for option in ("max_bytes", "backup_count", "rotate_when", "rotate_interval", "utc"):
        full = f"{stream}.{option}"
        if option not in read and reader.raw(full) is not None:
            values.problems.warn_at(
                reader.location(full), f"tuiman ignores it: {stream_class} does not use it"
            )
    if reader.raw(f"{stream}.refresh_time") is not None:
        values.problems.warn_at(
            reader.location(f"{stream}.refresh_time"), "tuiman ignores it: Circus ignores it too"
        )
    time_format = reader.text(f"{stream}.time_format")
    keys = file_stream.keys
    if time_format:
        keys["time_format"] = time_format
        file_stream.locations["time_format"] = location("time_format")
    else:
        keys["line_format"] = "raw"
    if stream_class == "FileStream":
        _size_rotation(values, stream, file_stream, location)
    elif stream_class == "TimedRotatingFileStream":
        _time_rotation(values, stream, file_stream, location)
    else:
        keys.update(max_bytes=0, backup_count=0, reopen_moved=True)
    return file_stream


def _size_rotation(
    values: WatcherValues, stream: str, file_stream: _FileStream, location: Any
) -> None:
    reader = values.reader
    max_bytes = reader.get(f"{stream}.max_bytes", ini_int) or 0
    backup_count = reader.get(f"{stream}.backup_count", ini_int) or 0
    if backup_count <= 0:
        # Circus "rotates" such a file by reopening it in append mode: it never shrinks.
        max_bytes = 0
    file_stream.keys.update(max_bytes=max_bytes, backup_count=max(backup_count, 0))
    file_stream.locations["max_bytes"] = location("max_bytes")
    file_stream.locations["backup_count"] = location("backup_count")


def _time_rotation(
    values: WatcherValues, stream: str, file_stream: _FileStream, location: Any
) -> None:
    reader = values.reader
    keys = file_stream.keys
    when_text = reader.text(f"{stream}.rotate_when")
    if when_text is None:
        values.problems.error_at(
            location("rotate_when"),
            "TimedRotatingFileStream needs rotate_when (S, M, H, D, MIDNIGHT or W0..W6)",
        )
        return
    try:
        keys["rotate_when"] = as_rotate_when(when_text)
    except InvalidValue as problem:
        values.problems.error_at(location("rotate_when"), str(problem))
    interval = reader.get(f"{stream}.rotate_interval", ini_int)
    keys["rotate_interval"] = 1 if interval is None else interval
    utc_text = reader.text(f"{stream}.utc")
    # Circus takes bool() of the text: any non-empty value, "false" too, means UTC.
    keys["rotate_utc"] = bool(utc_text)
    if utc_text and utc_text.strip().lower() in _FALSE_WORDS:
        values.problems.warn_at(
            location("utc"),
            f"Circus reads utc = {utc_text} as true (any non-empty value); so does tuiman",
        )
    backup_count = reader.get(f"{stream}.backup_count", ini_int) or 0
    keys.update(max_bytes=0, backup_count=max(backup_count, 0))
    for key in ("rotate_when", "rotate_interval", "rotate_utc", "backup_count"):
        file_stream.locations[key] = location(
            key.removeprefix("rotate_") if key == "rotate_utc" else key
        )

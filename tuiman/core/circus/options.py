"""Circus option tables, and the watcher options that map onto tuiman's nested tables
(docs/circus.md).

What tuiman ignores with a warning (Circus' own plumbing) and what it refuses (options that
would change what processes do) is decided here, each with the reason shown to the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman.core.circus.model import (
    IniLocation,
    IniProblems,
    OptionReader,
    ini_bool,
    ini_int,
    ini_signal,
    ini_user_or_group,
)
from tuiman.core.config.model import IGNORED_FAILURE_HOOKS
from tuiman.core.config.validate import InvalidValue
from tuiman.core.config.watchers import absolute_path

FLAPPING_PLUGIN = "circus.plugins.flapping.Flapping"
# circus.plugins.flapping.Flapping's defaults, as restart.* keys.
FLAPPING_DEFAULTS: dict[str, int | float] = {
    "flap_attempts": 2,
    "flap_window": 1,
    "retry_in": 7,
    "flap_max_retry": 5,
}

INCLUDE_OPTIONS = ("include", "include_dir")

_CONTROL = "tuiman is controlled through its own Unix socket (tuiman ctl), not ZeroMQ"
_STATS = "tuiman samples stats itself (the UI, tuiman ctl stats)"
_WEB = "tuiman has no web UI (use the terminal UI or tuiman attach)"
_LOGGING = "tuiman reports what it does as events (headless: on stdout)"

# [circus] options that only concern Circus' own plumbing: one warning each.
CIRCUS_PLUMBING: dict[str, str] = {
    "endpoint": _CONTROL,
    "endpoint_owner": _CONTROL,
    "pubsub_endpoint": "tuiman ctl events streams the events",
    "stats_endpoint": _STATS,
    "statsd": (
        "in Circus it runs circusd-stats, a ZeroMQ stats stream; tuiman samples stats itself "
        "(the UI, tuiman ctl stats, the control socket's stats_stream). "
        "For statsd datagrams: the statsd plugin"
    ),
    "statsd_close_outputs": _STATS,
    "multicast_endpoint": "tuiman has no cluster discovery",
    "check_delay": "tuiman sees every exit at once instead of polling",
    "httpd": _WEB,
    "httpd_host": _WEB,
    "httpd_port": _WEB,
    "httpd_close_outputs": _WEB,
    "debug": _LOGGING,
    "debug_gc": _LOGGING,
    "loglevel": _LOGGING,
    "logoutput": _LOGGING,
    "loggerconfig": _LOGGING,
    "pidfile": "tuiman writes no pid file",
    "fqdn_prefix": "it only names Circus' stats",
    "papa_endpoint": "tuiman does not use papa",
    "stream_backend": "tuiman reads process output with asyncio",
}

# [circus] options that would change what the processes do.
CIRCUS_UNSUPPORTED: dict[str, str] = {
    "umask": (
        "the processes would inherit it; set the umask before starting tuiman, "
        "or in the command (sh -c 'umask 027; exec …')"
    ),
}

WATCHER_PLUMBING: dict[str, str] = {
    "stream_backend": "tuiman reads process output with asyncio",
    "check_flapping": "Circus ignores it too (flapping.active switches the plugin off)",
}

# Watcher options tuiman honours only at the value it always behaves as: (value, reason).
WATCHER_DEFAULT_ONLY: dict[str, tuple[bool, str]] = {
    "send_hup": (False, "tuiman reloads by starting new processes, not with SIGHUP"),
    "copy_path": (
        False,
        "tuiman does not pass its own sys.path on; set PYTHONPATH in [env:NAME]",
    ),
    "close_child_stdin": (True, "tuiman always gives processes /dev/null as stdin"),
    "close_child_stdout": (False, "tuiman always captures the output"),
    "close_child_stderr": (False, "tuiman always captures the output"),
    "use_papa": (False, "tuiman does not use papa"),
}

WATCHER_UNSUPPORTED: dict[str, str] = {
    "executable": "tuiman runs the command's first word; put the program in cmd",
    "shell_args": "tuiman runs a shell command as /bin/sh -c LINE, with no extra arguments",
    "virtualenv": "set PATH and PYTHONPATH in [env:NAME] instead",
    "virtualenv_py_ver": "set PATH and PYTHONPATH in [env:NAME] instead",
}

_STREAMS = ("stdout_stream", "stderr_stream")
_FILE_STREAM_CLASSES = frozenset(
    {"FileStream", "circus.stream.FileStream", "circus.stream.file_stream.FileStream"}
)
_SCREEN_STREAM_CLASSES = frozenset(
    {
        "StdoutStream",
        "FancyStdoutStream",
        "circus.stream.StdoutStream",
        "circus.stream.FancyStdoutStream",
    }
)
_SCREEN_STREAM_OPTIONS = ("color", "time_format")
_IGNORED_FILE_STREAM_OPTIONS: dict[str, str] = {
    "time_format": "tuiman writes the lines as the process wrote them, without a time prefix",
    "refresh_time": "Circus ignores it too",
}
STREAM_OPTIONS: tuple[str, ...] = tuple(
    f"{stream}.{option}"
    for stream in _STREAMS
    for option in ("class", "filename", "max_bytes", "backup_count", *_IGNORED_FILE_STREAM_OPTIONS)
)


class WatcherValues:
    """The `[watchers.NAME]` table being built, and where each of its keys came from."""

    def __init__(self, name: str, reader: OptionReader, problems: IniProblems) -> None:
        self.name = name
        self.reader = reader
        self.problems = problems
        self.table: dict[str, Any] = {}

    def put(self, key: str, value: object, option: str) -> None:
        """`table[key] = value` from INI `option`; None (absent or wrong) puts nothing."""
        if value is None:
            return
        self.table[key] = value
        self.problems.origins[("watchers", self.name, key)] = self.reader.location(option)

    def put_working_dir(self, text: str | None, cwd: Path) -> None:
        """Circus runs processes in its own cwd, and a relative working_dir starts there."""
        self.table["working_dir"] = str(cwd if text is None else absolute_path(text, cwd))
        self.problems.origins[("watchers", self.name, "working_dir")] = self.reader.location(
            "working_dir" if text is not None else None
        )

    def put_signal_and_ids(self) -> None:
        self.put("stop_signal", self.reader.get("stop_signal", ini_signal), "stop_signal")
        for option in ("uid", "gid"):
            self.put(option, self.reader.get(option, ini_user_or_group), option)


def _rlimit(text: str) -> int | str:
    """Circus: an empty value means no limit."""
    return "unlimited" if not text.strip() else ini_int(text)


def translate_rlimits(values: WatcherValues) -> None:
    rlimits: dict[str, int | str] = {}
    for option in values.reader.unread("rlimit_"):
        limit = values.reader.get(option, _rlimit)
        if limit is None:
            continue
        name = option.removeprefix("rlimit_")
        rlimits[name] = limit
        values.problems.origins[("watchers", values.name, "rlimits", name)] = (
            values.reader.location(option)
        )
    if rlimits:
        values.table["rlimits"] = rlimits


def translate_hooks(values: WatcherValues) -> None:
    """`hooks.NAME = dotted.path[, flag]`: the flag is ignore_failure, added to the hooks whose
    failures Circus always ignores (so `, false` cannot un-ignore them, as in Circus)."""
    hooks: dict[str, dict[str, Any]] = {}
    for option in values.reader.unread("hooks."):
        hook_name = option.removeprefix("hooks.")
        location = values.reader.location(option)
        dotted_path, separator, flag_text = (values.reader.text(option) or "").partition(",")
        ignore_failure = False
        if separator:
            try:
                ignore_failure = ini_bool(flag_text.strip())
            except InvalidValue as problem:
                values.problems.error_at(location, f"ignore-failure flag: {problem}")
        hooks[hook_name] = {
            "path": dotted_path.strip(),
            "ignore_failure": ignore_failure or hook_name in IGNORED_FAILURE_HOOKS,
        }
        values.problems.origins[("watchers", values.name, "hooks", hook_name)] = location
    if hooks:
        values.table["hooks"] = hooks


# --- streams -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileStream:
    stream: str  # "stdout_stream" or "stderr_stream"
    path: Path
    max_bytes: int
    backup_count: int
    locations: dict[str, IniLocation]  # filename / max_bytes / backup_count


def translate_streams(values: WatcherValues, cwd: Path) -> None:
    """FileStream for stdout and/or stderr → the output table (one file when they share one)."""
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
    for key in ("max_bytes", "backup_count"):
        for other in file_streams[1:]:
            if getattr(other, key) != getattr(first, key):
                values.problems.error_at(
                    other.locations[key],
                    f"{getattr(other, key)} differs from {first.stream}.{key} "
                    f"({getattr(first, key)}): tuiman rotates both files alike",
                )
        output[key] = getattr(first, key)
        values.problems.origins[(*output_path, key)] = first.locations[key]
    values.table["output"] = output


def _read_stream(values: WatcherValues, stream: str, cwd: Path) -> _FileStream | None:
    reader = values.reader
    options = reader.unread(f"{stream}.")
    if not options:
        return None
    class_option = f"{stream}.class"
    stream_class = (reader.text(class_option) or "").strip()
    if not stream_class and f"{stream}.filename" in options:
        stream_class = "FileStream"  # Circus: a filename alone means a FileStream
    if stream_class in _SCREEN_STREAM_CLASSES:
        for option in _SCREEN_STREAM_OPTIONS:
            reader.raw(f"{stream}.{option}")
        values.problems.warn_at(
            IniLocation(reader.location(class_option).file_label, reader.section.name),
            f"tuiman ignores {class_option} = {stream_class}: tuiman always shows process "
            "output (the UI's output view; headless: stdout)",
        )
        return None
    if stream_class not in _FILE_STREAM_CLASSES:
        for option in options:
            reader.raw(option)
        problem = (
            f"stream class {stream_class} does not map onto tuiman's output"
            if stream_class
            else f"expected {class_option} or {stream}.filename"
        )
        values.problems.error_at(
            reader.location(class_option if stream_class else options[0]),
            f"{problem} (only FileStream does: filename, max_bytes, backup_count)",
        )
        return None
    return _read_file_stream(values, stream, cwd)


def _read_file_stream(values: WatcherValues, stream: str, cwd: Path) -> _FileStream | None:
    reader = values.reader
    class_location = reader.location(f"{stream}.class")
    locations = {
        key: reader.location(f"{stream}.{key}")
        if f"{stream}.{key}" in reader.section.options
        else class_location
        for key in ("filename", "max_bytes", "backup_count")
    }
    filename = reader.text(f"{stream}.filename")
    max_bytes = reader.get(f"{stream}.max_bytes", ini_int)
    backup_count = reader.get(f"{stream}.backup_count", ini_int)
    for option, reason in _IGNORED_FILE_STREAM_OPTIONS.items():
        if reader.raw(f"{stream}.{option}") is not None:
            values.problems.warn_at(
                IniLocation(locations["filename"].file_label, reader.section.name),
                f"tuiman ignores {stream}.{option}: {reason}",
            )
    if filename is None or not filename.strip():
        values.problems.error_at(locations["filename"], "FileStream needs a filename")
        return None
    return _FileStream(
        stream=stream,
        path=absolute_path(filename.strip(), cwd),  # Circus opens it from its own cwd
        max_bytes=0 if max_bytes is None else max_bytes,  # FileStream's defaults: no rotation
        backup_count=0 if backup_count is None else backup_count,
        locations=locations,
    )

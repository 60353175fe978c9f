"""Circus option tables, and the watcher options that map onto tuiman's nested tables
(docs/circus.md).

What tuiman ignores with a warning (Circus' own plumbing) and what it refuses (options that
would change what processes do) is decided here, each with the reason shown to the user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuiman.core.circus.model import (
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
CIRCUS_UNSUPPORTED: dict[str, str] = {}

WATCHER_PLUMBING: dict[str, str] = {
    "stream_backend": "tuiman reads process output with asyncio",
    "check_flapping": "Circus ignores it too (flapping.active switches the plugin off)",
    "use_papa": "Circus 0.19 ignores it too (papa support came later)",
}

# Watcher options tuiman honours only at the value it always behaves as: (value, reason).
WATCHER_DEFAULT_ONLY: dict[str, tuple[bool, str]] = {
    "close_child_stdin": (True, "tuiman always gives processes /dev/null as stdin"),
    "close_child_stdout": (False, "tuiman always captures the output"),
    "close_child_stderr": (False, "tuiman always captures the output"),
}

WATCHER_UNSUPPORTED: dict[str, str] = {
    "executable": "tuiman runs the command's first word; put the program in cmd",
    "shell_args": "tuiman runs a shell command as /bin/sh -c LINE, with no extra arguments",
}


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

"""Circus' statsd and watchdog plugins → `[plugins.NAME]` (docs/circus.md#plugins).

Their options keep their Circus names; what Circus passes to every plugin but these ignore is
a warning, as Circus ignores it too.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from tuiman.core.circus.model import (
    IniProblems,
    IniSection,
    OptionReader,
    ini_int,
    ini_number,
    ini_signal,
    lowercase_env,
    section_location,
)

# Circus class → tuiman's `use`.
PLUGIN_CLASSES: dict[str, str] = {
    "circus.plugins.statsd.StatsdEmitter": "statsd",
    "circus.plugins._statsd.StatsdEmitter": "statsd",
    "circus.plugins.statsd.FullStats": "full_stats",
    "circus.plugins.watchdog.WatchDog": "watchdog",
}

# As named to users (the `_statsd` alias is Circus' backward compatibility).
RUNNABLE_PLUGINS = tuple(sorted(name for name in PLUGIN_CLASSES if "._" not in name))

_Convert = Callable[[str], Any]
_STATSD_OPTIONS: dict[str, _Convert] = {
    "host": str.strip,
    "port": ini_int,
    "application_name": str.strip,
    "sample_rate": ini_number,
}
OPTIONS: dict[str, dict[str, _Convert]] = {
    "statsd": _STATSD_OPTIONS,
    "full_stats": {**_STATSD_OPTIONS, "loop_rate": ini_number},
    "watchdog": {
        "loop_rate": ini_number,
        "max_count": ini_int,
        "ip": str.strip,
        "port": ini_int,
        "watchers_regex": str,
        "msg_regex": str,
        "watchers_stop_signal": ini_signal,
        "watchers_graceful_timeout": ini_number,
    },
}
# What Circus reads from every [plugin:…] for the process it runs the plugin in.
_PLUGIN_PROCESS_OPTIONS = ("priority", "check_delay")


def translate_plugins(
    sections: list[IniSection],
    problems: IniProblems,
    document: dict[str, Any],
    environ: Mapping[str, str],
) -> list[IniSection]:
    """Translate the statsd and watchdog sections into `document`; the others are returned."""
    others: list[IniSection] = []
    for section in sections:
        reader = OptionReader(section, problems, lowercase_env(environ))
        use = PLUGIN_CLASSES.get((reader.text("use") or "").strip())
        if use is None:
            others.append(section)
            continue
        name = section.name.partition(":")[2]
        table: dict[str, Any] = {"use": use}
        for option, convert in OPTIONS[use].items():
            value = reader.get(option, convert)
            if value is not None:
                table[option] = value
                problems.origins[("plugins", name, option)] = reader.location(option)
                if option.endswith("_regex") and _quoted(value):
                    problems.warn_at(
                        reader.location(option),
                        "the quotes are part of the regular expression (in Circus too): "
                        "it only matches text that starts with a quote; remove them",
                    )
        problems.origins[("plugins", name)] = section_location(section)
        for option in reader.unread():
            reader.raw(option)
            known = [*OPTIONS[use], *_PLUGIN_PROCESS_OPTIONS]
            close = difflib.get_close_matches(option, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close and option not in known else ""
            reason = (
                "it concerns the process Circus runs the plugin in; tuiman runs it in itself"
                if option in _PLUGIN_PROCESS_OPTIONS
                else f"the {use} plugin does not read it{hint}"
            )
            problems.warn_at(reader.location(option), f"tuiman ignores {option}: {reason}")
        document.setdefault("plugins", {})[name] = table
    return others


def _quoted(value: object) -> bool:
    return isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"'

"""`[plugins.NAME]` tables (docs/configuration.md#plugins): `use` names the plugin, the other keys
are its options, as in Circus' `[plugin:NAME]` sections.

Every plugin key is read whatever `use` says (so `tuiman schema` sees them all); a key of another
kind of plugin is then an error naming the kinds it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tuiman.core.config.plugin_model import PluginConfig, StatsdPluginConfig, WatchdogPluginConfig
from tuiman.core.config.validate import (
    InvalidValue,
    Problems,
    TableReader,
    as_signal,
    as_str,
    as_table,
    did_you_mean,
    integer_in_range,
    number_in_range,
)

PLUGIN_KINDS = ("statsd", "full_stats", "watchdog")


def _regex(required_group: str | None) -> Callable[[object], str]:
    def convert(value: object) -> str:
        text = as_str(value)
        try:
            compiled = re.compile(text)
        except re.error as error:
            raise InvalidValue(f"not a regular expression: {error}") from None
        if required_group is not None and required_group not in compiled.groupindex:
            raise InvalidValue(
                f"has no (?P<{required_group}>…) group: the heartbeat's pid is read from it"
            )
        return text

    return convert


_POSITIVE = number_in_range(0, allow_minimum=False)
# Every key, its converter, and the kinds of plugin that take it.
_KEYS: dict[str, tuple[Callable[[object], Any], tuple[str, ...]]] = {
    "host": (as_str, ("statsd", "full_stats")),
    "port": (integer_in_range(1, 65535), PLUGIN_KINDS),
    "application_name": (as_str, ("statsd", "full_stats")),
    "sample_rate": (_POSITIVE, ("statsd", "full_stats")),
    "loop_rate": (_POSITIVE, ("full_stats", "watchdog")),
    "ip": (as_str, ("watchdog",)),
    "max_count": (integer_in_range(1), ("watchdog",)),
    "watchers_regex": (_regex(None), ("watchdog",)),
    "msg_regex": (_regex("pid"), ("watchdog",)),
    "watchers_stop_signal": (as_signal, ("watchdog",)),
    "watchers_graceful_timeout": (_POSITIVE, ("watchdog",)),
}


def read_plugins(table: Mapping[str, Any], problems: Problems) -> tuple[PluginConfig, ...]:
    plugins: list[PluginConfig] = []
    for name, value in table.items():
        key_path = ("plugins", name)
        try:
            plugin_table = as_table(value)
        except InvalidValue as problem:
            problems.error(key_path, str(problem))
            continue
        reader = TableReader(plugin_table, key_path, problems)
        use = reader.get("use", as_str, "")
        values = {key: reader.get_optional(key, convert) for key, (convert, _) in _KEYS.items()}
        reader.report_unknown_keys()
        if use not in PLUGIN_KINDS:
            shown = f'"{use}"' if use else "missing"
            hint = did_you_mean(use, PLUGIN_KINDS) if use else ""
            problems.error(
                reader.path("use"),
                f"{shown}{hint}: tuiman runs these plugins: {', '.join(PLUGIN_KINDS)}",
            )
            continue
        given = {key: value for key, value in values.items() if value is not None}
        misplaced = [key for key in given if use not in _KEYS[key][1]]
        for key in misplaced:
            kinds = " and ".join(_KEYS[key][1])
            problems.error(reader.path(key), f"not a key of a {use} plugin (only of {kinds})")
        if not misplaced:
            plugins.append(_make(name, use, given))
    return tuple(plugins)


def _make(name: str, use: str, given: dict[str, Any]) -> PluginConfig:
    if use == "watchdog":
        return WatchdogPluginConfig(name, **given)
    return StatsdPluginConfig(name, use, **given)

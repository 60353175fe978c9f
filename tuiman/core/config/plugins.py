"""`[plugins.NAME]` tables (docs/configuration.md#plugins): `use` names the plugin, the other keys
are its options, as in Circus' `[plugin:NAME]` sections."""

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
        if use not in PLUGIN_KINDS:
            shown = f'"{use}"' if use else "missing"
            hint = did_you_mean(use, PLUGIN_KINDS) if use else ""
            problems.error(
                reader.path("use"),
                f"{shown}{hint}: tuiman runs these plugins: {', '.join(PLUGIN_KINDS)}",
            )
            continue
        plugin = (
            _read_watchdog(name, reader) if use == "watchdog" else _read_statsd(name, use, reader)
        )
        reader.report_unknown_keys()
        if plugin is not None:
            plugins.append(plugin)
    return tuple(plugins)


_PORT = integer_in_range(1, 65535)
_POSITIVE = number_in_range(0, allow_minimum=False)


def _read_statsd(name: str, use: str, reader: TableReader) -> StatsdPluginConfig:
    defaults = StatsdPluginConfig(name, use)
    return StatsdPluginConfig(
        name=name,
        use=use,
        host=reader.get("host", as_str, defaults.host),
        port=reader.get("port", _PORT, defaults.port),
        application_name=reader.get("application_name", as_str, defaults.application_name),
        sample_rate=reader.get("sample_rate", _POSITIVE, defaults.sample_rate),
        loop_rate=(
            reader.get("loop_rate", _POSITIVE, defaults.loop_rate)
            if use == "full_stats"
            else defaults.loop_rate
        ),
    )


def _read_watchdog(name: str, reader: TableReader) -> WatchdogPluginConfig | None:
    defaults = WatchdogPluginConfig(name)
    watchers_regex = reader.get("watchers_regex", _regex(None), defaults.watchers_regex)
    msg_regex = reader.get("msg_regex", _regex("pid"), defaults.msg_regex)
    return WatchdogPluginConfig(
        name=name,
        loop_rate=reader.get("loop_rate", _POSITIVE, defaults.loop_rate),
        max_count=reader.get("max_count", integer_in_range(1), defaults.max_count),
        ip=reader.get("ip", as_str, defaults.ip),
        port=reader.get("port", _PORT, defaults.port),
        watchers_regex=watchers_regex,
        msg_regex=msg_regex,
        watchers_stop_signal=reader.get_optional("watchers_stop_signal", as_signal),
        watchers_graceful_timeout=reader.get_optional("watchers_graceful_timeout", _POSITIVE),
    )


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

"""Circus' HttpObserver and ResourceWatcher plugins as tuiman liveness checks (docs/circus.md,
docs/readiness.md#liveness).

- `HttpObserver` fetches `check_url` every `loop_rate` seconds (default 60) with `timeout`
  (default 10); on an error it restarts the watcher named by `restart_on_error`. That is
  `[watchers.W.alive] http = check_url`, `interval = loop_rate`, `failures = 1`. Without
  `restart_on_error` the plugin only counts errors for statsd: nothing to translate.
- `ResourceWatcher` restarts `watcher` when a process stays above `max_cpu` (default 90 %) or
  `max_mem` (a size, or a percentage of the machine's memory) for more than `max_count` checks
  (default 3) `loop_rate` seconds apart: `max_cpu`, `max_memory`, `failures = max_count + 1`.

Circus restarts the whole watcher; tuiman restarts each process that fails its checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tuiman.core.circus.model import (
    IniLocation,
    IniProblems,
    IniSection,
    OptionReader,
    ini_int,
    ini_number,
    section_location,
)
from tuiman.core.config.validate import InvalidValue

HTTP_OBSERVER = "circus.plugins.http_observer.HttpObserver"
RESOURCE_WATCHER = "circus.plugins.resource_watcher.ResourceWatcher"
OBSERVERS = (HTTP_OBSERVER, RESOURCE_WATCHER)

_COMMON_IGNORED = {
    "priority": "it orders Circus' plugin process; tuiman runs none",
    "check_delay": "Circus' timeout for the plugin's calls to circusd; tuiman has no such call",
    "host": "a statsd setting; tuiman sends nothing to statsd",
    "port": "a statsd setting; tuiman sends nothing to statsd",
    "prefix": "a statsd setting; tuiman sends nothing to statsd",
    "app_name": "a statsd setting; tuiman sends nothing to statsd",
}


@dataclass
class AliveTables:
    """`alive` tables by watcher name, built from the observer plugins."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, IniLocation] = field(default_factory=dict)

    def merge(
        self, watcher: str, values: dict[str, Any], location: IniLocation, problems: IniProblems
    ) -> None:
        table = self.tables.setdefault(watcher, {})
        first = self.sources.setdefault(watcher, location)
        for key, value in values.items():
            if key in table and table[key] != value:
                problems.error_at(
                    location,
                    f"alive.{key} of watcher {watcher} is already {table[key]!r} "
                    f"from [{first.section}]: give both plugins the same value",
                )
            else:
                table[key] = value


def read_observer(
    section: IniSection, reader: OptionReader, plugin_class: str, alive: AliveTables
) -> None:
    """One `[plugin:…]` of an observer class: its checks go into `alive`."""
    problems = reader.problems
    interval = reader.get("loop_rate", _positive)
    values: dict[str, Any] = {"interval": interval if interval is not None else 60.0}
    known = ["use", "loop_rate", *_COMMON_IGNORED]
    if plugin_class == HTTP_OBSERVER:
        known += ["check_url", "timeout", "restart_on_error"]
        watcher = reader.text("restart_on_error")
        url = reader.text("check_url") or "http://localhost/"
        timeout = reader.get("timeout", _positive)
        values.update(http=url, timeout=timeout if timeout is not None else 10.0, failures=1)
        if not watcher:
            _ignore_rest(reader, known)
            problems.warn_at(
                section_location(section),
                "without restart_on_error HttpObserver only reports to statsd: ignored",
            )
            return
    else:
        known += ["watcher", "service", "max_cpu", "max_mem", "health_threshold", "max_count"]
        known += ["min_cpu", "min_mem", "process_children", "child_signal"]
        watcher = reader.text("watcher") or reader.text("service")
        if not watcher:
            problems.error_at(section_location(section), "ResourceWatcher needs watcher = NAME")
            _ignore_rest(reader, known)
            return
        _resource_values(section, reader, values)
    _ignore_rest(reader, known)
    alive.merge(watcher.strip(), values, section_location(section), problems)


def _resource_values(section: IniSection, reader: OptionReader, values: dict[str, Any]) -> None:
    problems = reader.problems
    max_cpu = reader.get("max_cpu", _positive)
    values["max_cpu"] = max_cpu if max_cpu is not None else 90.0
    max_mem = reader.text("max_mem")
    if max_mem is None:
        problems.warn_at(
            section_location(section),
            "Circus' default max_mem (90% of the machine's memory) is not carried over: "
            "set max_mem to a size to restart on memory",
        )
    else:
        memory = _memory_limit(max_mem, reader.location("max_mem"), problems)
        if memory is not None:
            values["max_memory"] = memory
    max_count = reader.get("max_count", ini_int)
    values["failures"] = (max_count if max_count is not None else 3) + 1
    reader.text("health_threshold")
    problems.warn_at(
        reader.location("health_threshold"),
        "tuiman has no combined CPU+memory health check: health_threshold "
        "(default 75) is not carried over; max_cpu and max_mem are",
    )
    for option, why in (
        ("min_cpu", "tuiman restarts on too much, never on too little"),
        ("min_mem", "tuiman restarts on too much, never on too little"),
        ("process_children", "tuiman counts children into their process' use"),
        ("child_signal", "tuiman counts children into their process' use"),
    ):
        if reader.text(option) is not None:
            problems.error_at(reader.location(option), f"not supported: {why}")


def _memory_limit(text: str, location: IniLocation, problems: IniProblems) -> int | str | None:
    """A size stays a size (`512M`); a bare number is a percentage of the machine's memory."""
    stripped = text.strip()
    try:
        percent = float(stripped)
    except ValueError:
        return stripped.upper().removesuffix("B") if stripped[-1:].isalpha() else stripped
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = int(total * percent / 100)
    problems.warn_at(
        location, f"max_mem = {stripped}% of this machine's memory: max_memory = {limit} bytes"
    )
    return limit


def _ignore_rest(reader: OptionReader, known: list[str]) -> None:
    for option in reader.unread():
        if option in _COMMON_IGNORED:
            reader.raw(option)
            reader.problems.warn_at(
                reader.location(option), f"tuiman ignores {option}: {_COMMON_IGNORED[option]}"
            )
    reader.report_unknown(known)


def _positive(text: str) -> float:
    value = float(ini_number(text))
    if not value > 0:
        raise InvalidValue(f"must be > 0, got {text}")
    return value

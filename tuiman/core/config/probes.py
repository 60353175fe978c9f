"""Read `[watchers.NAME.ready]`, `[watchers.NAME.alive]` and `depends_on`
(docs/readiness.md), and check the dependencies between watchers (unknown names, cycles, a
`ready` condition on a watcher without a readiness probe).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from tuiman.core.config.expand import SPAWN_TOKEN_FIELDS, unknown_tokens
from tuiman.core.config.probe_model import (
    ALIVE_KINDS,
    CONDITIONS,
    READY_KINDS,
    AliveSpec,
    Condition,
    ProbeKind,
    ProbeSpec,
)
from tuiman.core.config.validate import (
    InvalidValue,
    Problems,
    TableReader,
    as_str,
    integer_in_range,
    number_in_range,
)

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _sub_table(reader: TableReader, key: str) -> TableReader | None:
    """A reader of the `key` table when the watcher has one (its absence and a non-table value
    are told apart from an empty table)."""
    table = reader.get_table(key)
    if not isinstance(reader.table.get(key), dict):
        return None
    return TableReader(table, reader.path(key), reader.problems)


def read_ready(reader: TableReader) -> ProbeSpec | None:
    ready_reader = _sub_table(reader, "ready")
    if ready_reader is None:
        return None
    probe = _read_probe(ready_reader, READY_KINDS, default_interval=0.5, required=True)
    ready_reader.report_unknown_keys()
    return probe


def read_alive(reader: TableReader) -> AliveSpec | None:
    alive_reader = _sub_table(reader, "alive")
    if alive_reader is None:
        return None
    probe = _read_probe(alive_reader, ALIVE_KINDS, default_interval=5.0, required=False)
    alive = AliveSpec(
        probe=probe,
        interval=alive_reader.get("interval", number_in_range(0.01), 5.0),
        initial_delay=alive_reader.get("initial_delay", number_in_range(0), 0.0),
        failures=alive_reader.get("failures", integer_in_range(1, 1000), 3),
        max_memory=alive_reader.get_optional("max_memory", as_memory_size),
        max_cpu=alive_reader.get_optional("max_cpu", number_in_range(0, allow_minimum=False)),
        notify_watchdog=alive_reader.get_optional(
            "notify_watchdog", number_in_range(0, allow_minimum=False)
        ),
    )
    limits = (alive.max_memory, alive.max_cpu, alive.notify_watchdog)
    if probe is None and all(limit is None for limit in limits):
        reader.problems.error(
            reader.path("alive"),
            "needs a probe (tcp, http or exec), max_memory, max_cpu or notify_watchdog",
        )
    alive_reader.report_unknown_keys(ignored=[k for k in READY_KINDS if k not in ALIVE_KINDS])
    return alive


def _read_probe(
    reader: TableReader,
    kinds: Sequence[ProbeKind],
    *,
    default_interval: float,
    required: bool,
) -> ProbeSpec | None:
    refused = [kind for kind in READY_KINDS if kind not in kinds and kind in reader.table]
    for kind in refused:
        reader.problems.error(reader.path(kind), f"not a probe here (use {', '.join(kinds)})")
    targets = {kind: reader.get_optional(kind, _TARGET_TYPES[kind]) for kind in kinds}
    given = [kind for kind in kinds if kind in reader.table]
    interval = reader.get("interval", number_in_range(0.01), default_interval)
    timeout = reader.get("timeout", number_in_range(0, allow_minimum=False), 2.0)
    initial_delay = reader.get("initial_delay", number_in_range(0), 0.0)
    if len(given) > 1:
        reader.problems.error(
            reader.path(given[1]), f"one probe per table, got {' and '.join(given)}"
        )
        return None
    if not given:
        if required and not refused:
            reader.problems.error(reader.key_path, f"needs one probe: {', '.join(kinds)}")
        return None
    kind = given[0]
    value = targets[kind]
    if value is None:
        return None  # a wrong type, already reported
    target = _checked_target(reader, kind, "" if value is True else str(value))
    if target is None:
        return None
    return ProbeSpec(kind, target, interval, timeout, initial_delay)


def as_true(value: object) -> bool:
    if value is not True:
        raise InvalidValue("must be true (or leave the key out)")
    return True


_TARGET_TYPES = {"tcp": as_str, "http": as_str, "exec": as_str, "log": as_str, "notify": as_true}


def _checked_target(reader: TableReader, kind: ProbeKind, target: str) -> str | None:
    path = reader.path(kind)
    if kind == "notify":
        return ""
    if not target.strip() or "\0" in target:
        reader.problems.error(path, "empty" if not target.strip() else "contains a NUL character")
        return None
    for token in unknown_tokens(target):
        fields = ", ".join(f"$(tuiman.{name})" for name in SPAWN_TOKEN_FIELDS)
        reader.problems.error(path, f"unknown expansion {token} (use {fields}, $(tuiman.env.NAME))")
        return None
    target_problem = _target_problem(kind, target)
    if target_problem is not None:
        reader.problems.error(path, target_problem)
        return None
    return target


def _target_problem(kind: ProbeKind, target: str) -> str | None:
    if "$(" in target:
        return None  # checked once expanded, per process
    if kind == "tcp":
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            return f"expected HOST:PORT, got {target!r}"
    elif kind == "http":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"expected an http:// or https:// URL, got {target!r}"
    elif kind == "log":
        try:
            re.compile(target)
        except re.error as error:
            return f"not a regular expression: {error}"
    return None


def as_memory_size(value: object) -> int:
    """`512M`, `1.5G`, `100MiB` or a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise InvalidValue(f"must be > 0, got {value}")
        return value
    if not isinstance(value, str) or not (match := _SIZE.fullmatch(value)):
        raise InvalidValue(f"expected a size such as 512M or 2G, got {value!r}")
    size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).upper()])
    if size <= 0:
        raise InvalidValue(f"must be > 0, got {value!r}")
    return size


def read_depends_on(reader: TableReader) -> dict[str, Condition]:
    raw_table = reader.get_table("depends_on")
    conditions: dict[str, Condition] = {}
    for name, raw_condition in raw_table.items():
        if raw_condition not in CONDITIONS:
            reader.problems.error(
                reader.path("depends_on", name),
                f"expected one of {', '.join(CONDITIONS)}, got {raw_condition!r}",
            )
            continue
        conditions[name] = raw_condition
    return conditions


@dataclass(frozen=True)
class WatcherDependencies:
    """What the dependency check needs of one watcher."""

    name: str
    depends_on: Mapping[str, Condition]
    has_ready_probe: bool
    always_respawns: bool = False  # respawn = true: it never completes on its own


def check_dependencies(watchers: Sequence[WatcherDependencies], problems: Problems) -> None:
    """Unknown names, a `ready` condition without a probe, a watcher depending on itself, and
    cycles (each named once, in dependency order)."""
    by_name = {watcher.name: watcher for watcher in watchers}
    for watcher in watchers:
        for name, condition in watcher.depends_on.items():
            path = ("watchers", watcher.name, "depends_on", name)
            dependency = by_name.get(name)
            if dependency is None:
                problems.error(path, f"no watcher named {name!r}")
            elif condition == "ready" and not dependency.has_ready_probe:
                problems.error(
                    path,
                    f"{name!r} has no readiness probe ([watchers.{name}.ready]); "
                    "use 'started', or give it one",
                )
            elif condition in ("completed", "succeeded") and dependency.always_respawns:
                problems.error(
                    path,
                    f"{name!r} is respawned whenever it exits (respawn = true): "
                    f"'{condition}' is never reached; give it respawn = false or 'on-failure'",
                )
    for cycle in find_cycles({w.name: [d for d in w.depends_on if d in by_name] for w in watchers}):
        problems.error(
            ("watchers", cycle[0], "depends_on"),
            "dependency cycle: " + " -> ".join([*cycle, cycle[0]]),
        )


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each cycle of `graph` once (depth-first; white/grey/black)."""
    colour: dict[str, int] = dict.fromkeys(graph, 0)
    cycles: list[list[str]] = []
    stack: list[str] = []

    def visit(node: str) -> None:
        colour[node] = 1
        stack.append(node)
        for successor in graph.get(node, ()):
            if colour.get(successor, 2) == 1:
                cycles.append(stack[stack.index(successor) :])
            elif colour.get(successor) == 0:
                visit(successor)
        stack.pop()
        colour[node] = 2

    for node in graph:
        if colour[node] == 0:
            visit(node)
    return cycles

"""Read a watcher's `watch`, `watch_ignore` and `watch_debounce` keys
(docs/configuration.md#restart-on-change)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tuiman.core.config.validate import InvalidValue, TableReader, as_str, number_in_range
from tuiman.core.config.watch_paths import (
    FileWatch,
    WatchPatternError,
    absolute_pattern,
    ignore_pattern,
    pattern_root,
)

DEFAULT_DEBOUNCE = 0.2  # seconds of quiet after the last change of a burst
MAX_DEBOUNCE = 3600.0


def read_file_watch(reader: TableReader, config_dir: Path) -> FileWatch | None:
    """The watcher's file watch, or None when it has no `watch` key (or after an error)."""
    patterns = _patterns(reader, "watch", lambda text: absolute_pattern(text, config_dir))
    ignore = _patterns(reader, "watch_ignore", lambda text: ignore_pattern(text, config_dir))
    debounce = reader.get("watch_debounce", _debounce, DEFAULT_DEBOUNCE)
    if patterns is None:
        return None
    if not patterns:
        reader.problems.error(reader.path("watch"), "empty list: give at least one pattern")
        return None
    missing = _missing_roots(patterns)
    for position, problem in missing:
        reader.problems.error(reader.path("watch", position), problem)
    if missing:
        return None
    return FileWatch(tuple(patterns), tuple(ignore or ()), debounce, config_dir)


def _patterns(reader: TableReader, key: str, resolve: Callable[[str], str]) -> list[str] | None:
    """A string or a list of strings, each resolved; None when absent or wrong."""
    raw_value = reader.get_optional(key, _string_list)
    if raw_value is None:
        return None
    resolved: list[str] = []
    for position, text in enumerate(raw_value):
        try:
            resolved.append(resolve(text))
        except WatchPatternError as problem:
            reader.problems.error(reader.path(key, position), f"{text!r}: {problem}")
            return None
    return resolved


def _string_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidValue(f"expected a string or an array of strings, got {value!r}")
    return [as_str(item) for item in value]


def _debounce(value: object) -> float:
    seconds = number_in_range(0)(value)
    if seconds > MAX_DEBOUNCE:
        raise InvalidValue(f"must be <= {MAX_DEBOUNCE:g} seconds, got {value}")
    return seconds


def _missing_roots(patterns: list[str]) -> list[tuple[int, str]]:
    """The directory a pattern starts in must exist when the config is loaded."""
    problems: list[tuple[int, str]] = []
    for position, pattern in enumerate(patterns):
        root = pattern_root(pattern).path
        if not os.path.isdir(root):
            what = "does not exist" if not os.path.exists(root) else "is not a directory"
            problems.append((position, f"directory {root} {what}"))
    return problems

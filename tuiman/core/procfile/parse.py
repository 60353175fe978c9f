r"""The lines of a Procfile: `name: command`, one process type each, in file order.

The line format is foreman's and honcho's (`^[A-Za-z0-9_-]+:\s*(.+)$`); blank lines and `#`
comments are skipped. Where they silently skip any other line, tuiman refuses it, naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

PROCFILE_LINE = re.compile(r"(?P<name>[A-Za-z0-9_-]+):[ \t]*(?P<command>.*)")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ProcessType:
    name: str
    command: str
    line: int


class ProcfileError(Exception):
    """One problem, as a line naming the file (and the line)."""


def is_procfile_name(path: str) -> bool:
    """`Procfile` or `Procfile.anything` (`Procfile.dev`)."""
    name = os.path.basename(path)
    return name == "Procfile" or name.startswith("Procfile.")


def looks_like_procfile(text: str) -> bool:
    """Every line that is not blank or a comment is a `name: command` line (and one is)."""
    entries = 0
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = PROCFILE_LINE.fullmatch(line.rstrip())
        if match is None or not match.group("command").strip():
            return False
        entries += 1
    return entries > 0


def parse_procfile(text: str, label: str) -> list[ProcessType]:
    """The process types of a Procfile text; a `ProcfileError` for a bad or repeated line."""
    process_types: dict[str, ProcessType] = {}
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = PROCFILE_LINE.fullmatch(line.rstrip())
        if match is None:
            raise ProcfileError(f"{label}: line {number}: expected NAME: COMMAND")
        name, command = match.group("name"), match.group("command").strip()
        if not command:
            raise ProcfileError(f"{label}: line {number}: {name}: empty command")
        if name in process_types:
            first = process_types[name].line
            raise ProcfileError(
                f"{label}: line {number}: process type {name} already defined on line {first}"
            )
        process_types[name] = ProcessType(name, command, number)
    if not process_types:
        raise ProcfileError(f"{label}: no process types (expected NAME: COMMAND lines)")
    return list(process_types.values())


def parse_formation(text: str) -> tuple[tuple[str, int], ...]:
    """`web=2,worker=1` (and foreman's `all=N`) → pairs; `ValueError` with the problem."""
    pairs: list[tuple[str, int]] = []
    for item in text.split(","):
        name, equals, count_text = item.strip().partition("=")
        name = name.strip()
        if not equals or not _NAME_PATTERN.fullmatch(name):
            raise ValueError(f"expected NAME=COUNT, got {item.strip()!r}")
        try:
            count = int(count_text.strip())
        except ValueError:
            raise ValueError(f"{name}: expected a count, got {count_text.strip()!r}") from None
        if count < 0:
            raise ValueError(f"{name}: count must be >= 0, got {count}")
        pairs.append((name, count))
    return tuple(pairs)

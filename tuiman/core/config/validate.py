"""Building blocks of config validation: error collection, typed table reading, value checks.

Every problem is one line `FILE: dotted.key: problem`; they are collected in `Problems` and the
loader raises them together. Converters (`as_*`) take a raw TOML value and either return the
checked value or raise `InvalidValue` with the problem text.
"""

from __future__ import annotations

import grp
import json
import math
import os
import pwd
import re
import resource
import signal
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tuiman.core.config.model import RespawnPolicy

ValueT = TypeVar("ValueT")

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class InvalidValue(Exception):
    """A single value is wrong; the message is the one-line problem."""


def format_key_path(key_path: KeyPath) -> str:
    """`("watchers", "web", "cmd", 1)` → `watchers.web.cmd[1]`; odd keys quoted as in TOML."""
    rendered = ""
    for part in key_path:
        if isinstance(part, int):
            rendered += f"[{part}]"
            continue
        key_text = part if _BARE_KEY.fullmatch(part) else _quoted(part)
        rendered += f".{key_text}" if rendered else key_text
    return rendered


def _quoted(key: str) -> str:
    """A TOML-quoted key: printable letters as they are (`"café"`), anything else escaped."""
    return "".join(
        char if char.isprintable() else json.dumps(char)[1:-1]
        for char in json.dumps(key, ensure_ascii=False)
    )


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean X?)` for the closest candidate, or an empty string."""
    import difflib  # only for a mistake: ~0.2 MiB a manager need not keep

    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


@dataclass
class KeyRead:
    """One key a `TableReader` looked for: what the schema generator learns the keys from."""

    table_path: KeyPath
    key: str
    convert: Callable[[object], Any] | None = None  # None: the reader checks the value itself
    default: Any = None


class Problems:
    """The errors and warnings found while loading one file."""

    def __init__(self, file_label: str) -> None:
        self.file_label = file_label
        self.errors: list[str] = []
        self.warnings: list[str] = []
        # Set by the schema generator (schema.py): every key read, by (table path, key).
        self.key_reads: dict[tuple[KeyPath, str], KeyRead] | None = None

    def error(self, key_path: KeyPath, problem: str) -> None:
        self.errors.append(self._line(key_path, problem))

    def warn(self, key_path: KeyPath, problem: str) -> None:
        self.warnings.append(self._line(key_path, problem))

    def _line(self, key_path: KeyPath, problem: str) -> str:
        one_line_problem = " ".join(problem.split())
        if not key_path:
            return f"{self.file_label}: {one_line_problem}"
        return f"{self.file_label}: {format_key_path(key_path)}: {one_line_problem}"


def describe_value(value: object) -> str:
    """A short TOML-flavoured description of a value for 'expected X, got Y' messages."""
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        text = json.dumps(value)
        shortened = text if len(text) <= 40 else text[:36] + '..."'
        return f"string {shortened}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__  # TOML dates and times


def _expected(what: str, value: object) -> InvalidValue:
    return InvalidValue(f"expected {what}, got {describe_value(value)}")


def as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _expected("a boolean", value)
    return value


def as_str(value: object) -> str:
    if not isinstance(value, str):
        raise _expected("a string", value)
    return value


def as_table(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _expected("a table", value)
    return value


def integer_in_range(
    minimum: int | None = None, maximum: int | None = None
) -> Callable[[object], int]:
    """A converter for an integer (never a boolean) of at least `minimum`, at most `maximum`."""

    def convert(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _expected("an integer", value)
        if minimum is not None and value < minimum:
            raise InvalidValue(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise InvalidValue(f"must be <= {maximum}, got {value}")
        return value

    return convert


def number_in_range(
    minimum: float = 0.0, *, allow_minimum: bool = True
) -> Callable[[object], float]:
    """A converter for a finite number (ints too) >= `minimum` (> with allow_minimum=False)."""

    def convert(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _expected("a number", value)
        number = float(value)
        if not math.isfinite(number):
            raise InvalidValue(f"expected a finite number, got {value}")
        if number < minimum or (number == minimum and not allow_minimum):
            relation = ">=" if allow_minimum else ">"
            raise InvalidValue(f"must be {relation} {minimum:g}, got {value}")
        return number

    return convert


class TableReader:
    """Reads the keys of one TOML table, recording problems; unread keys are unknown keys.

    Each getter returns the default when the key is absent or wrong (the problem is recorded),
    so loading goes on and every error is found in one pass.
    """

    def __init__(self, table: Mapping[str, Any], key_path: KeyPath, problems: Problems) -> None:
        self.table = table
        self.key_path = key_path
        self.problems = problems
        self._known_keys: list[str] = []

    def path(self, key: str | int, *more: str | int) -> KeyPath:
        return (*self.key_path, key, *more)

    def has(self, key: str) -> bool:
        self._mark_known(key)
        if self.problems.key_reads is not None:
            self.problems.key_reads.setdefault((self.key_path, key), KeyRead(self.key_path, key))
        return key in self.table

    def get(self, key: str, convert: Callable[[object], ValueT], default: ValueT) -> ValueT:
        self._record(key, convert, default)
        if not self.has(key):
            return default
        try:
            return convert(self.table[key])
        except InvalidValue as problem:
            self.problems.error(self.path(key), str(problem))
            return default

    def get_optional(self, key: str, convert: Callable[[object], ValueT]) -> ValueT | None:
        self._record(key, convert, None)
        if not self.has(key):
            return None
        try:
            return convert(self.table[key])
        except InvalidValue as problem:
            self.problems.error(self.path(key), str(problem))
            return None

    def get_table(self, key: str) -> dict[str, Any]:
        """A sub-table (empty when absent or not a table)."""
        empty: dict[str, Any] = {}
        return self.get(key, as_table, empty)

    def report_unknown_keys(self, ignored: Collection[str] = ()) -> None:
        for key in self.table:
            if key in self._known_keys or key in ignored:
                continue
            hint = did_you_mean(key, self._known_keys)
            self.problems.error(self.path(key), f"unknown key{hint}")

    def _record(self, key: str, convert: Callable[[object], Any], default: object) -> None:
        if self.problems.key_reads is not None:
            read = KeyRead(self.key_path, key, convert, default)
            self.problems.key_reads[(self.key_path, key)] = read

    def _mark_known(self, key: str) -> None:
        if key not in self._known_keys:
            self._known_keys.append(key)


# --- watcher values ----------------------------------------------------------------------------


def as_respawn(value: object) -> RespawnPolicy:
    if isinstance(value, bool):
        return value
    if value == "on-failure":
        return "on-failure"
    raise InvalidValue(f'expected true, false or "on-failure", got {describe_value(value)}')


def as_exit_codes(value: object) -> frozenset[int]:
    if not isinstance(value, list):
        raise InvalidValue(f"expected an array of integers, got {describe_value(value)}")
    exit_codes: set[int] = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not -128 <= item <= 255:
            raise InvalidValue(
                f"expected exit codes 0..255 (or -N for signal N), got {describe_value(item)}"
            )
        exit_codes.add(item)
    return frozenset(exit_codes)


# --- signals -----------------------------------------------------------------------------------

_SIGNAL_NAMES: dict[str, int] = {member.name[3:]: int(member) for member in signal.Signals}


def as_signal(value: object) -> int:
    """A signal given as TERM, SIGTERM, term or a number → its number."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _expected("a signal name or number", value)
    if isinstance(value, int):
        if value not in {int(member) for member in signal.valid_signals()}:
            raise InvalidValue(f"unknown signal number {value}")
        return value
    name = value.strip().upper()
    name = name.removeprefix("SIG")
    if name in _SIGNAL_NAMES:
        return _SIGNAL_NAMES[name]
    raise InvalidValue(f"unknown signal {json.dumps(value)}{did_you_mean(name, _SIGNAL_NAMES)}")


# --- resource limits ---------------------------------------------------------------------------

# "nofile" → resource.RLIMIT_NOFILE, for every limit this platform has.
RLIMIT_NAMES: dict[str, int] = {
    name.removeprefix("RLIMIT_").lower(): getattr(resource, name)
    for name in dir(resource)
    if name.startswith("RLIMIT_")
}

_UNLIMITED_WORDS = frozenset({"unlimited", "infinity"})
MAX_RLIMIT = 2**63 - 1  # setrlimit takes a signed 64-bit value (-1 is "unlimited")
NR_OPEN_PATH = "/proc/sys/fs/nr_open"
_CAP_SYS_RESOURCE = 24  # linux/capability.h


def rlimit_name(key: str) -> str:
    """`nofile`, `NOFILE` or `RLIMIT_NOFILE` → `nofile`; `InvalidValue` for unknown limits."""
    name = key.lower().removeprefix("rlimit_")
    if name not in RLIMIT_NAMES:
        raise InvalidValue(f"unknown resource limit{did_you_mean(name, RLIMIT_NAMES)}")
    return name


def as_rlimit_value(value: object) -> int:
    """A limit: an integer >= 0, or -1 / "unlimited" / "infinity" for no limit."""
    if isinstance(value, str) and value.lower() in _UNLIMITED_WORDS:
        return resource.RLIM_INFINITY
    if isinstance(value, bool) or not isinstance(value, int):
        raise _expected('an integer or "unlimited"', value)
    if value == -1:
        return resource.RLIM_INFINITY
    if value < 0:
        raise InvalidValue(f"must be >= 0 (or -1 for unlimited), got {value}")
    if value > MAX_RLIMIT:
        raise InvalidValue(f"must be at most {MAX_RLIMIT}, got {value}")
    return value


def check_rlimit_raisable(name: str, limit: int) -> None:
    """Only root can raise a hard limit; the spawner sets soft and hard to `limit`. Open files
    are capped by the kernel (fs.nr_open) even for root: never unlimited."""
    shown = "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
    if name == "nofile":
        cap = _nr_open()
        if limit == resource.RLIM_INFINITY or (cap is not None and limit > cap):
            ceiling = f"fs.nr_open = {cap}" if cap is not None else "fs.nr_open"
            raise InvalidValue(f"{shown} exceeds the kernel's cap on open files ({ceiling})")
    hard_limit = resource.getrlimit(RLIMIT_NAMES[name])[1]
    if hard_limit == resource.RLIM_INFINITY:
        return
    if limit != resource.RLIM_INFINITY and limit <= hard_limit:
        return
    if os.geteuid() != 0:
        raise InvalidValue(f"{shown} exceeds the hard limit {hard_limit} (only root can raise it)")
    if not _has_sys_resource():
        raise InvalidValue(
            f"{shown} exceeds the hard limit {hard_limit} "
            "(raising it needs CAP_SYS_RESOURCE, which this root has not)"
        )


def _has_sys_resource() -> bool:
    """CAP_SYS_RESOURCE in our effective set (a container's root often lacks it)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_SYS_RESOURCE & 1)
    except (OSError, ValueError):
        pass
    return True  # no /proc to ask: let the spawn say it, as a spawn error event


def _nr_open() -> int | None:
    """The kernel's ceiling on a process' open files, or None where /proc does not say."""
    try:
        with open(NR_OPEN_PATH) as nr_open:
            return int(nr_open.read())
    except (OSError, ValueError):
        return None


# --- users and groups --------------------------------------------------------------------------


def as_uid(value: object) -> int:
    """A user name or number → uid; setting another user than our own needs root."""
    uid = _resolve_id(value, "user", lambda name: pwd.getpwnam(name).pw_uid)
    _require_root_unless(uid == os.geteuid(), "uid")
    return uid


def as_gid(value: object) -> int:
    """A group name or number → gid; setting another group than our own needs root."""
    gid = _resolve_id(value, "group", lambda name: grp.getgrnam(name).gr_gid)
    _require_root_unless(gid == os.getegid(), "gid")
    return gid


def primary_gid(uid: int) -> int | None:
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return None


def _resolve_id(value: object, kind: str, lookup: Callable[[str], int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _expected(f"a {kind} name or number", value)
    if isinstance(value, int) or value.isdigit():
        number = int(value)
        if number < 0:
            raise InvalidValue(f"must be >= 0, got {number}")
        return number
    try:
        return lookup(value)
    except (KeyError, ValueError):  # ValueError: a NUL in the name
        raise InvalidValue(f"unknown {kind} {json.dumps(value)}") from None


def _require_root_unless(is_own_id: bool, key: str) -> None:
    if not is_own_id and os.geteuid() != 0:
        raise InvalidValue(f"setting {key} to another than tuiman's own requires running as root")

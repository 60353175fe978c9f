"""The pieces of Circus INI loading (docs/circus.md) shared by the reader and the translator.

- `IniOption` / `IniSection`: the parsed file(s), every value with the file it came from.
- `IniProblems`: the loader's `Problems`, but every line names the INI section and option a
  problem came from — also for problems the TOML pipeline finds in the translated document
  (`origins` maps its key paths back to INI locations).
- Value converters with Circus' parsing rules, and Circus' variable-expansion rules
  (`circus.util.replace_gnu_args`, `parse_env_dict`) rewritten so tuiman's own expansion
  (`tuiman.core.config.expand`, docs/configuration.md#expansion) gives the same result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from tuiman.core.config.validate import (
    InvalidValue,
    KeyPath,
    Problems,
    as_signal,
    did_you_mean,
    format_key_path,
)

ValueT = TypeVar("ValueT")


@dataclass(frozen=True)
class IniOption:
    value: str
    file_label: str  # the file it was read from (the main file or an included one)


@dataclass
class IniSection:
    name: str
    file_label: str  # where the section first appeared
    options: dict[str, IniOption] = field(default_factory=dict)


@dataclass(frozen=True)
class IniLocation:
    """Where a problem is: a file, optionally a section, optionally an option of it."""

    file_label: str
    section: str | None = None
    option: str | None = None

    def line(self, problem: str) -> str:
        one_line_problem = " ".join(problem.split())
        if self.section is None:
            return f"{self.file_label}: {one_line_problem}"
        if self.option is None:
            return f"{self.file_label}: [{self.section}]: {one_line_problem}"
        return f"{self.file_label}: [{self.section}] {self.option}: {one_line_problem}"


def section_location(section: IniSection, option: str | None = None) -> IniLocation:
    """The location of `option` in `section` (the file it was read from), or of the section."""
    if option is not None and option in section.options:
        return IniLocation(section.options[option].file_label, section.name, option)
    return IniLocation(section.file_label, section.name, option)


class IniProblems(Problems):
    """Errors and warnings of one INI config, each line naming its INI section and option.

    Problems the TOML pipeline reports by key path (`error`/`warn`) are placed through
    `origins`, longest matching prefix first. Identical lines are reported once (a bad
    `[plugin:flapping]` value would otherwise be reported for every watcher).
    """

    def __init__(self, file_label: str) -> None:
        super().__init__(file_label)
        self.origins: dict[KeyPath, IniLocation] = {}

    def error_at(self, location: IniLocation, problem: str) -> None:
        _add_once(self.errors, location.line(problem))

    def warn_at(self, location: IniLocation, problem: str) -> None:
        _add_once(self.warnings, location.line(problem))

    def error(self, key_path: KeyPath, problem: str) -> None:
        _add_once(self.errors, self._line_for(key_path, problem))

    def warn(self, key_path: KeyPath, problem: str) -> None:
        _add_once(self.warnings, self._line_for(key_path, problem))

    def _line_for(self, key_path: KeyPath, problem: str) -> str:
        for length in range(len(key_path), 0, -1):
            location = self.origins.get(key_path[:length])
            if location is not None:
                return location.line(problem)
        # Not produced by the translator; name the TOML key rather than lose the problem.
        return IniLocation(self.file_label).line(f"{format_key_path(key_path)}: {problem}")


def _add_once(lines: list[str], line: str) -> None:
    if line not in lines:
        lines.append(line)


# --- values (Circus: circus.util.to_bool, int(), float(), to_signum) ---------------------------

_TRUE_WORDS = frozenset({"yes", "true", "on", "1"})
_FALSE_WORDS = frozenset({"no", "false", "off", "0"})
_INTEGER = re.compile(r"[+-]?\d+")
_SIGNAL_WITH_OFFSET = re.compile(r"(?P<name>\w+)\+(?P<offset>\d+)")


def ini_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise InvalidValue(
        f"expected a boolean (true/false, yes/no, on/off or 1/0), got {json.dumps(text)}"
    )


def ini_int(text: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise InvalidValue(f"expected an integer, got {json.dumps(text)}")
    return int(text)


def ini_number(text: str) -> int | float:
    """An integer stays one (it is written back as written); anything else must be a float."""
    if _INTEGER.fullmatch(text.strip()):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        raise InvalidValue(f"expected a number, got {json.dumps(text)}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidValue(f"expected a finite number, got {json.dumps(text)}")
    return number


def ini_signal(text: str) -> int | str:
    """`15`, `TERM`, `SIGTERM`, `term` or `SIGRTMIN+1`; names are checked by the pipeline."""
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    offset_match = _SIGNAL_WITH_OFFSET.fullmatch(stripped)
    if offset_match is not None:
        return as_signal(offset_match.group("name")) + int(offset_match.group("offset"))
    return stripped


def ini_user_or_group(text: str) -> int | str:
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


# --- expansion ---------------------------------------------------------------------------------

# Circus' `$(circus.X)` and `((circus.X))` (circus.util.replace_gnu_args, case-insensitive).
_CIRCUS_TOKEN = re.compile(
    r"\$\((?P<dollar>circus\.[\w.]+)\)|\(\((?P<paren>circus\.[\w.]+)\)\)", re.IGNORECASE
)
_ENV_FIELD = "env."

# In env values Circus expands only `$` + an uppercase name (circus.util.parse_env_dict).
_ENV_VALUE_DOLLAR = re.compile(
    r"\$(?:(?P<name>[A-Z][A-Z0-9_]*)|(?P<token>\((?i:tuiman|circus)\.[^()\s]*\)))?"
)

_DEPRECATED_WID = re.compile(r"\$WID(?![A-Za-z0-9_])")


def lowercase_env(*layers: Mapping[str, str]) -> dict[str, str]:
    """The layers merged (later wins) with lowercased names, as Circus looks them up."""
    merged: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = value
    return merged


def _token_body(match: re.Match[str]) -> str:
    return match.group("dollar") or match.group("paren")


def expand_option(text: str, load_env: Mapping[str, str]) -> str:
    """Circus' load-time pass over an option: `$(circus.env.X)` from `load_env` (lowercased
    names: tuiman's environment, then `[env]`, then the watcher's env sections, raw); every
    other token, and an unknown variable, is left as written."""

    def replace(match: re.Match[str]) -> str:
        field_name = _token_body(match).partition(".")[2].lower()
        if field_name.startswith(_ENV_FIELD):
            return load_env.get(field_name[len(_ENV_FIELD) :], match.group(0))
        return match.group(0)

    return _CIRCUS_TOKEN.sub(replace, text)


def command_tokens(text: str, load_env: Mapping[str, str]) -> str:
    """`cmd`/`args` for tuiman's per-spawn expansion: every token becomes `$(circus.X)`.

    Circus' load-time pass puts in `$(circus.env.X)` for every X set at load (its own
    environment, `[env]`, the watcher's env sections), with the value as written: `[env]
    LOG = $LOG` gives `$LOG`, not its expansion. So that value is put in here too. A variable
    set nowhere at load stays a token for each spawn (a hook may set it, as in Circus).
    `load_env` uses lowercased names.
    """

    def replace(match: re.Match[str]) -> str:
        body = _token_body(match)
        field_name = body.partition(".")[2].lower()
        if field_name.startswith(_ENV_FIELD):
            variable_name = field_name[len(_ENV_FIELD) :]
            if variable_name in load_env:
                return load_env[variable_name]
        return f"$({body})"

    return _CIRCUS_TOKEN.sub(replace, text)


def has_deprecated_wid(text: str) -> bool:
    return _DEPRECATED_WID.search(text) is not None


def toml_env_value(value: str) -> str:
    """An INI env value rewritten so that tuiman's expansion (docs/configuration.md#expansion) gives
    what Circus gives.

    Circus expands `$NAME` (uppercase) from its own environment and keeps every other `$` as
    written, `${NAME}` included. So `$NAME` becomes `${NAME}` (a following lowercase letter
    does not extend the name in Circus), `$(circus.…)` tokens stay for the per-spawn pass,
    and every other `$` becomes `$$`, the TOML spelling of a literal `$`.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group("name") is not None:
            return "${" + match.group("name") + "}"
        if match.group("token") is not None:
            return match.group(0)
        return "$$"

    return _ENV_VALUE_DOLLAR.sub(replace, value)


# --- reading a section -------------------------------------------------------------------------


class OptionReader:
    """Reads the options of one section; options never read are reported as unknown."""

    def __init__(
        self, section: IniSection, problems: IniProblems, load_env: Mapping[str, str]
    ) -> None:
        self.section = section
        self.problems = problems
        self.load_env = load_env
        self._read: set[str] = set()

    def location(self, option: str | None = None) -> IniLocation:
        return section_location(self.section, option)

    def raw(self, option: str) -> str | None:
        """The value as written (for cmd, args and env, which have their own expansion)."""
        self._read.add(option)
        entry = self.section.options.get(option)
        return None if entry is None else entry.value

    def text(self, option: str) -> str | None:
        """The value after Circus' load-time `$(circus.env.X)` pass."""
        raw_value = self.raw(option)
        return None if raw_value is None else expand_option(raw_value, self.load_env)

    def get(self, option: str, convert: Callable[[str], ValueT]) -> ValueT | None:
        text = self.text(option)
        if text is None:
            return None
        try:
            return convert(text)
        except InvalidValue as problem:
            self.problems.error_at(self.location(option), str(problem))
            return None

    def unread(self, prefix: str = "") -> list[str]:
        return [
            option
            for option in self.section.options
            if option not in self._read and option.startswith(prefix)
        ]

    def report_unknown(self, known: list[str]) -> None:
        """Circus ignores options it does not know: a warning each, naming the likely one."""
        for option in self.unread():
            self.raw(option)
            hint = (
                f" (did you mean {_ALIASES[option]}?)"
                if option in _ALIASES
                else did_you_mean(option, known)
            )
            self.problems.warn_at(
                self.location(option), f"unknown option, ignored as Circus does{hint}"
            )


# Options people write for another supervisor (supervisord: user), and Circus' own name.
_ALIASES = {"user": "uid", "group": "gid"}

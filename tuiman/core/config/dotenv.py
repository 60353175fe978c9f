"""`.env` files (docs/configuration.md#env-files): the lines python-dotenv and docker compose
both accept, read into an ordered name → value mapping.

Hand-written rather than python-dotenv: its public reader (`dotenv_values`) only logs a warning
for a line it cannot parse and goes on without it, where tuiman refuses the file naming the line
(reaching into its private parser for that would tie tuiman to its internals), and it expands
`${VAR}` inside single quotes too, unlike docker compose and the shells. The grammar is small
and stays in this one module, with its tests in tests/core/test_dotenv.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_EXPORT = re.compile(r"export[ \t]+")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
_VARIABLE = re.compile(
    r"\$(?:(?P<dollar>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?-)(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class DotenvFileError(Exception):
    """A `.env` file cannot be used; the message is one line naming the file (and the line)."""


class DotenvError(Exception):
    """One bad line: `line` and the problem."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def parse_dotenv(
    text: str, environ: Mapping[str, str], known: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables of a `.env` text, in file order; `DotenvError` for the first bad line.

    `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR-default}` in unquoted and double-quoted
    values take VAR from the values defined above it (and `known`, earlier files), else from
    `environ`; single-quoted values are literal.
    """
    values: dict[str, str] = dict(known or {})
    defined: dict[str, str] = {}
    scanner = _Scanner(text.removeprefix("\ufeff"))
    while scanner.skip_blank_and_comment_lines():
        line = scanner.line
        scanner.match(_EXPORT)
        name = scanner.match(_NAME)
        if name is None:
            raise DotenvError(line, "expected NAME=VALUE (a name starts with a letter or _)")
        scanner.skip_spaces()
        if not scanner.take("="):
            raise DotenvError(line, f"expected '=' after {name}")
        scanner.skip_spaces()
        value = scanner.value(line, lambda raw: _interpolate(raw, values, environ))
        values[name] = defined[name] = value
    return defined


def read_dotenv_file(
    path: Path, label: str, environ: Mapping[str, str], known: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`parse_dotenv` of a file; a problem is a `DotenvFileError` naming `label` and the line."""
    try:
        raw_bytes = path.read_bytes()
    except OSError as error:
        raise DotenvFileError(f"{label}: cannot read: {error.strerror or error}") from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = raw_bytes[: error.start].count(b"\n") + 1
        raise DotenvFileError(f"{label}: line {line_number}: not valid UTF-8") from None
    try:
        return parse_dotenv(text, environ, known)
    except DotenvError as error:
        raise DotenvFileError(f"{label}: line {error.line}: {error.problem}") from None


def _interpolate(raw: str, values: Mapping[str, str], environ: Mapping[str, str]) -> str:
    def lookup(name: str) -> str | None:
        return values[name] if name in values else environ.get(name)

    def replace(match: re.Match[str]) -> str:
        if match.group("dollar") is not None:
            return "$"
        name = match.group("braced") or match.group("bare")
        value = lookup(name)
        operator = match.group("operator")
        if operator == ":-" and not value:
            return match.group("default")
        if operator == "-" and value is None:
            return match.group("default")
        return value or ""

    return _VARIABLE.sub(replace, raw)


class _Scanner:
    """A cursor over the text that counts lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.line = 1

    def _advance(self, count: int) -> str:
        taken = self.text[self.position : self.position + count]
        self.position += len(taken)
        self.line += taken.count("\n")
        return taken

    def match(self, pattern: re.Pattern[str]) -> str | None:
        found = pattern.match(self.text, self.position)
        return None if found is None else self._advance(found.end() - found.start())

    def take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.position):
            self._advance(len(literal))
            return True
        return False

    def skip_spaces(self) -> None:
        while self.position < len(self.text) and self.text[self.position] in " \t":
            self._advance(1)

    def skip_blank_and_comment_lines(self) -> bool:
        """Past blank and `#` lines; False at the end of the text."""
        while True:
            self.skip_spaces()
            if self.position >= len(self.text):
                return False
            if self.text[self.position] == "#":
                self._rest_of_line()
            elif self.text[self.position] in "\r\n":
                self._advance(1)
            else:
                return True

    def _rest_of_line(self) -> str:
        end = self.text.find("\n", self.position)
        end = len(self.text) if end == -1 else end + 1
        return self._advance(end - self.position)

    def value(self, line: int, interpolate: Callable[[str], str]) -> str:
        if self.take("'"):
            end = self.text.find("'", self.position)
            if end == -1:
                raise DotenvError(line, "unterminated single-quoted value")
            value = self._advance(end - self.position)
            self._advance(1)
        elif self.take('"'):
            value = interpolate(self._double_quoted(line))
        else:
            raw = self._rest_of_line().rstrip("\r\n")
            return interpolate(re.sub(r"[ \t]+#.*", "", raw).strip())
        self._end_of_value(line)
        return value

    def _double_quoted(self, line: int) -> str:
        parts: list[str] = []
        while True:
            if self.position >= len(self.text):
                raise DotenvError(line, "unterminated double-quoted value")
            char = self._advance(1)
            if char == '"':
                return "".join(parts)
            if char == "\\" and self.position < len(self.text):
                escaped = self._advance(1)
                # `\$` stays `$$` until interpolation has turned it into a plain `$`.
                decoded = _DOUBLE_QUOTE_ESCAPES.get(escaped, "\\" + escaped)
                parts.append("$$" if escaped == "$" else decoded)
            else:
                parts.append(char)

    def _end_of_value(self, line: int) -> None:
        rest = self._rest_of_line().rstrip("\r\n").strip()
        if rest and not rest.startswith("#"):
            raise DotenvError(line, f"unexpected text after the closing quote: {rest[:40]!r}")

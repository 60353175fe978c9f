"""A watcher's `pty` and `stdin` keys (docs/terminals.md): its own pseudo-terminal, or a
writable stdin pipe."""

from __future__ import annotations

from typing import Literal

from tuiman.core.config.model import WatcherConfig
from tuiman.core.config.validate import InvalidValue, TableReader, as_bool, describe_value

StdinMode = Literal["null", "pipe"]
STDIN_MODES: tuple[StdinMode, ...] = ("null", "pipe")


def as_stdin_mode(value: object) -> StdinMode:
    if value == "null" or value == "pipe":
        return value
    raise InvalidValue(f'expected "null" or "pipe", got {describe_value(value)}')


def check_one_stdin(watcher: WatcherConfig, reader: TableReader) -> None:
    """A process has one stdin: a socket (`stdin_socket`) excludes a pty and a stdin pipe."""
    if watcher.stdin_socket is None:
        return
    if watcher.pty:
        reader.problems.error(
            reader.path("stdin_socket"), "a watcher with pty = true reads its terminal"
        )
    elif watcher.stdin == "pipe":
        reader.problems.error(
            reader.path("stdin_socket"), 'the socket is its stdin: drop stdin = "pipe"'
        )


def read_terminal_keys(reader: TableReader) -> tuple[bool, StdinMode]:
    """(pty, stdin). A pty is already the process' stdin: `stdin = "pipe"` with it is an error."""
    pty = reader.get("pty", as_bool, False)
    stdin: StdinMode = reader.get("stdin", as_stdin_mode, "null")
    if pty and stdin == "pipe":
        reader.problems.error(
            reader.path("stdin"),
            'a watcher with pty = true reads its terminal: drop stdin = "pipe"',
        )
        stdin = "null"
    return pty, stdin

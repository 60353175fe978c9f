"""Variable expansion: `$VAR` at load time (docs/configuration.md#expansion) and `$(tuiman.*)`
tokens per spawn.

Two passes, because they use different data:

- load time (`expand_env_value`): `$VAR`, `${VAR}` and `$PWD` come from tuiman's own
  environment; `$$` is a literal `$`; `$(tuiman.…)`/`$(circus.…)` tokens are kept verbatim.
- per spawn (`spawn_argv_env`): the tokens are replaced with the slot's wid, the watcher's name,
  its numprocesses and its final environment — first in the env values, then in the argv.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuiman.core.config.model import WatcherConfig

SHELL_PATH = "/bin/sh"

# Fields a `$(tuiman.FIELD)` token may name, besides `env.NAME`.
SPAWN_TOKEN_FIELDS: tuple[str, ...] = ("wid", "name", "numprocesses")

_TOKEN_BODY = r"\((?P<prefix>tuiman|circus)\.(?P<field>[^()\s]*)\)"

_LOAD_TIME_PATTERN = re.compile(
    r"\$(?:"
    r"(?P<dollar>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    rf"|(?P<token>{_TOKEN_BODY})"
    r")",
    re.IGNORECASE,
)

_TOKEN_PATTERN = re.compile(r"\$" + _TOKEN_BODY, re.IGNORECASE)

_ENV_FIELD_PREFIX = "env."
SOCKET_FIELD_PREFIX = (
    "sockets."  # `$(tuiman.sockets.NAME)`: the inherited fd (docs/configuration.md)
)


def expand_env_value(value: str, environ: Mapping[str, str], pwd: str) -> str:
    """Expand `$VAR`, `${VAR}` and `$$` in a TOML env value (docs/configuration.md#expansion).

    `$PWD` is always `pwd` (tuiman's working directory); an unset variable becomes empty;
    `$(tuiman.…)` and `$(circus.…)` tokens are left for `spawn_argv_env`. A `$` that starts
    none of these is kept as written.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group("dollar") is not None:
            return "$"
        if match.group("token") is not None:
            return match.group(0)
        variable_name = match.group("braced") or match.group("bare")
        if variable_name == "PWD":
            return pwd
        return environ.get(variable_name, "")

    return _LOAD_TIME_PATTERN.sub(replace, value)


def unknown_tokens(text: str) -> list[str]:
    """The `$(tuiman.…)`/`$(circus.…)` tokens in `text` that no spawn can expand."""
    unknown: list[str] = []
    for match in _TOKEN_PATTERN.finditer(text):
        field = match.group("field").lower()
        if field in SPAWN_TOKEN_FIELDS:
            continue
        if field.startswith(_ENV_FIELD_PREFIX) and len(field) > len(_ENV_FIELD_PREFIX):
            continue
        if field.startswith(SOCKET_FIELD_PREFIX) and len(field) > len(SOCKET_FIELD_PREFIX):
            continue  # the socket's name is checked against [sockets] by the loader
        unknown.append(match.group(0))
    return unknown


def referenced_env_names(text: str) -> list[str]:
    """The NAMEs of the `$(tuiman.env.NAME)` tokens in `text`, as written."""
    names: list[str] = []
    for match in _TOKEN_PATTERN.finditer(text):
        field = match.group("field")
        if field.lower().startswith(_ENV_FIELD_PREFIX) and len(field) > len(_ENV_FIELD_PREFIX):
            names.append(field[len(_ENV_FIELD_PREFIX) :])
    return names


def referenced_socket_names(text: str) -> list[str]:
    """The NAMEs of the `$(tuiman.sockets.NAME)` tokens in `text`, lowercased."""
    names: list[str] = []
    for match in _TOKEN_PATTERN.finditer(text):
        field = match.group("field").lower()
        if field.startswith(SOCKET_FIELD_PREFIX) and len(field) > len(SOCKET_FIELD_PREFIX):
            names.append(field[len(SOCKET_FIELD_PREFIX) :])
    return names


def lookup_env(environment: Mapping[str, str], name: str) -> str | None:
    """`environment[name]`, falling back to a case-insensitive match (Circus lowercases)."""
    if name in environment:
        return environment[name]
    folded_name = name.casefold()
    for candidate, value in environment.items():
        if candidate.casefold() == folded_name:
            return value
    return None


def expand_spawn_tokens(
    text: str, fields: Mapping[str, str], environment: Mapping[str, str] | None
) -> str:
    """Replace `$(tuiman.FIELD)` tokens in `text`.

    `fields` maps lowercase field names (wid, name, numprocesses) to their values.
    `$(tuiman.env.NAME)` takes NAME from `environment` (empty when unset); with
    `environment=None` env tokens are left in place. Unknown tokens are left in place too
    (the loader has already refused them).
    """

    if "$" not in text:
        return text  # the common case: nothing to expand (cheap on a big copied environment)

    def replace(match: re.Match[str]) -> str:
        field = match.group("field")
        if field.lower().startswith(_ENV_FIELD_PREFIX):
            if environment is None:
                return match.group(0)
            value = lookup_env(environment, field[len(_ENV_FIELD_PREFIX) :])
            return "" if value is None else value
        return fields.get(field.lower(), match.group(0))

    return _TOKEN_PATTERN.sub(replace, text)


def spawn_argv_env(
    watcher: WatcherConfig,
    wid: int,
    numprocesses: int,
    socket_fds: Mapping[str, int] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment for spawning slot `wid` of `watcher`.

    Env values are expanded first (wid, name, numprocesses, `$(tuiman.sockets.NAME)` from
    `socket_fds`; then `$(tuiman.env.NAME)` against that result, one pass, no recursion); argv
    tokens then use the finished environment.
    A shell watcher's single command line becomes `["/bin/sh", "-c", line]`.
    """
    fields = {"wid": str(wid), "name": watcher.name, "numprocesses": str(numprocesses)}
    for socket_name, fd in (socket_fds or {}).items():
        fields[SOCKET_FIELD_PREFIX + socket_name.lower()] = str(fd)
    env_with_fields = {
        name: expand_spawn_tokens(value, fields, None) for name, value in watcher.env.items()
    }
    spawn_env = {
        name: expand_spawn_tokens(value, fields, env_with_fields)
        for name, value in env_with_fields.items()
    }
    if watcher.port is not None:  # as foreman and honcho: one port per process
        spawn_env["PORT"] = str(watcher.port + wid - 1)
    argv = [expand_spawn_tokens(argument, fields, spawn_env) for argument in watcher.cmd]
    if watcher.shell:
        return [SHELL_PATH, "-c", " ".join(argv)], spawn_env
    return argv, spawn_env

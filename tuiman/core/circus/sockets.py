"""Circus `[socket:NAME]` sections and the watcher options `use_sockets` / `on_demand`, as
tuiman's `[sockets.NAME]` tables and watcher keys (docs/circus.md#sockets).

Values are read as Circus reads them (`circus.sockets.CircusSocket.load_from_config`): names
lowercased, `port`, `backlog` and `umask` with `int()` (so `umask = 022` is twenty-two, 0o026,
as in Circus: a warning says so), booleans with `to_bool`, `family`/`type` upper-cased, a
relative `path` from tuiman's working directory (Circus' cwd).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuiman.core.circus.model import (
    IniProblems,
    IniSection,
    OptionReader,
    ini_bool,
    ini_int,
    lowercase_env,
    section_location,
)
from tuiman.core.circus.options import WatcherValues
from tuiman.core.config.watchers import absolute_path

_TEXT_OPTIONS = ("host", "family", "type", "interface", "proto")
_INT_OPTIONS = ("port", "backlog")
_BOOL_OPTIONS = ("so_reuseport", "replace", "blocking")
SOCKET_OPTIONS = ("path", "umask", *_TEXT_OPTIONS, *_INT_OPTIONS, *_BOOL_OPTIONS)
WATCHER_SOCKET_OPTIONS = ("use_sockets", "on_demand", "stdin_socket")


def translate_sockets(
    socket_sections: list[IniSection],
    problems: IniProblems,
    *,
    cwd: Path,
    environ: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """The `[sockets]` table: one entry per `[socket:NAME]`, sorted by name as Circus does."""
    sockets: dict[str, dict[str, Any]] = {}
    for section in sorted(socket_sections, key=lambda s: s.name.partition(":")[2].lower()):
        name = section.name.partition(":")[2].lower()
        location = section_location(section)
        if name in sockets:
            problems.error_at(location, f"a second socket named {name!r} (Circus lowercases)")
            continue
        problems.origins[("sockets", name)] = location
        sockets[name] = _translate_socket(name, section, problems, cwd, environ)
    return sockets


def _translate_socket(
    name: str,
    section: IniSection,
    problems: IniProblems,
    cwd: Path,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    reader = OptionReader(section, problems, lowercase_env(environ))
    table: dict[str, Any] = {}

    def put(key: str, value: object) -> None:
        if value is not None:
            table[key] = value
            problems.origins[("sockets", name, key)] = reader.location(key)

    for option in _TEXT_OPTIONS:
        text = reader.text(option)
        put(option, text.strip() if text is not None else None)
    path_text = reader.text("path")
    if path_text is not None and path_text.strip():
        put("path", str(absolute_path(path_text.strip(), cwd)))
    for option in _INT_OPTIONS:
        put(option, reader.get(option, ini_int))
    umask_text = reader.text("umask")
    umask = reader.get("umask", ini_int)
    if umask is not None and umask_text is not None:
        _warn_octal_looking_umask(umask_text.strip(), umask, reader)
    put("umask", umask)
    for option in _BOOL_OPTIONS:
        put(option, reader.get(option, ini_bool))
    reader.report_unknown(list(SOCKET_OPTIONS))
    return table


def _warn_octal_looking_umask(text: str, umask: int, reader: OptionReader) -> None:
    digits = text.lstrip("+")
    if len(digits) > 1 and digits.startswith("0") and digits.isdigit():
        octal = int(digits, 8) if set(digits) <= set("01234567") else None
        if octal != umask:
            reader.problems.warn_at(
                reader.location("umask"),
                f"Circus reads {text} as the decimal number {umask} (0o{umask:03o}); "
                f"tuiman does the same{f' (write {octal} for 0o{octal:03o})' if octal else ''}",
            )


def translate_watcher_socket_options(values: WatcherValues) -> None:
    """`use_sockets`, `on_demand` (Circus booleans) and `stdin_socket` (a socket's name), as
    the watcher keys of the same name."""
    for option in ("use_sockets", "on_demand"):
        values.put(option, values.reader.get(option, ini_bool), option)
    stdin_socket = values.reader.text("stdin_socket")
    if stdin_socket is not None and stdin_socket.strip():
        values.put("stdin_socket", stdin_socket.strip().lower(), "stdin_socket")

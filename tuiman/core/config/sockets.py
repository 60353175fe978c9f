"""Read the `[sockets.NAME]` tables (docs/configuration.md#sockets) and check how the watchers
use them (`use_sockets`, `on_demand`, `$(tuiman.sockets.NAME)`).

Binding is not done here: the arbiter binds when it starts (`tuiman.core.supervision.sockets`).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuiman.core.config.expand import referenced_socket_names
from tuiman.core.config.model import SocketConfig, WatcherConfig
from tuiman.core.config.validate import (
    InvalidValue,
    KeyPath,
    Problems,
    TableReader,
    as_bool,
    as_str,
    as_table,
    did_you_mean,
    integer_in_range,
)
from tuiman.core.config.watchers import absolute_path

FAMILIES = ("AF_INET", "AF_INET6", "AF_UNIX")
TYPES = ("SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET")
MAX_PORT = 65535

_SOCKET_NAME = re.compile(r"[A-Za-z0-9_-]+")


def read_sockets(
    sockets_table: Mapping[str, Any], problems: Problems, config_dir: Path
) -> list[SocketConfig]:
    """Every `[sockets.NAME]` table, in file order; names are lowercased (Circus does too)."""
    sockets: list[SocketConfig] = []
    seen: dict[str, str] = {}
    for name, raw_table in sockets_table.items():
        socket_path: KeyPath = ("sockets", name)
        if not _SOCKET_NAME.fullmatch(name):
            problems.error(socket_path, "invalid socket name (use letters, digits, '-' and '_')")
        folded = name.lower()
        if folded in seen:
            problems.error(
                socket_path, f"duplicate socket name (same as {seen[folded]}, ignoring case)"
            )
            continue
        seen[folded] = name
        try:
            table = as_table(raw_table)
        except InvalidValue as problem:
            problems.error(socket_path, str(problem))
            continue
        sockets.append(_read_socket(folded, TableReader(table, socket_path, problems), config_dir))
    return sockets


def _choice(options: Sequence[str]) -> Any:
    def convert(value: object) -> str:
        text = as_str(value).strip().upper()
        if text not in options:
            raise InvalidValue(
                f"expected one of {', '.join(options)}, got {value!r}{did_you_mean(text, options)}"
            )
        return text

    return convert


def _text(value: object) -> str:
    text = as_str(value)
    if "\0" in text:
        raise InvalidValue("contains a NUL character")
    return text


def _protocol(value: object) -> str:
    name = _text(value).strip()
    try:
        socket.getprotobyname(name)
    except (OSError, ValueError):
        raise InvalidValue(f"unknown protocol {name!r} (see /etc/protocols)") from None
    return name


def _umask(value: object) -> int:
    return integer_in_range(0, 0o777)(value)


def _read_socket(name: str, reader: TableReader, config_dir: Path) -> SocketConfig:
    defaults = SocketConfig(name=name)
    path_text = reader.get_optional("path", _text)
    path = None
    if path_text is not None:
        if not path_text.strip():
            reader.problems.error(reader.path("path"), "empty path")
        else:
            path = absolute_path(path_text, config_dir)
    family = reader.get("family", _choice(FAMILIES), defaults.family)
    if path is not None:
        family = "AF_UNIX"  # as Circus: a path makes it a Unix socket
    elif family == "AF_UNIX":
        reader.problems.error(reader.path("family"), "AF_UNIX needs a path")
    config = SocketConfig(
        name=name,
        host=reader.get("host", _text, defaults.host),
        port=reader.get("port", integer_in_range(0, MAX_PORT), defaults.port),
        path=path,
        family=family,
        type=reader.get("type", _choice(TYPES), defaults.type),
        proto=reader.get_optional("proto", _protocol),
        backlog=reader.get("backlog", integer_in_range(0), defaults.backlog),
        so_reuseport=reader.get("so_reuseport", as_bool, defaults.so_reuseport),
        umask=reader.get("umask", _umask, defaults.umask),
        replace=reader.get("replace", as_bool, defaults.replace),
        blocking=reader.get("blocking", as_bool, defaults.blocking),
        interface=reader.get_optional("interface", _text),
    )
    if path is not None and (reader.table.keys() & {"host", "port"}):
        reader.problems.warn(reader.path("path"), "a Unix socket: host and port are not used")
    reader.report_unknown_keys()
    return config


def check_socket_use(
    watchers: Sequence[WatcherConfig], sockets: Sequence[SocketConfig], problems: Problems
) -> None:
    """`$(tuiman.sockets.NAME)` names a socket; `on_demand` has a socket to wait on."""
    names = [socket_config.name for socket_config in sockets]
    for watcher in watchers:
        watcher_path: KeyPath = ("watchers", watcher.name)
        used: set[str] = set()
        places: list[tuple[KeyPath, str]] = [((*watcher_path, "cmd"), part) for part in watcher.cmd]
        places += [((*watcher_path, "env", key), value) for key, value in watcher.env.items()]
        for key_path, text in places:
            for socket_name in referenced_socket_names(text):
                used.add(socket_name)
                if socket_name not in names:
                    problems.error(
                        key_path,
                        f"unknown socket {socket_name!r}"
                        + (did_you_mean(socket_name, names) if names else " (none is defined)"),
                    )
        if watcher.stdin_socket is not None and watcher.stdin_socket not in names:
            problems.error(
                (*watcher_path, "stdin_socket"),
                f"unknown socket {watcher.stdin_socket!r}"
                + (did_you_mean(watcher.stdin_socket, names) if names else " (none is defined)"),
            )
        if used and not watcher.use_sockets:
            problems.warn(
                (*watcher_path, "cmd"),
                "uses a socket's fd number but its processes do not inherit the socket: "
                "set use_sockets = true",
            )
        if watcher.on_demand and not (watcher.use_sockets or watcher.stdin_socket):
            problems.error(
                (*watcher_path, "on_demand"),
                "needs use_sockets = true (or stdin_socket): the processes it starts must "
                "get the socket",
            )
        elif watcher.on_demand and not socket_names_used_by(watcher, names):
            problems.error((*watcher_path, "on_demand"), "no [sockets] table to wait on")


def sockets_used_by(watcher: WatcherConfig, sockets: Sequence[SocketConfig]) -> list[str]:
    """The sockets a watcher names in `$(tuiman.sockets.NAME)`, else (with use_sockets) all."""
    return socket_names_used_by(watcher, [socket_config.name for socket_config in sockets])


def socket_names_used_by(watcher: WatcherConfig, names: Sequence[str]) -> list[str]:
    """`sockets_used_by`, among the socket `names`."""
    named: list[str] = []
    if watcher.stdin_socket is not None and watcher.stdin_socket in names:
        named.append(watcher.stdin_socket)
    for text in (*watcher.cmd, *watcher.env.values()):
        for socket_name in referenced_socket_names(text):
            if socket_name in names and socket_name not in named:
                named.append(socket_name)
    if named:
        return named
    return list(names) if watcher.use_sockets else []

"""The sockets tuiman binds for its processes (docs/configuration.md#sockets).

The arbiter binds every `[sockets.NAME]` before any watcher starts and keeps it open across
respawns, restarts and config reloads that leave it unchanged, so a connection that arrives
while a process restarts waits in the listen backlog instead of being refused. The sockets are
not inheritable: only the processes of `use_sockets` watchers get them (Popen's `pass_fds`),
under the same fd numbers, which `$(tuiman.sockets.NAME)` expands to.

Binding follows Circus (`circus.sockets.CircusSocket.bind_and_listen`): SO_REUSEADDR always,
SO_REUSEPORT when asked, a Unix socket's file made with the socket's umask (applied with a
chmod right after the bind: the process-wide umask is never changed while threads run), an
existing file refused unless `replace`, listen(backlog) for stream and seqpacket sockets.
Binding may resolve a host name (getaddrinfo): it is done before the loop runs, or in a thread.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tuiman.core.config.model import SocketConfig
from tuiman.core.payloads import SocketSnapshot

_LISTENING_TYPES = ("SOCK_STREAM", "SOCK_SEQPACKET")


class SocketBindError(Exception):
    """A socket could not be bound; the message is one line naming it."""


@dataclass
class BoundSocket:
    config: SocketConfig
    sock: socket.socket
    location: str  # `127.0.0.1:8080`, `[::1]:8080` or the Unix socket's path
    inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the Unix socket's file

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def fd(self) -> int:
        return self.sock.fileno()

    def snapshot(self) -> SocketSnapshot:
        return {
            "name": self.name,
            "location": self.location,
            "fd": self.fd,
            "family": self.config.family,
            "type": self.config.type,
        }

    def close(self) -> None:
        """Close it; a Unix socket's file is removed too, if it is still the one bound here."""
        self.sock.close()
        path = self.config.path
        if path is None or self.inode is None:
            return
        with contextlib.suppress(OSError):
            status = os.lstat(path)
            if (status.st_dev, status.st_ino) == self.inode and stat.S_ISSOCK(status.st_mode):
                os.unlink(path)


def bind_socket(config: SocketConfig) -> BoundSocket:
    """Create, bind and (for stream sockets) listen; `SocketBindError` names what failed."""
    try:
        sock = socket.socket(
            getattr(socket, config.family),
            getattr(socket, config.type),
            socket.getprotobyname(config.proto) if config.proto else 0,
        )
    except OSError as error:
        raise SocketBindError(
            _line(config, f"cannot create the socket: {_reason(error)}")
        ) from None
    try:
        return _bind(config, sock)
    except BaseException:
        sock.close()
        raise


def _bind(config: SocketConfig, sock: socket.socket) -> BoundSocket:
    if config.so_reuseport and hasattr(socket, "SO_REUSEPORT"):
        with contextlib.suppress(OSError):  # as Circus: a kernel without it just goes on
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    inode = None
    if config.path is not None:
        location = str(config.path)
        _make_room_for(config)
        try:
            sock.bind(str(config.path))
            status = os.lstat(config.path)
            inode = (status.st_dev, status.st_ino)
            os.chmod(config.path, 0o777 & ~config.umask)
        except OSError as error:
            raise SocketBindError(
                _line(config, f"cannot bind {location}: {_reason(error)}")
            ) from None
    else:
        address = _resolve(config)
        location = _format_location(config.family, address)
        if config.interface is not None:
            try:
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_BINDTODEVICE, config.interface.encode() + b"\0"
                )
            except OSError as error:
                raise SocketBindError(
                    _line(config, f"cannot bind to interface {config.interface}: {_reason(error)}")
                ) from None
        try:
            sock.bind(address)
        except OSError as error:
            raise SocketBindError(
                _line(config, f"cannot bind {location}: {_reason(error)}")
            ) from None
        location = _format_location(config.family, sock.getsockname())  # port 0: the real one
    sock.setblocking(config.blocking)
    if config.type in _LISTENING_TYPES:
        try:
            sock.listen(config.backlog)
        except OSError as error:
            raise SocketBindError(
                _line(config, f"cannot listen on {location}: {_reason(error)}")
            ) from None
    return BoundSocket(config, sock, location, inode)


def _make_room_for(config: SocketConfig) -> None:
    assert config.path is not None
    if not os.path.lexists(config.path):
        return
    if not config.replace:
        raise SocketBindError(
            _line(
                config,
                f"{config.path} already exists (a stale socket file? remove it, "
                "or set replace = true)",
            )
        )
    try:
        os.unlink(config.path)
    except OSError as error:
        raise SocketBindError(
            _line(config, f"cannot remove the old {config.path}: {_reason(error)}")
        ) from None


def _resolve(config: SocketConfig) -> tuple[str, int] | tuple[str, int, int, int]:
    family = getattr(socket, config.family)
    try:
        infos = socket.getaddrinfo(config.host, config.port, family, getattr(socket, config.type))
    except (OSError, UnicodeError, ValueError) as error:
        raise SocketBindError(
            _line(config, f"cannot resolve host {config.host!r}: {_reason(error)}")
        ) from None
    if not infos:
        raise SocketBindError(_line(config, f"host {config.host!r} has no {config.family} address"))
    address = infos[0][4]
    if family == socket.AF_INET6:
        return (str(address[0]), int(address[1]), int(address[2]), int(address[3]))  # type: ignore[misc]
    return (str(address[0]), int(address[1]))


def _format_location(family: str, address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if family == "AF_INET6" else f"{host}:{port}"
    return str(address)


def _line(config: SocketConfig, problem: str) -> str:
    return f"socket {config.name}: {problem}"


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[0].lower() + error.strerror[1:]
    return str(error)


class SocketTable:
    """The bound sockets by name, in config order."""

    def __init__(self) -> None:
        self.bound: dict[str, BoundSocket] = {}

    @property
    def configs(self) -> tuple[SocketConfig, ...]:
        return tuple(bound.config for bound in self.bound.values())

    def bind_all(self, configs: Iterable[SocketConfig]) -> None:
        """Bind every socket; on a failure the ones just bound are closed and it is raised."""
        fresh: dict[str, BoundSocket] = {}
        try:
            for config in configs:
                fresh[config.name] = bind_socket(config)
        except BaseException:
            for bound in fresh.values():
                bound.close()
            raise
        self.bound.update(fresh)

    def fds(self) -> dict[str, int]:
        return {name: bound.fd for name, bound in self.bound.items()}

    def snapshot(self) -> list[SocketSnapshot]:
        return [bound.snapshot() for bound in self.bound.values()]

    def close_all(self) -> None:
        for bound in self.bound.values():
            bound.close()
        self.bound.clear()

    def prepare(self, new_configs: Mapping[str, SocketConfig]) -> PreparedSockets:
        """Bind what a reload adds or changes, leaving the table as it is. Blocking (it may
        resolve host names): run it in a thread. A changed socket that keeps its address
        cannot be bound while the old one holds it: `commit` binds that one. On a failure
        nothing stays bound and `SocketBindError` is raised."""
        prepared = PreparedSockets(dict(new_configs))
        try:
            for name, config in new_configs.items():
                old = self.bound.get(name)
                if old is not None and old.config == config:
                    continue
                try:
                    prepared.fresh[name] = bind_socket(config)
                except SocketBindError:
                    if old is None or not _same_address(old.config, config):
                        raise
                    prepared.after_close.append(name)
        except BaseException:
            prepared.discard()
            raise
        return prepared

    def commit(self, prepared: PreparedSockets) -> SocketChanges:
        """Swap in what `prepare` bound (on the loop: spawns read the table). Unchanged
        sockets stay open under the same fd; replaced and removed ones are closed."""
        changes = SocketChanges()
        for name, old in list(self.bound.items()):
            if name not in prepared.configs:
                changes.removed.append(name)
            elif name in prepared.fresh or name in prepared.after_close:
                changes.changed.append(name)
            else:
                continue
            old.close()
        for name in prepared.after_close:
            try:
                prepared.fresh[name] = bind_socket(prepared.configs[name])
            except SocketBindError as error:
                changes.failed.append(str(error))
        changes.added = [name for name in prepared.fresh if name not in self.bound]
        self.bound = {
            name: prepared.fresh.get(name) or self.bound[name]
            for name in prepared.configs
            if name in prepared.fresh or (name in self.bound and name not in changes.changed)
        }
        return changes


@dataclass
class PreparedSockets:
    configs: dict[str, SocketConfig]  # the new config's sockets, by name
    fresh: dict[str, BoundSocket] = field(default_factory=dict)
    after_close: list[str] = field(default_factory=list)

    def discard(self) -> None:
        for bound in self.fresh.values():
            bound.close()
        self.fresh.clear()


def _same_address(old: SocketConfig, new: SocketConfig) -> bool:
    if old.path is not None or new.path is not None:
        return old.path == new.path
    return (old.host, old.port, old.family) == (new.host, new.port, new.family)


@dataclass
class SocketChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # changed sockets that could not be bound

    def lines(self) -> list[str]:
        return (
            [f"socket {name}: bound" for name in self.added]
            + [f"socket {name}: bound again with its new settings" for name in self.changed]
            + [f"socket {name}: closed" for name in self.removed]
            + [f"{problem} (the socket is closed)" for problem in self.failed]
        )

"""The control socket server inside every running tuiman
(docs/control-protocol.md#where-the-socket-is).

`claim_instance(config)` is called early, before the arbiter starts anything (it takes the
instance lock and binds the socket; failures mean exit 2). `ControlServer` then serves that
socket on the core's loop: every peer's uid is checked (SO_PEERCRED: the same user or root),
connections are capped, and each one is handled by `Connection`. That module and the command
table behind it are imported at the first connection, not before the first spawn
(bench/startup.py): most instances are never asked anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuiman.control.endpoint import ControlEndpoint, claim_endpoint
from tuiman.control.paths import default_socket_path
from tuiman.control.protocol import READ_CHUNK, encode, error_reply
from tuiman.core.config.model import Config
from tuiman.core.payloads import CONTROL_REJECTED

if TYPE_CHECKING:
    from tuiman.control.connection import Connection, Limits
    from tuiman.core.supervision.arbiter import Arbiter


def socket_path_for(config: Config) -> Path:
    chosen = config.arbiter.control_socket
    return Path(chosen) if chosen is not None else default_socket_path(config.source)


def claim_instance(config: Config) -> ControlEndpoint:
    """Lock this config's instance and bind its socket; raises ControlSetupError (exit 2)."""
    chosen = config.arbiter.control_socket
    return claim_endpoint(socket_path_for(config), private_dir=chosen is None)


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def peer_credentials(sock: Any) -> PeerCredentials | None:
    size = struct.calcsize("3i")
    try:
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size)
    except (OSError, AttributeError):
        return None
    pid, uid, gid = struct.unpack("3i", data)
    return PeerCredentials(pid, uid, gid)


def peer_allowed(credentials: PeerCredentials | None) -> bool:
    return credentials is not None and credentials.uid in (os.geteuid(), 0)


class ControlServer:
    def __init__(
        self, arbiter: Arbiter, endpoint: ControlEndpoint, limits: Limits | None = None
    ) -> None:
        self.arbiter = arbiter
        self.endpoint = endpoint
        self._limits = limits
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.AbstractServer | None = None
        self._closing = False

    @property
    def limits(self) -> Limits:
        if self._limits is None:
            from tuiman.control.connection import Limits

            self._limits = Limits()
        return self._limits

    @property
    def socket_path(self) -> Path:
        return self.endpoint.socket_path

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(
            self._on_connect, sock=self.endpoint.listener, limit=READ_CHUNK * 4
        )

    async def close(self, timeout: float = 2.0) -> None:
        """Stop accepting, remove the socket, end every connection (clients see EOF)."""
        self._closing = True
        self.endpoint.remove_socket()
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        credentials = peer_credentials(writer.get_extra_info("socket"))
        if not peer_allowed(credentials):
            self.arbiter.bus.emit(
                CONTROL_REJECTED,
                None,
                {
                    "uid": credentials.uid if credentials else None,
                    "peer_pid": credentials.pid if credentials else None,
                },
            )
            await _refuse(writer, "permission denied: only the same user or root may connect")
            return
        if self._closing or len(self.connections) >= self.limits.max_connections:
            await _refuse(writer, "too many connections; try again later")
            return
        from tuiman.control.connection import Connection

        connection = Connection(self.arbiter, self.limits, self.socket_path, reader, writer)
        self.connections.add(connection)
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)


@contextlib.asynccontextmanager
async def serving(arbiter: Arbiter, endpoint: ControlEndpoint) -> AsyncIterator[ControlServer]:
    """Serve the control socket for the duration of the block (for a front end's main)."""
    server = ControlServer(arbiter, endpoint)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def _refuse(writer: asyncio.StreamWriter, message: str) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.write(encode(error_reply(None, message)))
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    with contextlib.suppress(Exception):
        writer.transport.abort()

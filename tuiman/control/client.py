"""The blocking client of the control socket (docs/control-protocol.md), for `tuiman ctl`.

The asyncio client behind `tuiman attach` is `tuiman.client.remote.RemoteClient`.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tuiman import strict_json
from tuiman.control.paths import ControlSetupError, check_ancestors, verify_peer

CONNECT_TIMEOUT = 5.0


class Unreachable(ConnectionError):
    """No tuiman is listening on that socket (or we may not connect to it)."""


class ControlConnection:
    """A blocking connection: one request at a time, or a stream of messages after subscribe.

    There is no timeout once connected: `--wait` and streams may take as long as they take.
    """

    def __init__(
        self,
        socket_path: Path,
        connect_timeout: float = CONNECT_TIMEOUT,
        reply_timeout: float | None = None,
    ) -> None:
        self.socket_path = socket_path
        self._ids = itertools.count(1)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(str(socket_path))
            # Before a byte is sent: a socket another user could have put there, or one
            # served by another user, is not ours to trust.
            check_ancestors(socket_path.parent)
            verify_peer(sock)
        except ControlSetupError as exc:
            sock.close()
            raise Unreachable(f"refusing {socket_path}: {exc}") from None
        except OSError as exc:
            sock.close()
            reason = exc.strerror or type(exc).__name__
            raise Unreachable(f"no tuiman listening on {socket_path} ({reason})") from None
        sock.settimeout(reply_timeout)
        self._sock = sock
        self._file: IO[bytes] = sock.makefile("rb")

    def __enter__(self) -> ControlConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        request_id = next(self._ids)
        message = {"id": request_id, "command": command, **arguments}
        try:
            self._sock.sendall(strict_json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise Unreachable(f"connection to {self.socket_path} lost ({exc.strerror})") from None
        return request_id

    def receive(self) -> dict[str, Any] | None:
        """The next message; None when the server closed the connection."""
        while True:
            try:
                line = self._file.readline()
            except OSError:
                return None
            if not line:
                return None
            try:
                message = strict_json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):
                return message

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Send one request and wait for its reply (a connection-level error counts as one)."""
        request_id = self.send(command, **arguments)
        while True:
            message = self.receive()
            if message is None:
                raise Unreachable(f"{self.socket_path}: connection closed before the reply")
            if message.get("id") == request_id or (message.get("id") is None and "ok" in message):
                message.pop("id", None)
                return message


def request(socket_path: Path, command: str, **arguments: Any) -> dict[str, Any]:
    with ControlConnection(socket_path) as connection:
        return connection.request(command, **arguments)

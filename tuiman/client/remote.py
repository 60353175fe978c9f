"""`RemoteClient`: the CoreClient of an instance behind its control socket (`tuiman attach`).

Commands, events and stats travel as JSON lines over the socket (see docs/control-protocol.md);
the instance's supervisor is never imported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Any

from tuiman import strict_json
from tuiman.client.protocol import CoreClient
from tuiman.client.wire import Reply, WireClient
from tuiman.control.client import Unreachable
from tuiman.control.paths import ControlSetupError, check_ancestors, verify_peer
from tuiman.core.events import Event, event_from_dict

CLIENT_LINE_LIMIT = 1 << 26  # replies can be large (status of 500 processes, a full log)


class RemoteEventStream:
    """The bus of a remote instance, starting with its snapshot (an EventStream)."""

    def __init__(self, socket_path: Path, output: bool = True) -> None:
        self.socket_path = socket_path
        self.output = output
        self.error: str | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closed = False

    async def _open(self) -> asyncio.StreamReader:
        try:
            reader, writer = await asyncio.open_unix_connection(
                str(self.socket_path), limit=CLIENT_LINE_LIMIT
            )
        except OSError as exc:
            raise EOFError(f"cannot connect to {self.socket_path}: {exc.strerror}") from None
        try:
            _verify_server(self.socket_path, writer)
        except Unreachable as exc:
            raise EOFError(str(exc)) from None
        self._reader, self._writer = reader, writer
        request = {"id": 1, "command": "subscribe", "output": self.output}
        writer.write(strict_json.dumps(request).encode() + b"\n")
        return reader

    async def get(self) -> Event:
        """The next event; EOFError when the stream ends (instance gone, or too slow)."""
        if self._closed:
            raise EOFError("stream closed")
        reader = self._reader or await self._open()
        while True:
            try:
                line = await reader.readline()
            except (OSError, ValueError) as exc:
                raise EOFError(str(exc)) from None
            if not line:
                raise EOFError(self.error or "the instance closed the stream")
            try:
                message = strict_json.loads(line)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            if "seq" in message and "kind" in message:
                return event_from_dict(message)
            if message.get("ok") is False:
                self.error = str(message.get("error"))
                raise EOFError(self.error)

    def close(self) -> None:
        self._closed = True
        if self._writer is not None:
            self._writer.close()


class RemoteClient(WireClient, CoreClient):
    """CoreClient over the control socket: commands in, events out, like LocalClient."""

    is_remote = True

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.source = ""
        self.pid: int | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._stats_enabled = False
        self._background: set[asyncio.Task[Any]] = set()

    @classmethod
    async def connect(cls, socket_path: Path) -> RemoteClient:
        """Connect and identify the instance; raises Unreachable."""
        client = cls(socket_path)
        await client._open()
        hello = await client.request("hello")
        if not hello.get("ok"):
            await client.aclose()
            raise Unreachable(f"{socket_path}: {hello.get('error')}")
        client.source = str(hello.get("config", ""))
        client.pid = hello.get("pid")
        return client

    async def _open(self) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(
                str(self.socket_path), limit=CLIENT_LINE_LIMIT
            )
        except OSError as exc:
            raise Unreachable(
                f"no tuiman listening on {self.socket_path} ({exc.strerror})"
            ) from None
        _verify_server(self.socket_path, writer)
        self._writer = writer
        self._lost = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read_replies(reader))
        if self._stats_enabled:
            self._send({"id": next(self._ids), "command": "stats_stream", "enabled": True})

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                with contextlib.suppress(ValueError):
                    self._dispatch(strict_json.loads(line))
        except (OSError, ValueError):
            pass
        finally:
            self._writer = None
            self._lost.set()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_result(
                        {"ok": False, "error": "connection to tuiman lost", "lost": True}
                    )

    def _dispatch(self, message: object) -> None:
        if not isinstance(message, dict):
            return
        request_id = message.pop("id", None)
        future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if future is not None and not future.done():
            future.set_result(message)

    def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None:
            raise ConnectionError("not connected")
        self._writer.write(strict_json.dumps(message).encode() + b"\n")

    async def request(self, command: str, **arguments: Any) -> Reply:
        """Run one core command remotely; the reply has `ok` (and `error` when not ok)."""
        try:
            if self._writer is None:
                await self._open()  # the server closed an idle connection: reconnect
            request_id = next(self._ids)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending[request_id] = future
            self._send({"id": request_id, "command": command, **arguments})
        except (ConnectionError, OSError) as exc:
            return {"ok": False, "error": str(exc), "lost": True}
        return await future

    def subscribe(self) -> RemoteEventStream:
        return RemoteEventStream(self.socket_path)

    def set_stats(self, enabled: bool) -> None:
        if enabled == self._stats_enabled:
            return
        self._stats_enabled = enabled
        self._in_background(self.request("stats_stream", enabled=enabled))

    async def quit_instance(self) -> None:
        """Stop every watcher and end the instance; returns once it has closed the socket."""
        reply = await self.request("quit")
        if reply.get("ok"):
            await self._lost.wait()

    def force_quit(self) -> None:
        self._in_background(self.request("force"))

    async def aclose(self) -> None:
        """Disconnect (the instance keeps running)."""
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _verify_server(socket_path: Path, writer: asyncio.StreamWriter) -> None:
    """The socket's directories are safe and its server runs as us or root (as `ctl` checks)."""
    try:
        check_ancestors(socket_path.parent)
        verify_peer(writer.get_extra_info("socket"))
    except ControlSetupError as exc:
        writer.close()
        raise Unreachable(f"refusing {socket_path}: {exc}") from None

"""One control connection: requests and replies, or (after `subscribe`) an event stream.

Requests on one connection run concurrently (each reply carries its request's id), at most
`max_in_flight` at a time. A connection is closed after `idle_timeout` without a byte while
nothing is in flight. Bad input gets an error reply and the connection carries on; nothing a
client sends can disturb the server or another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman import __version__
from tuiman.control.protocol import (
    MAX_LINE_BYTES,
    LineReader,
    LineTooLong,
    encode,
    error_reply,
    one_line,
    parse_request,
)
from tuiman.core.bus import Subscription
from tuiman.core.events import Kind
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

STREAM_BATCH = 256  # events written to a streaming client in one go

# Commands of the connection itself; everything else goes to the core command table
# (tuiman.core.supervision.commands.COMMANDS).
SUBSCRIBE_ARGUMENTS = frozenset({"output", "stats_stream", "logs"})
STATS_STREAM_ARGUMENTS = frozenset({"enabled"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_line: int = MAX_LINE_BYTES
    idle_timeout: float = 300.0  # seconds without a byte, with nothing in flight
    max_connections: int = 64
    max_in_flight: int = 16  # concurrent requests on one connection; more wait their turn
    stream_queue: int = 20_000  # events queued for one streaming client (docs/events.md#delivery)
    drain_timeout: float = 10.0  # a client that reads nothing for this long is dropped


class BadArguments(ValueError):
    pass


class Connection:
    def __init__(
        self,
        arbiter: Arbiter,
        limits: Limits,
        socket_path: Path,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.arbiter = arbiter
        self.limits = limits
        self.socket_path = socket_path
        self.lines = LineReader(reader, limits.max_line)
        self.writer = writer
        self.in_flight: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(limits.max_in_flight)
        self.stats_on = False
        self.closed = False

    # -- lifecycle ----------------------------------------------------------------------------
    async def serve(self) -> None:
        try:
            await self._request_loop()
        except (ConnectionError, OSError):
            pass
        finally:
            self._set_stats(False)
            self.close()

    def close(self) -> None:
        """Close gracefully: what is written still reaches the client, then EOF."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()

    def abort(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.transport.abort()

    # -- requests -----------------------------------------------------------------------------
    async def _request_loop(self) -> None:
        while not self.closed:
            try:
                line = await self._next_line()
            except LineTooLong:
                await self.send(
                    error_reply(None, f"request line longer than {self.limits.max_line} bytes")
                )
                continue
            if line is None:
                return
            if not line.strip():
                continue
            request_id, request, problem = parse_request(line)
            if request is None:
                await self.send(error_reply(request_id, problem or "bad request"))
                continue
            command = request["command"]
            if command == "subscribe":
                if await self._subscribe(request_id, request):
                    return
            elif command in ("hello", "stats_stream"):
                await self.send(self._local_command(command, request_id, request))
            else:
                await self.slots.acquire()
                task = asyncio.create_task(self._run(request_id, request))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)

    async def _next_line(self) -> bytes | None:
        """The next request line; None at EOF or after the idle timeout."""
        while True:
            try:
                return await asyncio.wait_for(self.lines.next_line(), self.limits.idle_timeout)
            except EOFError:
                return None
            except TimeoutError:
                if self.in_flight or self.stats_on:
                    continue
                if time.monotonic() - self.lines.last_activity < self.limits.idle_timeout:
                    continue
                await self.send(error_reply(None, "idle timeout"))
                return None

    async def _run(self, request_id: Any, request: dict[str, Any]) -> None:
        try:
            try:
                reply = await execute(self.arbiter, request)
            except Exception as exc:  # a bug in a command must not take the server down
                reply = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
            if "error" in reply:
                reply["error"] = one_line(str(reply["error"]))
            await self.send({"id": request_id, **reply})
        except (ConnectionError, OSError):
            self.abort()
        finally:
            self.slots.release()

    def _local_command(
        self, command: str, request_id: Any, request: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            if command == "hello":
                _check_arguments(request, frozenset())
                return {
                    "id": request_id,
                    "ok": True,
                    "pid": os.getpid(),
                    "version": __version__,
                    "config": self.arbiter.config.source,
                    "socket": str(self.socket_path),
                    "subscribers": self.arbiter.bus.subscriber_count,
                }
            _check_arguments(request, STATS_STREAM_ARGUMENTS)
            self._set_stats(_bool_argument(request, "enabled", True))
            return {"id": request_id, "ok": True, "stats_stream": self.stats_on}
        except BadArguments as exc:
            return error_reply(request_id, f"{command}: {exc}")

    def _set_stats(self, enabled: bool) -> None:
        """Stats sampling runs while at least one consumer asked for it
        (docs/output-and-stats.md#stats)."""
        if enabled == self.stats_on:
            return
        self.stats_on = enabled
        if enabled:
            self.arbiter.stats.acquire()
        else:
            self.arbiter.stats.release()

    # -- output -------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        self.writer.write(encode(message))
        self.lines.last_activity = time.monotonic()
        await self.drain()

    async def drain(self) -> None:
        try:
            await asyncio.wait_for(self.writer.drain(), self.limits.drain_timeout)
        except TimeoutError:
            self.abort()
            raise ConnectionResetError("client stopped reading") from None

    # -- streaming ----------------------------------------------------------------------------
    async def _subscribe(self, request_id: Any, request: dict[str, Any]) -> bool:
        """Turn this connection into an event stream; False if the request was refused."""
        try:
            _check_arguments(request, SUBSCRIBE_ARGUMENTS)
            output = _bool_argument(request, "output", True)
            stats = _bool_argument(request, "stats_stream", False)
            logs = request.get("logs")
            if logs is not None and not isinstance(logs, dict):
                raise BadArguments("logs must be an object: {watcher, pid?, n?}")
        except BadArguments as exc:
            await self.send(error_reply(request_id, f"subscribe: {exc}"))
            return False
        # Without output, lines and terminal text are never queued for this client.
        skipped = frozenset() if output else frozenset({Kind.OUTPUT, Kind.TERMINAL})
        subscription = self.arbiter.bus.subscribe(
            maxsize=self.limits.stream_queue, name="control", skip_kinds=skipped
        )
        reply: dict[str, Any] = {"id": request_id, "ok": True, "stream": True}
        if logs is not None:
            # No await inside cmd_logs: the history and the subscription are taken in the same
            # loop step, so no line is missed or repeated between them.
            history = await execute(self.arbiter, {**logs, "command": "logs"})
            if not history.get("ok"):
                subscription.close()
                await self.send(error_reply(request_id, f"subscribe: {history.get('error')}"))
                return False
            reply["lines"] = history["lines"]
        try:
            await self.send(reply)
            self._set_stats(stats)
            await self._stream(subscription, output)
        finally:
            subscription.close()
        return True

    async def _stream(self, subscription: Subscription, output: bool) -> None:
        hangup = asyncio.create_task(self.lines.discard_until_eof())
        hangup.add_done_callback(lambda _: subscription.close())
        try:
            while not self.closed:
                try:
                    first = await subscription.get()
                except EOFError:
                    return
                chunks: list[bytes] = []
                for event in (first, *subscription.drain(STREAM_BATCH)):
                    if event.kind == Kind.RESYNC:
                        self.writer.write(b"".join(chunks))
                        message = (
                            "event stream overflowed: this client could not keep up; disconnected"
                        )
                        await self.send(error_reply(None, message))
                        return
                    if output or event.kind not in (Kind.OUTPUT, Kind.TERMINAL):
                        chunks.append(encode(event.to_dict()))
                if chunks and not self.closed:
                    self.writer.write(b"".join(chunks))
                    await self.drain()
        finally:
            hangup.cancel()


def _check_arguments(request: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(request) - allowed - {"command", "id"}
    if unknown:
        raise BadArguments(f"unknown arguments: {', '.join(sorted(unknown))}")


def _bool_argument(request: dict[str, Any], key: str, default: bool) -> bool:
    value = request.get(key, default)
    if not isinstance(value, bool):
        raise BadArguments(f"{key} must be true or false")
    return value

"""The wire format (docs/control-protocol.md#wire-format): newline-delimited JSON, one request or
reply per line.

A request is an object `{"id": any, "command": NAME, ...arguments}`; every reply echoes the id:
`{"id": ..., "ok": true, ...}` or `{"id": ..., "ok": false, "error": "one line"}`. Errors that
belong to no request (a line that is not JSON, the connection limit) carry `"id": null`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tuiman import strict_json

MAX_LINE_BYTES = 1 << 20  # one request line; longer ones are refused and skipped
READ_CHUNK = 1 << 16
MAX_ERROR_CHARS = 300


class LineTooLong(Exception):
    """A request line exceeded the limit; its remaining bytes are being skipped."""


def encode(message: dict[str, Any]) -> bytes:
    return strict_json.dumps(message).encode("utf-8", "replace") + b"\n"


def error_reply(request_id: Any, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": one_line(message)}


def one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ERROR_CHARS else flat[: MAX_ERROR_CHARS - 1] + "…"


def parse_request(line: bytes) -> tuple[Any, dict[str, Any] | None, str | None]:
    """(id, request, None) for a well-formed request, else (id or None, None, error text)."""
    try:
        data = strict_json.loads(line)
    except (ValueError, RecursionError) as exc:
        return None, None, f"malformed JSON: {exc}"
    if not isinstance(data, dict):
        return None, None, "a request must be a JSON object"
    request_id = data.get("id")
    if not isinstance(data.get("command"), str):
        return request_id, None, "missing command"
    return request_id, data, None


class LineReader:
    """Splits a stream into lines with bounded memory.

    A line longer than `limit` raises LineTooLong as soon as it is detected; the rest of it is
    then skipped chunk by chunk, never buffered. Cancel-safe: state lives on the object, and the
    only await is one `read`. A partial line at EOF is dropped (a client that hung up mid-request).
    """

    def __init__(self, reader: asyncio.StreamReader, limit: int = MAX_LINE_BYTES) -> None:
        self._reader = reader
        self.limit = limit
        self._buffer = bytearray()
        self._scanned = 0
        self._skipping = False
        self.last_activity = time.monotonic()

    async def next_line(self) -> bytes:
        """The next complete line without its newline; EOFError at the end of the stream."""
        while True:
            line = self._take_line()
            if line is not None:
                return line
            chunk = await self._reader.read(READ_CHUNK)
            if not chunk:
                raise EOFError
            self.last_activity = time.monotonic()
            self._buffer += chunk

    async def discard_until_eof(self) -> None:
        """Drop whatever the client still sends (a streaming connection only writes)."""
        self._buffer.clear()
        while await self._reader.read(READ_CHUNK):
            pass

    def _take_line(self) -> bytes | None:
        if self._skipping:
            end = self._buffer.find(b"\n")
            if end < 0:
                self._buffer.clear()
                return None
            del self._buffer[: end + 1]
            self._skipping = False
        end = self._buffer.find(b"\n", self._scanned)
        if end >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if len(line) > self.limit:
                raise LineTooLong
            return line
        self._scanned = len(self._buffer)
        if len(self._buffer) > self.limit:
            self._buffer.clear()
            self._scanned = 0
            self._skipping = True
            raise LineTooLong
        return None

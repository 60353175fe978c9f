"""What a hook writes to `sys.stdout`/`sys.stderr` becomes `hook_output` events, never stdout.

`sys.stdout` and `sys.stderr` are replaced once by routers. A write from a thread (or async
task) that is running a hook goes to that call's `HookOutputSink`, line by line, as events on the
bus; every other write goes to the real stream untouched, so the `--json` stream stays JSON.
Output a hook makes below Python (`os.write(1, …)`, a subprocess it starts) is not seen here:
only an isolated hook's output is caught whole (docs/hooks.md#output).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TextIO, cast

from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.payloads import HookOutputPayload

MAX_LINES_PER_CALL = 1_000  # then one "truncated" line: a printing loop cannot flood the bus
MAX_LINE_CHARS = 4_096

_current_sink: ContextVar[HookOutputSink | None] = ContextVar("tuiman_hook_output", default=None)


class HookOutputSink:
    """One hook call's output: complete lines become events; the last partial one at the end."""

    def __init__(self, bus: Bus, watcher: str, hook_name: str, pid: int | None) -> None:
        self._bus = bus
        self.watcher = watcher
        self._hook_name = hook_name
        self._pid = pid
        self._partial = {"stdout": "", "stderr": ""}
        self._lines = 0
        self._lock = threading.Lock()  # a hook's own threads may share the sink's context

    def write(self, stream: str, text: str) -> None:
        with self._lock:
            pending = self._partial[stream] + text
            *lines, self._partial[stream] = pending.split("\n")
            if len(self._partial[stream]) > MAX_LINE_CHARS:
                lines.append(self._partial[stream])
                self._partial[stream] = ""
            for line in lines:
                self._emit(stream, line)

    def close(self) -> None:
        with self._lock:
            for stream, rest in self._partial.items():
                if rest:
                    self._emit(stream, rest)
                self._partial[stream] = ""

    def _emit(self, stream: str, line: str) -> None:
        self._lines += 1
        if self._lines > MAX_LINES_PER_CALL + 1:
            return
        if self._lines == MAX_LINES_PER_CALL + 1:
            line = f"[more output of this call dropped after {MAX_LINES_PER_CALL} lines]"
        payload: HookOutputPayload = {
            "name": self._hook_name,
            "stream": stream,
            "line": line[:MAX_LINE_CHARS],
        }
        if self._pid is not None:
            payload["pid"] = self._pid
        bus, watcher = self._bus, self.watcher
        with contextlib.suppress(RuntimeError):  # the loop is closed: tuiman is exiting
            bus.call_soon_threadsafe(lambda: bus.emit(Kind.HOOK_OUTPUT, watcher, payload))


@contextlib.contextmanager
def capturing(sink: HookOutputSink) -> Iterator[None]:
    """Route this thread's (or task's) writes to `sink` while the hook runs."""
    token = _current_sink.set(sink)
    try:
        yield
    finally:
        _current_sink.reset(token)
        sink.close()


class _StreamRouter:
    """Stands in for sys.stdout/sys.stderr: hook writes to their sink, the rest to the stream."""

    def __init__(self, real: TextIO, stream: str) -> None:
        self.real = real
        self._stream = stream

    def write(self, text: str) -> int:
        sink = _current_sink.get()
        if sink is None:
            return self.real.write(text)
        sink.write(self._stream, str(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current_sink.get() is None:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def install_routers() -> None:
    """Put the routers in place (again, if something replaced a stream since)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _StreamRouter):
            setattr(sys, name, cast(TextIO, _StreamRouter(stream, name)))

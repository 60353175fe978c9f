"""Headless mode (docs/headless.md): the bus printed on stdout, from a thread of its own.

No Textual and no Rich here: plain ANSI colours, honouring NO_COLOR, FORCE_COLOR and whether
stdout is a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import threading
import time
import zlib
from collections.abc import Callable
from typing import TextIO, cast

from tuiman import strict_json
from tuiman.console import say
from tuiman.core.bus import SKIP_OUTPUT, Subscription
from tuiman.core.events import Event, Kind
from tuiman.core.line_text import terminal_line
from tuiman.core.payloads import (
    DroppedPayload,
    FailedPayload,
    FilesChangedPayload,
    FlappingPayload,
    HookFailurePayload,
    HookOutputPayload,
    HookStartedPayload,
    LogErrorPayload,
    OutputPayload,
    ReapPayload,
    SignalPayload,
    SpawnErrorPayload,
    SpawnPayload,
    StatePayload,
    StopPayload,
    UpdatedPayload,
    WatchErrorPayload,
)
from tuiman.core.readiness_text import READINESS_KINDS, readiness_text
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.watch_text import files_changed_text

PRINTER_BACKLOG = 1_000  # chunks waiting for a slow stdout before the bus starts dropping
PRINT_BATCH = 500  # events per chunk handed to the writer thread
# A pty's raw text is for terminal emulators; its readable lines come as `output` events.
HIDDEN_KINDS = frozenset({Kind.SNAPSHOT, Kind.STATS, Kind.TERMINAL})
PALETTE = (36, 32, 33, 35, 34, 96, 92, 93, 95, 94)


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def exit_text(code: int | None) -> str:
    """An exit code; 'unknown' when its status was collected by someone else (a hook's
    waitpid), never a made-up number."""
    return "unknown" if code is None else str(code)


class LineFormatter:
    """One human-readable line per event."""

    def __init__(self, colour: bool, show_output: bool = True) -> None:
        self.colour = colour
        self.show_output = show_output

    def paint(self, text: str, code: int) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def watcher_label(self, name: str) -> str:
        return self.paint(name, PALETTE[zlib.crc32(name.encode()) % len(PALETTE)])

    def format(self, event: Event) -> str | None:
        if event.kind in HIDDEN_KINDS:
            return None
        if event.kind == Kind.OUTPUT:
            if not self.show_output:
                return None
            output = cast(OutputPayload, event.payload)
            prefix = self.watcher_label(f"{event.watcher}.{output['wid']}")
            return f"{prefix} | {terminal_line(output['line'])}"
        stamp = (
            time.strftime("%H:%M:%S", time.localtime(event.time))
            + f".{int(event.time % 1 * 1000):03d}"
        )
        who = self.watcher_label(event.watcher) if event.watcher else self.paint("tuiman", 90)
        return f"{self.paint(stamp, 90)} {who} {self.describe(event)}"

    def describe(self, event: Event) -> str:
        kind = event.kind
        if kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE):
            return self._hook(event)
        if kind == Kind.HOOK_STARTED:
            started = cast(HookStartedPayload, event.payload)
            pid = f" pid={started['pid']}" if "pid" in started else ""
            return self.paint(f"hook {started['name']}{pid} running…", 90)
        if kind == Kind.HOOK_OUTPUT:
            output = cast(HookOutputPayload, event.payload)
            pid = f" pid={output['pid']}" if "pid" in output else ""
            return f"hook {output['name']}{pid} {output['stream']}| {output['line']}"
        if kind == Kind.SPAWN:
            spawn = cast(SpawnPayload, event.payload)
            return f"spawn pid={spawn['pid']} wid={spawn['wid']}"
        if kind == Kind.REAP:
            reap = cast(ReapPayload, event.payload)
            own = reap["process_status"] is not None
            code = reap["exit_code"]
            text = (
                f"reap pid={reap['pid']} wid={reap['wid']} exit_code={exit_text(code)}"
                f" ({'own exit' if own else 'by tuiman'})"
            )
            return self.paint(text, 31) if code != 0 and own else text
        if kind == Kind.STATE:
            state = cast(StatePayload, event.payload)
            text = f"state {state['old']} → {state['new']} ({state['reason']})"
            return self.paint(text, 31 if state["new"] == WatcherState.FAILED else 1)
        if kind in (Kind.KILL, Kind.SIGNAL):
            signalled = cast(SignalPayload, event.payload)
            return f"{kind} pid={signalled['pid']} {signal_name(signalled['signum'])}"
        if kind == Kind.FLAPPING:
            flapping = cast(FlappingPayload, event.payload)
            pause = f"pause {flapping['attempt']}, retry in {flapping['retry_in']}s"
            return self.paint(f"flapping wid={flapping['wid']} {pause}", 33)
        if kind == Kind.FAILED:
            return self.paint(f"failed: {cast(FailedPayload, event.payload)['detail']}", 31)
        if kind == Kind.SPAWN_ERROR:
            spawn_error = cast(SpawnErrorPayload, event.payload)
            return self.paint(f"spawn error wid={spawn_error['wid']}: {spawn_error['error']}", 31)
        if kind == Kind.LOG_ERROR:
            log_error = cast(LogErrorPayload, event.payload)
            lost = log_error["dropped"]
            return self.paint(f"log file error: {log_error['error']} ({lost} lines lost)", 31)
        if kind == Kind.STOP:
            leaked = cast(StopPayload, event.payload).get("leaked_pids")
            if leaked:
                return self.paint(f"stop (leaked pids {leaked})", 31)
        if kind == Kind.UPDATED:
            updated = cast(UpdatedPayload, event.payload)
            if "settings" in updated:  # a config reload (a scale is printed as any event)
                restarted = " (restarted)" if updated.get("restarted") else ""
                return f"updated: new config, numprocesses={updated['numprocesses']}{restarted}"
        if kind in READINESS_KINDS:
            text = readiness_text(event)
            failing = kind in (Kind.LIVENESS, Kind.BLOCKED, Kind.UNREADY)
            return self.paint(text, 33 if failing else 32 if kind == Kind.READY else 0)
        if kind == Kind.FILES_CHANGED:
            return "files changed: " + files_changed_text(cast(FilesChangedPayload, event.payload))
        if kind == Kind.WATCH_ERROR:
            return self.paint(f"watch error: {cast(WatchErrorPayload, event.payload)['error']}", 31)
        if kind == Kind.DROPPED:
            count = cast(DroppedPayload, event.payload)["count"]
            return self.paint(f"printer fell behind: {count} output/stats events dropped", 33)
        details = " ".join(f"{key}={value}" for key, value in event.payload.items())
        return f"{kind} {details}".rstrip()

    def _hook(self, event: Event) -> str:
        # hook_success is hook_failure without `error`: read both through the wider type.
        payload = cast(HookFailurePayload, event.payload)
        name = payload["name"]
        pid = f" pid={payload['pid']}" if "pid" in payload else ""
        duration = f"{payload['duration'] * 1000:.1f}ms"
        if event.kind == Kind.HOOK_FAILURE and payload.get("abandoned"):
            return self.paint(f"hook {name}{pid} abandoned after {duration}: result ignored", 33)
        if event.kind == Kind.HOOK_FAILURE:
            verdict = "FAILED, vetoed" if payload["vetoed"] else "FAILED (ignored)"
            return self.paint(
                f"hook {name}{pid} {verdict} after {duration}: {payload['error']}", 31
            )
        if payload["vetoed"]:
            return self.paint(f"hook {name}{pid} VETOED after {duration}", 33)
        return self.paint(f"hook {name}{pid} ok {duration}", 32)


def format_json(event: Event, show_output: bool) -> str | None:
    if event.kind in HIDDEN_KINDS or (event.kind == Kind.OUTPUT and not show_output):
        return None
    return strict_json.dumps(event.to_dict())


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class Printer:
    """Moves bus events into a writer thread; a slow stdout never blocks the core."""

    def __init__(
        self, subscription: Subscription, render: Callable[[Event], str | None], stream: TextIO
    ) -> None:
        self._subscription = subscription
        self._render = render
        self._stream = stream
        self._lines: queue.Queue[str | None] = queue.Queue(PRINTER_BACKLOG)
        self._thread = threading.Thread(target=self._write_loop, name="tuiman-printer", daemon=True)
        self._pump_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._thread.start()
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        while True:
            try:
                first = await self._subscription.get()
            except EOFError:
                return
            # Everything queued since the last wake-up goes to the writer thread as one chunk:
            # one thread hand-off per loop iteration, not one per event.
            batch = [first, *self._subscription.drain(PRINT_BATCH)]
            lines = [line for line in map(self._render, batch) if line is not None]
            if not lines:
                continue
            while self._lines.full():
                await asyncio.sleep(0.01)  # the bus queue absorbs (and drops output) meanwhile
            self._lines.put_nowait("\n".join(lines) + "\n")

    def _write_loop(self) -> None:
        sink = StreamSink(self._stream)
        while True:
            chunk = self._lines.get()
            if chunk is None:
                break
            sink.write(chunk)  # a broken stdout only loses lines: keep draining the queue

    async def close(self, timeout: float = 2.0) -> None:
        """Print what is pending, then stop the thread; never longer than about `timeout`, even
        when stdout does not drain (nobody reads the pipe, the terminal is suspended)."""
        pending = [line for line in map(self._render, self._subscription.drain()) if line]
        self._subscription.close()
        if self._pump_task is not None:
            self._pump_task.cancel()
        # Bounded puts: a blocked writer thread must not block the executor, or asyncio.run
        # would wait for it forever at shutdown.
        if pending:
            await asyncio.to_thread(self._put, "\n".join(pending) + "\n", timeout / 2)
        await asyncio.to_thread(self._put, None, timeout / 4)
        await asyncio.to_thread(self._thread.join, timeout / 4)

    def _put(self, chunk: str | None, timeout: float) -> None:
        with contextlib.suppress(queue.Full):
            self._lines.put(chunk, timeout=timeout)


class StreamSink:
    """Writes text chunks straight to the stream's file descriptor.

    Not through the stream's buffer: a write blocked on a full pipe would hold that buffer's
    lock, and the interpreter's final flush of stdout would then wait for it (or abort) at
    exit. Once a write fails (EPIPE, EIO, EBADF) every later chunk is dropped.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._encoding = getattr(stream, "encoding", None) or "utf-8"
        self._fd: int | None = None
        self.broken = False
        try:
            stream.flush()
            self._fd = stream.fileno()
        except (OSError, ValueError, AttributeError):
            self._fd = None  # no descriptor (a StringIO): write through the stream itself

    def write(self, chunk: str) -> None:
        if self.broken:
            return
        try:
            if self._fd is None:
                self._stream.write(chunk)
                self._stream.flush()
                return
            data = memoryview(chunk.encode(self._encoding, "replace"))
            while data:
                data = data[os.write(self._fd, data) :]
        except BlockingIOError:
            return  # a non-blocking stdout that is full: this chunk is lost, later ones may pass
        except (OSError, ValueError):
            self.broken = True


def make_printer(arbiter: Arbiter, json_lines: bool, show_output: bool, stream: TextIO) -> Printer:
    # Without output shown, its lines are never queued (and nobody else wanting them, never
    # made into events: docs/output-and-stats.md#output).
    skipped = frozenset() if show_output else SKIP_OUTPUT
    subscription = arbiter.bus.subscribe(maxsize=50_000, name="headless", skip_kinds=skipped)
    if json_lines:
        return Printer(subscription, lambda event: format_json(event, show_output), stream)
    formatter = LineFormatter(use_colour(stream), show_output)
    return Printer(subscription, formatter.format, stream)


def stderr_line(text: str) -> None:
    """A notice on stderr; never raises (stderr may be a closed pipe or a hung-up terminal)."""
    say(text)

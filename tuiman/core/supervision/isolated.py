"""Isolated hooks (docs/hooks.md#isolated-hooks): a hook run in a worker process per watcher.

A thread cannot be pre-empted while it holds the GIL in C code (a regex that backtracks for
minutes), so an in-process hook can stall tuiman whatever its timeout. An isolated hook runs in
`python -m tuiman.core.supervision.hook_worker` (a clean exec, never a fork of a threaded
process), in its own process group; when its call times out, that group is SIGKILLed and the
next call starts a fresh worker. The hook's `watcher`/`arbiter` are proxies there: their reads
come from a snapshot sent with the call, and their commands come back over the socket, where
this side runs them through the ordinary facades (so a timed-out call's commands are ignored).

Messages are JSON lines on a socketpair. A sender thread and a reader thread per worker keep
every socket operation off the core loop.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuiman.core.supervision.hook_output import HookOutputSink

MAX_MESSAGE = 4 * 1024 * 1024  # a longer line from a worker kills it: nothing sane is that big
WORKER_MODULE = "tuiman.core.supervision.hook_worker"


class IsolatedHookFailed(RuntimeError):
    """The hook raised in its worker (the text is the worker's `Type: message`), or it died."""


@dataclass
class _PendingCall:
    future: concurrent.futures.Future[tuple[Any, bool]]
    watcher: Any  # the HookWatcher facade of this call
    arbiter: Any  # the HookArbiter facade of this call
    sink: HookOutputSink
    kwargs: dict[str, Any]
    check_after: Callable[[], None] | None
    process: subprocess.Popen[bytes] | None = None

    def fail(self, error: BaseException) -> None:
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled meanwhile
            self.future.set_exception(error)

    def succeed(self, truthy: bool) -> None:
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            self.future.set_result((None, truthy))


def snapshot_for_hook(arbiter_facade: Any) -> list[dict[str, Any]]:
    """What an isolated hook's reads answer from: every watcher, as the facades see it now."""
    watchers = []
    for watcher in arbiter_facade.watchers:
        processes = [
            {"pid": p.pid, "wid": p.wid, "started": p.started, "status": p.status,
             "state": p.state, "age": p.age()}
            for p in watcher.processes.values()
        ]  # fmt: skip
        watchers.append(
            {"name": watcher.name, "numprocesses": watcher.numprocesses,
             "priority": watcher.priority, "cmd": watcher.cmd, "env": dict(watcher.env),
             "state": watcher.status(), "processes": processes}
        )  # fmt: skip
    return watchers


class HookWorker:
    """One watcher's worker process, started on its first isolated call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = 0  # how many worker processes this watcher has had
        self._process: subprocess.Popen[bytes] | None = None
        self._outbox: queue.SimpleQueue[bytes | None] | None = None
        self._pending: dict[int, _PendingCall] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def submit(
        self,
        path: str,
        hook_name: str,
        call_kwargs: dict[str, Any],
        sink: HookOutputSink,
        check_after: Callable[[], None] | None = None,
    ) -> tuple[int, concurrent.futures.Future[tuple[Any, bool]]]:
        """Send one call; its future settles with (None, truthy) or `IsolatedHookFailed`."""
        watcher, arbiter = call_kwargs["watcher"], call_kwargs["arbiter"]
        kwargs = {k: v for k, v in call_kwargs.items() if k not in ("watcher", "arbiter")}
        future: concurrent.futures.Future[tuple[Any, bool]] = concurrent.futures.Future()
        message = {
            "op": "call",
            "path": path,
            "watcher": watcher.name,
            "watchers": snapshot_for_hook(arbiter),
            "kwargs": kwargs,
            "sys_path": list(sys.path),
        }
        with self._lock:
            outbox = self._ensure_running()
            call_id = next(self._ids)
            message["id"] = call_id
            self._pending[call_id] = _PendingCall(
                future, watcher, arbiter, sink, kwargs, check_after
            )
        outbox.put(_encode(message))
        return call_id, future

    def kill(self) -> None:
        """SIGKILL the worker's whole process group; its calls in flight fail."""
        with self._lock:
            process, self._process = self._process, None
            outbox, self._outbox = self._outbox, None
        if outbox is not None:
            outbox.put(None)
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    def _ensure_running(self) -> queue.SimpleQueue[bytes | None]:
        if self._process is not None and self._outbox is not None:
            return self._outbox
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # output below Python (os.write, subprocesses) is lost
                stderr=subprocess.DEVNULL,
                process_group=0,  # a timeout kills the hook and whatever it started
            )
        finally:
            theirs.close()
        self.started += 1
        outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._process, self._outbox = process, outbox
        name = f"tuiman-isolated-{self.name}"
        threading.Thread(
            target=self._send_loop, args=(ours, outbox), name=name, daemon=True
        ).start()
        threading.Thread(
            target=self._read_loop, args=(ours, process), name=name, daemon=True
        ).start()
        return outbox

    def _send_loop(self, sock: socket.socket, outbox: queue.SimpleQueue[bytes | None]) -> None:
        while (data := outbox.get()) is not None:
            try:
                sock.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _read_loop(self, sock: socket.socket, process: subprocess.Popen[bytes]) -> None:
        reader = sock.makefile("rb")
        try:
            while line := reader.readline(MAX_MESSAGE + 1):
                if len(line) > MAX_MESSAGE or not line.endswith(b"\n"):
                    break
                try:
                    message = json.loads(line)
                    self._handle(message, sock)
                except Exception:  # a worker that sends garbage is as good as dead
                    break
        except OSError:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            code = process.wait()
            reader.close()
            sock.close()
            with self._lock:
                if self._process is process:
                    self._process, self._outbox = None, None
                orphaned = [
                    self._pending.pop(call_id)
                    for call_id, call in list(self._pending.items())
                    if call.process is process
                ]
            for call in orphaned:
                call.sink.close()
                call.fail(IsolatedHookFailed(f"hook worker died (exit status {code})"))

    def _handle(self, message: dict[str, Any], sock: socket.socket) -> None:
        op = message.get("op")
        call = self._pending.get(message.get("id", 0))
        if call is None:
            return
        if op == "output":
            call.sink.write(str(message["stream"]), str(message["text"]))
        elif op == "result":
            self._settle(message["id"], call, message)
        elif op == "publish":
            with contextlib.suppress(Exception):  # checked in the worker; checked again here
                call.arbiter.publish(
                    message["kind"], **message["payload"], watcher=message.get("watcher")
                )
        elif op == "command":
            self._command(call, message)
        elif op == "signal":
            self._signal(call, message)

    def _settle(self, call_id: int, call: _PendingCall, message: dict[str, Any]) -> None:
        with self._lock:
            self._pending.pop(call_id, None)
        call.sink.close()
        if not message.get("ok"):
            call.fail(IsolatedHookFailed(str(message.get("error"))))
            return
        if isinstance(message.get("stats"), dict) and isinstance(call.kwargs.get("stats"), dict):
            call.kwargs["stats"].clear()
            call.kwargs["stats"].update(message["stats"])
        try:
            if call.check_after is not None:
                call.check_after()
        except Exception as error:
            call.fail(error)
        else:
            call.succeed(bool(message.get("truthy")))

    @staticmethod
    def _command(call: _PendingCall, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "quit":
            call.arbiter.stop()
            return
        target = call.arbiter.get_watcher(str(message.get("watcher")))
        if action == "env":
            change = message.get("env")
            if target is not None and isinstance(change, list) and len(change) == 2:
                name, value = change
                with contextlib.suppress(TypeError, KeyError):
                    if value is None:
                        del target.env[name]
                    else:
                        target.env[name] = value
            return
        args = [int(a) for a in message.get("args", [])]
        if target is not None and action in ("start", "stop", "restart", "incr", "decr"):
            getattr(target, action)(*args)

    def _signal(self, call: _PendingCall, message: dict[str, Any]) -> None:
        """Runs in a thread of its own: the signal's hooks may be isolated calls on this worker."""

        def run() -> None:
            target = call.arbiter.get_watcher(str(message.get("watcher")))
            sent = False
            with contextlib.suppress(Exception):
                if target is not None:
                    sent = target.send_signal(int(message["pid"]), int(message["signum"]))
            with self._lock:
                outbox = self._outbox
            if outbox is not None:
                outbox.put(_encode({"op": "reply", "req": message.get("req"), "value": sent}))

        threading.Thread(target=run, name=f"tuiman-isolated-{self.name}", daemon=True).start()


def _encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False, allow_nan=False, default=str) + "\n").encode()


class IsolatedHooks:
    """The workers, one per watcher name."""

    def __init__(self) -> None:
        self._workers: dict[str, HookWorker] = {}

    def worker(self, watcher_name: str) -> HookWorker:
        worker = self._workers.get(watcher_name)
        if worker is None:
            worker = self._workers[watcher_name] = HookWorker(watcher_name)
        return worker

    def close(self) -> None:
        for worker in self._workers.values():
            worker.kill()

"""The process that runs isolated hooks (docs/hooks.md#isolated-hooks):
`python -m tuiman.core.supervision.hook_worker FD`.

It talks JSON lines with tuiman over the socket FD. tuiman sends `call` messages (the hook's
dotted path, its keyword arguments, and a snapshot of the watchers for the hook's reads); the
worker answers with `result`, and on the way sends `command`, `publish`, `output` and `signal`
messages for what the hook asks of tuiman. While it waits for a `reply` (to a `signal`) it
serves nested `call`s (the signal hooks of that very signal). tuiman kills the worker's process
group when a call times out; the worker exits on its own when the socket closes.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import socket
import sys
import time
from typing import Any, TextIO, cast

from tuiman.core.events import PayloadRefused, check_custom_kind, plain_payload

MAX_MESSAGE = 4 * 1024 * 1024


class Channel:
    """The worker's end of the socket: one JSON object per line, both ways."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self._requests = 0

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n"
        self._sock.sendall(data.encode())

    def receive(self) -> dict[str, Any] | None:
        line = self._reader.readline(MAX_MESSAGE)
        if not line:
            return None
        message: dict[str, Any] = json.loads(line)
        return message

    def request(self, message: dict[str, Any]) -> Any:
        """Send and wait for the `reply`, serving nested calls meanwhile."""
        self._requests += 1
        message["req"] = self._requests
        self.send(message)
        while True:
            incoming = self.receive()
            if incoming is None:
                raise SystemExit(0)
            if incoming.get("op") == "reply" and incoming.get("req") == message["req"]:
                return incoming.get("value")
            if incoming.get("op") == "call":
                serve_call(self, incoming)


class ProxyProcess:
    def __init__(self, data: dict[str, Any]) -> None:
        self.pid: int = data["pid"]
        self.wid: int = data["wid"]
        self.started: float = data["started"]
        self.status: int = data["status"]
        self.state: str = data["state"]
        self._age_at: float = data["age"]
        self._taken = time.monotonic()

    def age(self) -> float:
        return self._age_at + time.monotonic() - self._taken


class ProxyWatcher:
    """The `watcher` an isolated hook sees: reads from the snapshot, commands sent to tuiman."""

    def __init__(self, channel: Channel, call_id: int, data: dict[str, Any]) -> None:
        self._channel = channel
        self._call_id = call_id
        self._data = data

    @property
    def name(self) -> str:
        return str(self._data["name"])

    @property
    def numprocesses(self) -> int:
        return int(self._data["numprocesses"])

    @property
    def priority(self) -> int:
        return int(self._data["priority"])

    @property
    def cmd(self) -> str:
        return str(self._data["cmd"])

    def __setattr__(self, name: str, value: object) -> None:
        # As in-process: only `env` is writable (docs/hooks.md#what-a-hook-can-see).
        if name.startswith("_") or name == "env":
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"watcher.{name} cannot be set from a hook (only watcher.env is writable)"
        )

    @property
    def env(self) -> ProxyEnv:
        return ProxyEnv(self)

    @env.setter
    def env(self, new_env: dict[str, str]) -> None:
        current = ProxyEnv(self)
        for name in [name for name in current if name not in new_env]:
            del current[name]
        current.update(new_env)

    def _set_env(self, name: str, value: str | None) -> None:
        if value is None:
            self._data["env"].pop(name, None)
        else:
            self._data["env"][name] = value
        self._channel.send(
            {"op": "command", "id": self._call_id, "watcher": self.name, "action": "env",
             "args": [], "env": [name, value]}
        )  # fmt: skip

    def status(self) -> str:
        return str(self._data["state"])

    @property
    def processes(self) -> dict[int, ProxyProcess]:
        return {p["pid"]: ProxyProcess(p) for p in self._data["processes"]}

    @property
    def pids(self) -> list[int]:
        return [p["pid"] for p in self._data["processes"]]

    def is_active(self) -> bool:
        return self.status() in ("active", "flapping")

    def _command(self, action: str, *args: int) -> None:
        self._channel.send(
            {"op": "command", "id": self._call_id, "watcher": self.name, "action": action,
             "args": list(args)}
        )  # fmt: skip

    def start(self) -> None:
        self._command("start")

    def stop(self) -> None:
        self._command("stop")

    def restart(self) -> None:
        self._command("restart")

    def incr(self, nb: int = 1, n: int | None = None) -> int:
        count = int(n if n is not None else nb)
        self._command("incr", count)
        return self.numprocesses + count

    def decr(self, nb: int = 1, n: int | None = None) -> int:
        count = int(n if n is not None else nb)
        self._command("decr", count)
        return max(self.numprocesses - count, 0)

    def send_signal(self, pid: int, signum: int) -> bool:
        request = {"op": "signal", "id": self._call_id, "watcher": self.name}
        return bool(self._channel.request({**request, "pid": int(pid), "signum": int(signum)}))

    def __repr__(self) -> str:
        return f"<watcher {self.name} {self.status()}>"


class ProxyEnv(dict[str, str]):
    """`watcher.env` in an isolated hook: a copy whose writes are also sent to tuiman."""

    def __init__(self, watcher: ProxyWatcher) -> None:
        super().__init__(watcher._data["env"])
        self._watcher = watcher

    def __setitem__(self, name: str, value: str) -> None:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"watcher.env[{name!r}]: names and values must be str, not {type(value).__name__}"
            )
        super().__setitem__(name, value)
        self._watcher._set_env(name, value)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self._watcher._set_env(name, None)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name: str, default: str = "") -> str:
        if name not in self:
            self[name] = default
        return self[name]

    def pop(self, name: str, *default: Any) -> Any:
        if name not in self:
            return dict.pop(self, name, *default)
        value = self[name]
        del self[name]
        return value

    def clear(self) -> None:
        for name in list(self):
            del self[name]


class ProxyArbiter:
    def __init__(self, channel: Channel, call_id: int, watchers: list[dict[str, Any]]) -> None:
        self._channel = channel
        self._call_id = call_id
        self._watchers = watchers

    @property
    def watchers(self) -> list[ProxyWatcher]:
        return [ProxyWatcher(self._channel, self._call_id, w) for w in self._watchers]

    def get_watcher(self, name: str) -> ProxyWatcher | None:
        return next((w for w in self.watchers if w.name == name), None)

    def stop(self) -> None:
        self._channel.send(
            {"op": "command", "id": self._call_id, "watcher": None, "action": "quit"}
        )

    def publish(self, kind: str, **payload: Any) -> None:
        watcher = payload.pop("watcher", None)
        if watcher is not None and not isinstance(watcher, str):
            raise PayloadRefused(f"watcher= must be a watcher's name, not {watcher!r}")
        message = {"op": "publish", "id": self._call_id, "kind": check_custom_kind(kind)}
        self._channel.send({**message, "watcher": watcher, "payload": plain_payload(payload)})


class _OutputStream:
    """sys.stdout / sys.stderr of the worker: each write goes to tuiman as hook output."""

    def __init__(self, channel: Channel, stream: str) -> None:
        self._channel = channel
        self._stream = stream
        self.call_id = 0

    def write(self, text: str) -> int:
        self._channel.send(
            {"op": "output", "id": self.call_id, "stream": self._stream, "text": str(text)}
        )
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _resolve(path: str) -> Any:
    module_name, _, attribute_path = path.partition(":") if ":" in path else path.rpartition(".")
    target: Any = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        target = getattr(target, attribute)
    return target


def _describe(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:
        text = "<exception not printable>"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def serve_call(channel: Channel, message: dict[str, Any]) -> None:
    call_id = int(message["id"])
    streams = (sys.stdout, sys.stderr)
    previous = [getattr(s, "call_id", 0) for s in streams]
    for stream in streams:
        if isinstance(stream, _OutputStream):
            stream.call_id = call_id
    watchers: list[dict[str, Any]] = message["watchers"]
    own = next(w for w in watchers if w["name"] == message["watcher"])
    kwargs: dict[str, Any] = dict(message["kwargs"])
    kwargs["watcher"] = ProxyWatcher(channel, call_id, own)
    kwargs["arbiter"] = ProxyArbiter(channel, call_id, watchers)
    reply: dict[str, Any] = {"op": "result", "id": call_id}
    try:
        func = _resolve(message["path"])
        result = (
            asyncio.run(func(**kwargs)) if inspect.iscoroutinefunction(func) else func(**kwargs)
        )
        try:
            truthy = bool(result)
        except Exception:
            truthy = False
        reply.update(ok=True, truthy=truthy)
        if isinstance(kwargs.get("stats"), dict):
            reply["stats"] = plain_payload(kwargs["stats"])
    except BaseException as error:  # the hook's own failure, SystemExit included
        reply = {"op": "result", "id": call_id, "ok": False, "error": _describe(error)}
    finally:
        for stream, call in zip(streams, previous, strict=True):
            if isinstance(stream, _OutputStream):
                stream.call_id = call
    channel.send(reply)


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    channel = Channel(sock)
    sys.stdout = cast(TextIO, _OutputStream(channel, "stdout"))
    sys.stderr = cast(TextIO, _OutputStream(channel, "stderr"))
    while True:
        message = channel.receive()
        if message is None:
            os._exit(0)
        if message.get("op") == "call":
            if message.get("sys_path"):
                sys.path[:] = [*message["sys_path"]]
            serve_call(channel, message)


if __name__ == "__main__":
    main()

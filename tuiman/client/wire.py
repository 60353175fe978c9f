"""The typed commands of `CoreClient` over the command table's dicts.

A request is `{"command": NAME, ...arguments}` and a reply a dict with `ok` (see
tuiman.core.supervision.commands); a client that can send one request and get its reply
(`request`) gets every typed command from `WireClient`. Replies are read leniently: a field
missing from a failed reply reads as empty.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, cast

from tuiman.client.protocol import (
    ConfigReload,
    ExtendedStats,
    Outcome,
    OutputLine,
    TerminalTail,
    WatcherStatus,
)
from tuiman.core.events import Event, event_from_dict

Reply = dict[str, Any]


def outcome(reply: Reply) -> Outcome:
    return Outcome(bool(reply.get("ok")), str(reply.get("error") or ""))


class WireClient(ABC):
    """Typed commands for any client that can run one command-table request."""

    @abstractmethod
    async def request(self, command: str, **arguments: Any) -> Reply:
        """Run one core command; the reply has `ok` (and `error` when not ok)."""

    async def _watchers_command(self, command: str, watcher: str | None) -> Outcome:
        arguments: dict[str, Any] = {"wait": True}
        if watcher is not None:
            arguments["watcher"] = watcher
        return outcome(await self.request(command, **arguments))

    async def start(self, watcher: str | None = None) -> Outcome:
        return await self._watchers_command("start", watcher)

    async def stop(self, watcher: str | None = None) -> Outcome:
        return await self._watchers_command("stop", watcher)

    async def restart(self, watcher: str | None = None) -> Outcome:
        return await self._watchers_command("restart", watcher)

    async def reload(self, watcher: str | None = None) -> Outcome:
        return await self._watchers_command("reload", watcher)

    async def kill(self, watcher: str, pid: int) -> Outcome:
        return outcome(await self.request("kill", watcher=watcher, pid=pid, wait=True))

    async def incr(self, watcher: str, count: int = 1) -> Outcome:
        return outcome(await self.request("incr", watcher=watcher, n=count, wait=True))

    async def decr(self, watcher: str, count: int = 1) -> Outcome:
        return outcome(await self.request("decr", watcher=watcher, n=count, wait=True))

    async def scale_to(self, watcher: str, count: int) -> Outcome:
        return outcome(await self.request("set", watcher=watcher, numprocesses=count, wait=True))

    async def signal(self, watcher: str, signum: int, pid: int | None = None) -> Outcome:
        arguments: dict[str, Any] = {"watcher": watcher, "signal": signum}
        if pid is not None:
            arguments["pid"] = pid
        return outcome(await self.request("signal", **arguments))  # always waits

    async def reopen_logs(self) -> Outcome:
        return outcome(await self.request("reopen-logs"))

    async def reload_config(self) -> ConfigReload:
        reply = await self.request("reloadconfig")
        if reply.get("ok"):
            return ConfigReload(True, changes=[str(line) for line in reply.get("changes") or []])
        errors = reply.get("errors") or [reply.get("error") or "failed"]
        return ConfigReload(False, outcome(reply).error, errors=[str(line) for line in errors])

    async def status(self, watcher: str) -> list[WatcherStatus]:
        reply = await self.request("status", watcher=watcher)
        return cast(list[WatcherStatus], reply.get("watchers", []))

    async def extended_stats(self, watcher: str) -> ExtendedStats:
        reply = await self.request("stats", watcher=watcher, extended=True)
        if not reply.get("ok"):
            return ExtendedStats(False, str(reply.get("error")))
        by_pid: dict[str, dict[str, object]] = reply.get("watchers", {}).get(watcher, {})
        return ExtendedStats(True, processes={int(pid): dict(e) for pid, e in by_pid.items()})

    async def hook_events(self, last: int) -> list[Event]:
        reply = await self.request("hook_events", n=last)
        return [event_from_dict(data) for data in reply.get("events", [])]

    async def recent_output(self, watcher: str, last: int) -> list[OutputLine]:
        reply = await self.request("logs", watcher=watcher, n=last)
        return [
            OutputLine(
                float(line["time"]),
                int(line["pid"]),
                int(line["wid"]),
                str(line["stream"]),
                str(line["line"]),
                bool(line.get("partial", False)),
            )
            for line in reply.get("lines", [])
        ]

    async def send_input(
        self,
        watcher: str,
        pid: int | None,
        text: str | None = None,
        keys: list[str] | None = None,
    ) -> Outcome:
        arguments: dict[str, Any] = {"watcher": watcher}
        if pid is not None:
            arguments["pid"] = pid
        if text:
            arguments["text"] = text
        if keys:
            arguments["keys"] = keys
        return outcome(await self.request("send", **arguments))

    async def resize_terminal(
        self, watcher: str, rows: int, cols: int, pid: int | None = None
    ) -> Outcome:
        arguments: dict[str, Any] = {"watcher": watcher, "rows": rows, "cols": cols}
        if pid is not None:
            arguments["pid"] = pid
        return outcome(await self.request("resize", **arguments))

    async def terminal_tail(self, watcher: str, pid: int) -> TerminalTail:
        reply = await self.request("terminal", watcher=watcher, pid=pid)
        if not reply.get("ok"):
            return TerminalTail(False, outcome(reply).error)
        return TerminalTail(
            True,
            data=str(reply.get("data", "")),
            end=int(reply.get("end", 0)),
            rows=int(reply.get("rows", 24)),
            cols=int(reply.get("cols", 80)),
        )

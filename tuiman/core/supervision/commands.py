"""The explicit table of core commands (docs/supervision.md#commands,
docs/control-protocol.md#commands): the one API behind the UI, ctl and attach.

A request is a dict `{"command": NAME, ...arguments}`; the reply is a dict with `ok` and either
the command's data or `error`. No reflection and no eval: every command is listed here, with
the arguments it takes. Nothing here can change `cmd`, `hooks`, `env`, `working_dir` or `shell`.
Without `wait`, commands that act on watchers reply once queued
(docs/control-protocol.md#tuiman-ctl).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tuiman.core.config.model import MAX_NUMPROCESSES
from tuiman.core.config.validate import InvalidValue, as_signal
from tuiman.core.payloads import OutputLineRecord
from tuiman.core.supervision.arbiter import Arbiter, UnknownWatcher
from tuiman.core.supervision.ready_check import not_ready_reasons, wait_ready
from tuiman.core.supervision.terminals import (
    TerminalRequestError,
    resize,
    send_input,
    terminal_state,
)
from tuiman.core.supervision.watcher import QUITTING, CommandResult, Watcher

Reply = dict[str, Any]
Handler = Callable[[Arbiter, dict[str, Any]], Awaitable[Reply]]


_UNAWAITED: set[asyncio.Future[Any]] = set()


class BadRequest(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    handler: Handler
    arguments: frozenset[str]
    summary: str


def ok(**data: Any) -> Reply:
    return {"ok": True, **data}


def error(message: str, **data: Any) -> Reply:
    return {"ok": False, "error": message, **data}


def _watcher_name(request: dict[str, Any], required: bool) -> str | None:
    name = request.get("watcher")
    if name is None:
        if required:
            raise BadRequest("missing argument: watcher")
        return None
    if not isinstance(name, str):
        raise BadRequest("watcher must be a string")
    return name


def _int_arg(request: dict[str, Any], key: str, default: int | None = None) -> int:
    value = request.get(key, default)
    if value is None:
        raise BadRequest(f"missing argument: {key}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be an integer")
    return value


def _count_arg(request: dict[str, Any], key: str, default: int | None, minimum: int) -> int:
    value = _int_arg(request, key, default)
    if not minimum <= value <= MAX_NUMPROCESSES:
        raise BadRequest(f"{key} must be between {minimum} and {MAX_NUMPROCESSES}")
    return value


def _results_reply(results: list[CommandResult]) -> Reply:
    errors = [r.error for r in results if not r.ok and r.error]
    return error("; ".join(errors)) if errors else ok()


async def _queue_or_wait(tasks: list[asyncio.Task[CommandResult]], wait: bool) -> Reply:
    if not wait:
        return ok(queued=True)
    await asyncio.wait(tasks)
    # A start/restart/incr that a stop cancelled (docs/supervision.md#commands) is a failed command,
    # not a crash.
    return _results_reply(
        [
            CommandResult.failure("cancelled by a stop") if task.cancelled() else task.result()
            for task in tasks
        ]
    )


def _targets(arbiter: Arbiter, request: dict[str, Any]) -> list[Watcher]:
    name = _watcher_name(request, required=False)
    return list(arbiter.watchers.values()) if name is None else [arbiter.get(name)]


async def cmd_list(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    return ok(watchers=[w.name for w in arbiter.start_order()])


async def cmd_status(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    return ok(
        watchers=[w.snapshot() for w in _targets(arbiter, request)],
        protection=arbiter.guard.status(),
        sockets=arbiter.sockets.snapshot(),
    )


async def cmd_snapshot(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    return ok(snapshot=arbiter.snapshot())


async def _all_or_each(
    arbiter: Arbiter,
    request: dict[str, Any],
    everything: Callable[[], Awaitable[list[CommandResult]]],
    each: Callable[[Watcher], asyncio.Task[CommandResult]],
) -> Reply:
    """One watcher's command, or the arbiter-wide one when no watcher is named."""
    wait = bool(request.get("wait", False))
    if _watcher_name(request, required=False) is not None:
        return await _queue_or_wait([each(w) for w in _targets(arbiter, request)], wait)
    task = asyncio.ensure_future(everything())
    if wait:
        return _results_reply(await task)
    _UNAWAITED.add(task)  # the loop only keeps weak references to tasks
    task.add_done_callback(_UNAWAITED.discard)
    return ok(queued=True)


async def cmd_start(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    return await _all_or_each(arbiter, request, arbiter.start_all, Watcher.start)


async def cmd_stop(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    return await _all_or_each(arbiter, request, arbiter.stop_watchers, Watcher.stop)


async def cmd_restart(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    return await _all_or_each(arbiter, request, arbiter.restart_watchers, Watcher.restart)


async def cmd_reload(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    wait = bool(request.get("wait", False))
    return await _queue_or_wait([w.reload() for w in _targets(arbiter, request)], wait)


async def cmd_signal(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    try:
        signum = as_signal(request.get("signal"))
    except (InvalidValue, ValueError) as exc:
        raise BadRequest(f"signal: {exc}") from None
    pid = request.get("pid")
    if pid is not None:
        pid = _int_arg(request, "pid")
    task = arbiter.get(name).send_signal(signum, pid, bool(request.get("group", False)))
    return await _queue_or_wait([task], True)


async def cmd_kill(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    watcher, pid = arbiter.get(name), _int_arg(request, "pid")
    if pid not in watcher.processes:  # refused at once, even without wait
        raise BadRequest(f"no process {pid} in watcher {name}")
    task = watcher.kill_process(pid)
    return await _queue_or_wait([task], bool(request.get("wait", False)))


async def cmd_incr(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    count = _count_arg(request, "n", 1, 1)
    watcher = arbiter.get(name)
    if watcher.numprocesses + count > MAX_NUMPROCESSES:
        raise BadRequest(f"numprocesses must be at most {MAX_NUMPROCESSES}")
    task = watcher.incr(count)
    return await _queue_or_wait([task], bool(request.get("wait", False)))


async def cmd_decr(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    count = _count_arg(request, "n", 1, 1)
    task = arbiter.get(name).decr(count)
    return await _queue_or_wait([task], bool(request.get("wait", False)))


async def cmd_set(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    target = _count_arg(request, "numprocesses", None, 0)
    task = arbiter.get(name).set_numprocesses(target)
    return await _queue_or_wait([task], bool(request.get("wait", False)))


async def cmd_stats(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=False)
    names = [w.name for w in _targets(arbiter, request)]
    if request.get("extended"):
        if name is None:
            raise BadRequest("stats --extended needs a watcher")
        extended = await arbiter.stats.extended(name)
        return ok(watchers={name: {str(pid): entry for pid, entry in extended.items()}})
    stats = await arbiter.stats.sample(names)
    watchers: dict[str, dict[str, Any]] = {}
    for watcher_name in names:
        watcher = arbiter.get(watcher_name)
        watchers[watcher_name] = {
            str(pid): stats[pid].as_circus_dict(process.wid)
            for pid, process in watcher.processes.items()
            if pid in stats
        }
    return ok(watchers=watchers)


async def cmd_logs(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    pid = request.get("pid")
    lines = arbiter.get(name).output.lines(
        pid=_int_arg(request, "pid") if pid is not None else None,
        last=_int_arg(request, "n", 100),
    )
    records: list[OutputLineRecord] = [
        {
            "time": ln.time,
            "pid": ln.pid,
            "wid": ln.wid,
            "stream": ln.stream,
            "line": ln.text,
            "partial": ln.partial,
        }
        for ln in lines
    ]
    return ok(lines=records)


def _optional_pid(request: dict[str, Any]) -> int | None:
    return _int_arg(request, "pid") if request.get("pid") is not None else None


async def cmd_send(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    text, keys = request.get("text"), request.get("keys")
    if text is not None and not isinstance(text, str):
        raise BadRequest("text must be a string")
    if keys is not None and (
        not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
    ):
        raise BadRequest("keys must be a list of key names")
    if not text and not keys:
        raise BadRequest("nothing to send: give text or keys")
    try:
        reached = send_input(arbiter.get(name), _optional_pid(request), text, keys)
    except TerminalRequestError as exc:
        raise BadRequest(str(exc)) from None
    return ok(processes=reached)


async def cmd_resize(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    rows, cols = _int_arg(request, "rows"), _int_arg(request, "cols")
    try:
        resize(arbiter.get(name), _optional_pid(request), rows, cols)
    except TerminalRequestError as exc:
        raise BadRequest(str(exc)) from None
    return ok()


async def cmd_terminal(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    name = _watcher_name(request, required=True)
    assert name is not None
    try:
        return ok(**terminal_state(arbiter.get(name), _int_arg(request, "pid")))
    except TerminalRequestError as exc:
        raise BadRequest(str(exc)) from None


async def cmd_hook_events(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    count = _int_arg(request, "n", 200)
    events = list(arbiter.recent_hook_events)[-count:] if count > 0 else []
    return ok(events=[event.to_dict() for event in events])


async def cmd_reopen_logs(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    arbiter.reopen_logs()
    return ok()


async def cmd_reloadconfig(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    applied, lines = await arbiter.reload_config()
    if not applied:
        return error("config refused, running state kept", errors=lines)
    return ok(changes=lines)


async def cmd_wait(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    names = request.get("watchers") or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise BadRequest("watchers must be a list of names")
    for name in names:
        arbiter.get(name)  # an unknown name is refused at once
    timeout = request.get("timeout", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise BadRequest("timeout must be a number of seconds > 0")
    problem = await wait_ready(arbiter, float(timeout), names)
    if problem is not None:
        if problem.startswith("not ready after"):  # the reasons follow, one line each
            problem = problem.split(": ", 1)[0]
        return error(f"not ready: {problem}", waiting=not_ready_reasons(arbiter, names))
    return ok(ready=names or [w.name for w in arbiter.start_order() if w.config.autostart])


async def cmd_quit(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    arbiter.request_quit()
    return ok(queued=True)


async def cmd_force(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    arbiter.force()
    return ok()


def _spec(name: str, handler: Handler, arguments: str, summary: str) -> CommandSpec:
    return CommandSpec(name, handler, frozenset(arguments.split()), summary)


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        _spec("list", cmd_list, "", "watcher names, in start order"),
        _spec("status", cmd_status, "watcher", "state, processes and counters"),
        _spec("snapshot", cmd_snapshot, "", "the bus snapshot of everything"),
        _spec("start", cmd_start, "watcher wait", "start one watcher or all"),
        _spec("stop", cmd_stop, "watcher wait", "stop one watcher or all"),
        _spec("restart", cmd_restart, "watcher wait", "restart one watcher or all"),
        _spec(
            "reload", cmd_reload, "watcher wait", "graceful reload: new processes, then stop old"
        ),
        _spec("signal", cmd_signal, "watcher pid signal group", "send a signal"),
        _spec("kill", cmd_kill, "watcher pid wait", "graceful stop of one process"),
        _spec("incr", cmd_incr, "watcher n wait", "add processes"),
        _spec("decr", cmd_decr, "watcher n wait", "remove the oldest processes"),
        _spec("set", cmd_set, "watcher numprocesses wait", "set numprocesses"),
        _spec("stats", cmd_stats, "watcher extended", "process stats (extended: via the hook)"),
        _spec("logs", cmd_logs, "watcher pid n", "recent output lines from the ring buffer"),
        _spec("hook_events", cmd_hook_events, "n", "recent hook events"),
        _spec("send", cmd_send, "watcher pid text keys", "write text or named keys to input"),
        _spec("resize", cmd_resize, "watcher pid rows cols", "set the size of pty terminals"),
        _spec("terminal", cmd_terminal, "watcher pid", "a pty process' recent raw text"),
        _spec("reloadconfig", cmd_reloadconfig, "", "apply the config file's changes"),
        _spec("reopen-logs", cmd_reopen_logs, "", "reopen output files"),
        _spec("wait", cmd_wait, "watchers timeout", "wait until ready (docs/readiness.md)"),
        _spec("quit", cmd_quit, "", "stop everything and exit"),
        _spec("force", cmd_force, "", "second quit: SIGKILL everything now"),
    )
}


# Commands that may spawn: refused once tuiman is quitting, as a spawn would outlive the quit.
SPAWNING_COMMANDS = frozenset({"start", "restart", "reload", "incr", "set", "reloadconfig"})


async def execute(arbiter: Arbiter, request: dict[str, Any]) -> Reply:
    """Run one request; never raises for bad input (the reply says what was wrong)."""
    name = request.get("command")
    if not isinstance(name, str):
        return error("missing command")
    spec = COMMANDS.get(name)
    if spec is None:
        return error(f"unknown command: {name}")
    unknown = set(request) - spec.arguments - {"command", "id"}
    if unknown:
        return error(f"{name}: unknown arguments: {', '.join(sorted(unknown))}")
    if name in SPAWNING_COMMANDS and arbiter.quitting:
        return error(f"{name}: {QUITTING}")
    try:
        return await spec.handler(arbiter, request)
    except UnknownWatcher as exc:
        return error(f"no watcher named {exc.args[0]!r}")
    except BadRequest as exc:
        return error(f"{name}: {exc}")

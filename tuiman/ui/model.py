"""What the UI knows about the core, rebuilt from bus events only (no Textual here).

`CoreModel.apply` folds a batch of events into per-watcher views and returns a `Changes`
record that says which rows to touch; the widgets then update only those cells.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

from tuiman.core.events import Event, Kind
from tuiman.ui.format import fmt_exit, signal_name

OUTPUT_KEEP = 5000  # lines kept per watcher for the output pane
NOT_LOGGED = frozenset({Kind.OUTPUT, Kind.STATS, Kind.SNAPSHOT, Kind.RESYNC, Kind.DROPPED})


class Outcome(Enum):
    """How a hook-log row is coloured."""

    OK = "ok"
    VETO = "veto"
    FAILURE = "failure"
    IGNORED = "ignored"  # a hook failure whose result does not count
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


@dataclass(slots=True)
class ProcessView:
    pid: int
    wid: int
    state: str
    started: float  # wall clock
    cpu: float | None = None
    rss: int | None = None
    extended: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SlotPause:
    wid: int
    retry_at: float  # wall clock of the probe spawn
    attempt: int


@dataclass
class WatcherView:
    name: str
    state: str = "stopped"
    reason: str | None = None
    numprocesses: int = 0
    priority: int = 0
    graceful_timeout: float = 30.0
    autostart: bool = True
    cmd: str = ""
    hooks: tuple[str, ...] = ()
    restarts: int = 0
    processes: dict[int, ProcessView] = field(default_factory=dict)
    last_exit: dict[int, int] = field(default_factory=dict)  # wid -> exit code
    pauses: dict[int, SlotPause] = field(default_factory=dict)
    cpu: float | None = None
    rss: int | None = None
    failure: str | None = None  # why it is `failed`
    veto: str | None = None  # the last hook veto or failure that stopped an action
    stopping_since: float | None = None  # wall clock the current stop began
    leaked: list[int] = field(default_factory=list)

    @property
    def running(self) -> int:
        return len(self.processes)

    def next_retry(self) -> SlotPause | None:
        return min(self.pauses.values(), key=lambda pause: pause.retry_at, default=None)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of the hook-event log."""

    time: float
    watcher: str
    label: str  # hook name or event kind
    pid: int | None
    outcome: Outcome
    duration: float | None
    detail: str


class OutputEntry(NamedTuple):
    """One output line (a tuple: 10 000 of these a second must be cheap to make)."""

    time: float
    watcher: str
    pid: int
    wid: int
    stream: str
    text: str


@dataclass(frozen=True, slots=True)
class Alert:
    title: str
    message: str
    severity: str  # "information" | "warning" | "error" (Textual's notify severities)


@dataclass
class Changes:
    rebuilt: bool = False  # a snapshot replaced everything
    watchers: set[str] = field(default_factory=set)  # rows of the watchers table
    processes: set[str] = field(default_factory=set)  # watchers whose process rows changed
    stats: set[str] = field(default_factory=set)  # new CPU/RSS only: shown on the next tick
    log: list[LogEntry] = field(default_factory=list)
    output: list[OutputEntry] = field(default_factory=list)
    dropped: int = 0
    alerts: list[Alert] = field(default_factory=list)


class CoreModel:
    def __init__(self) -> None:
        self.watchers: dict[str, WatcherView] = {}
        self.source = ""
        self.started: float | None = None
        self.core_pid: int | None = None
        self.snapshot_seq = 0
        self.output: dict[str, deque[OutputEntry]] = {}
        self.reaped_since_status: set[str] = set()  # watchers whose restart counter may lag

    # -- queries ------------------------------------------------------------------------------
    @property
    def order(self) -> list[str]:
        return list(self.watchers)

    def total_running(self) -> int:
        return sum(w.running for w in self.watchers.values())

    def total_target(self) -> int:
        return sum(
            w.numprocesses for w in self.watchers.values() if w.state not in ("stopped", "failed")
        )

    def output_of(self, watcher: str) -> deque[OutputEntry]:
        lines = self.output.get(watcher)
        if lines is None:
            lines = self.output[watcher] = deque(maxlen=OUTPUT_KEEP)
        return lines

    # -- folding events -----------------------------------------------------------------------
    def apply(self, events: Iterable[Event]) -> Changes:
        changes = Changes()
        new_output = changes.output
        buffers = self.output
        for event in events:
            if event.kind == Kind.OUTPUT:  # the hot path: inlined
                payload = event.payload
                name = event.watcher or ""
                entry = OutputEntry(
                    event.time,
                    name,
                    payload.get("pid", 0),
                    payload.get("wid", 0),
                    payload.get("stream", "stdout"),
                    payload.get("line", ""),
                )
                lines = buffers.get(name)
                if lines is None:
                    lines = self.output_of(name)
                lines.append(entry)
                new_output.append(entry)
            else:
                self._apply_one(event, changes)
        return changes

    def _apply_one(self, event: Event, changes: Changes) -> None:
        kind = event.kind
        if kind == Kind.STATS:
            self._stats(event, changes)
        elif kind == Kind.SNAPSHOT:
            self.load_snapshot(event.payload, event.time, event.seq)
            changes.rebuilt = True
        elif kind == Kind.DROPPED:
            changes.dropped += int(event.payload.get("count", 0))
        elif kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE):
            self._hook(event, changes)
        elif event.watcher is not None:
            self._lifecycle(event, changes)
        elif kind not in NOT_LOGGED:
            changes.log.append(_custom_entry(event))

    def load_snapshot(self, payload: dict[str, Any], at: float, seq: int = 0) -> None:
        self.source = str(payload.get("config", self.source))
        self.started = payload.get("started", self.started)
        self.core_pid = payload.get("pid", self.core_pid)
        self.snapshot_seq = seq
        fresh: dict[str, WatcherView] = {}
        for data in payload.get("watchers", []):
            view = self.watchers.get(data["name"]) or WatcherView(data["name"])
            _load_watcher(view, data, at)
            fresh[view.name] = view
        self.watchers = fresh

    def merge_status(self, data: dict[str, Any]) -> bool:
        """Counters from a `status` reply (restarts are not evented); True if a row changed."""
        view = self.watchers.get(str(data.get("name")))
        if view is None:
            return False
        restarts = int(data.get("restarts", view.restarts))
        changed = restarts != view.restarts
        view.restarts = restarts
        return changed

    def _watcher(self, name: str) -> WatcherView:
        view = self.watchers.get(name)
        if view is None:
            view = self.watchers[name] = WatcherView(name)
        return view

    def _stats(self, event: Event, changes: Changes) -> None:
        view = self.watchers.get(event.watcher or "")
        if view is None:
            return
        payload = event.payload
        view.cpu = payload.get("cpu")
        view.rss = payload.get("rss")
        for pid_text, stats in (payload.get("processes") or {}).items():
            process = view.processes.get(int(pid_text))
            if process is not None:
                process.cpu = stats.get("cpu")
                process.rss = stats.get("rss")
        changes.stats.add(view.name)

    def _hook(self, event: Event, changes: Changes) -> None:
        payload = event.payload
        name = str(payload.get("name", "?"))
        vetoed = bool(payload.get("vetoed"))
        failed = event.kind == Kind.HOOK_FAILURE
        if name == "extended_stats" and not failed:
            return  # one per process per tick while `e` is on: not worth a row each
        error = str(payload.get("error") or "")
        if failed:
            outcome = Outcome.FAILURE if vetoed else Outcome.IGNORED
        else:
            outcome = Outcome.VETO if vetoed else Outcome.OK
        detail = error
        if "signum" in payload:
            detail = f"{signal_name(payload['signum'])} {detail}".strip()
        watcher = event.watcher or ""
        changes.log.append(
            LogEntry(
                event.time,
                watcher,
                name,
                payload.get("pid"),
                outcome,
                payload.get("duration"),
                detail,
            )
        )
        if vetoed:
            verb = "failed" if failed else "vetoed"
            message = error or "the hook returned a false value"
            severity = "error" if failed else "warning"
            changes.alerts.append(Alert(f"{watcher}: {name} {verb}", message, severity))
            view = self.watchers.get(watcher)
            if view is not None:
                view.veto = f"{name} failed: {error}" if failed else f"vetoed by {name}"
                changes.watchers.add(watcher)

    def _lifecycle(self, event: Event, changes: Changes) -> None:
        name = event.watcher or ""
        if event.kind == Kind.REMOVE:
            self.watchers.pop(name, None)
            changes.rebuilt = True
        elif event.kind == Kind.ADD or name in self.watchers:
            view = self._watcher(name)
            handler = _LIFECYCLE.get(event.kind)
            if handler is not None:
                handler(self, view, event, changes)
            changes.watchers.add(name)
        changes.log.append(_lifecycle_entry(event))

    # -- per kind -----------------------------------------------------------------------------
    def _on_spawn(self, view: WatcherView, event: Event, changes: Changes) -> None:
        pid, wid = int(event.payload["pid"]), int(event.payload["wid"])
        view.processes[pid] = ProcessView(pid, wid, "running", event.time)
        view.pauses.pop(wid, None)
        changes.processes.add(view.name)

    def _on_reap(self, view: WatcherView, event: Event, changes: Changes) -> None:
        process = view.processes.pop(int(event.payload["pid"]), None)
        wid = int(event.payload.get("wid", process.wid if process else 0))
        code = event.payload.get("exit_code")
        if code is not None:
            view.last_exit[wid] = int(code)
        self.reaped_since_status.add(view.name)
        changes.processes.add(view.name)

    def _on_kill(self, view: WatcherView, event: Event, changes: Changes) -> None:
        process = view.processes.get(int(event.payload["pid"]))
        if process is not None:
            process.state = "stopping"
            changes.processes.add(view.name)

    def _on_state(self, view: WatcherView, event: Event, changes: Changes) -> None:
        new = str(event.payload.get("new"))
        view.state = new
        view.reason = event.payload.get("reason")
        if new == "stopping":
            view.stopping_since = event.time
        elif new in ("starting", "active"):
            view.failure = None
            view.veto = None
            view.leaked = []
        if new in ("stopped", "failed", "starting"):
            view.pauses.clear()
            view.stopping_since = None
            changes.processes.add(view.name)

    def _on_flapping(self, view: WatcherView, event: Event, changes: Changes) -> None:
        wid = int(event.payload["wid"])
        retry_in = float(event.payload.get("retry_in", 0.0))
        view.pauses[wid] = SlotPause(
            wid, event.time + retry_in, int(event.payload.get("attempt", 0))
        )
        changes.processes.add(view.name)

    def _on_failed(self, view: WatcherView, event: Event, changes: Changes) -> None:
        view.failure = str(event.payload.get("detail") or event.payload.get("reason") or "failed")
        changes.alerts.append(Alert(f"{view.name} failed", view.failure, "error"))

    def _on_stop(self, view: WatcherView, event: Event, changes: Changes) -> None:
        leaked = [int(pid) for pid in event.payload.get("leaked_pids") or ()]
        view.leaked = leaked
        if leaked:
            pids = ", ".join(map(str, leaked))
            changes.alerts.append(Alert(f"{view.name}: processes survived SIGKILL", pids, "error"))

    def _on_updated(self, view: WatcherView, event: Event, changes: Changes) -> None:
        view.numprocesses = int(event.payload.get("numprocesses", view.numprocesses))


_LIFECYCLE: dict[str, Callable[[CoreModel, WatcherView, Event, Changes], None]] = {
    Kind.SPAWN: CoreModel._on_spawn,
    Kind.REAP: CoreModel._on_reap,
    Kind.KILL: CoreModel._on_kill,
    Kind.STATE: CoreModel._on_state,
    Kind.FLAPPING: CoreModel._on_flapping,
    Kind.FAILED: CoreModel._on_failed,
    Kind.STOP: CoreModel._on_stop,
    Kind.UPDATED: CoreModel._on_updated,
}


def _load_watcher(view: WatcherView, data: dict[str, Any], at: float) -> None:
    view.state = str(data.get("state", "stopped"))
    view.reason = data.get("reason")
    view.numprocesses = int(data.get("numprocesses", 0))
    view.priority = int(data.get("priority", 0))
    view.graceful_timeout = float(data.get("graceful_timeout", 30.0))
    view.autostart = bool(data.get("autostart", True))
    view.cmd = str(data.get("cmd", ""))
    view.hooks = tuple(data.get("hooks", ()))
    view.restarts = int(data.get("restarts", 0))
    known = view.processes
    view.processes = {}
    for item in data.get("processes", []):
        pid = int(item["pid"])
        process = known.get(pid) or ProcessView(pid, int(item["wid"]), "running", 0.0)
        process.wid = int(item["wid"])
        process.state = str(item.get("state", "running"))
        process.started = float(item.get("started") or at)
        view.processes[pid] = process
    view.last_exit = {
        int(wid): int(code) for wid, code in (data.get("last_exit_codes") or {}).items()
    }
    view.pauses = {
        int(slot["wid"]): SlotPause(
            int(slot["wid"]), at + float(slot["retry_in"]), int(slot.get("pauses", 0))
        )
        for slot in data.get("slots", [])
        if slot.get("retry_in") is not None
    }
    if view.state != "stopping":
        view.stopping_since = None


def _lifecycle_entry(event: Event) -> LogEntry:
    payload = event.payload
    kind = event.kind
    outcome = Outcome.INFO
    detail = ""
    label = str(kind)
    if kind == Kind.REAP:
        code = payload.get("exit_code")
        own = payload.get("process_status") is not None
        label = f"exit {fmt_exit(code)}"
        detail = "own exit" if own else "stopped by tuiman"
        if own and code:
            outcome = Outcome.WARN
    elif kind in (Kind.KILL, Kind.SIGNAL):
        label = f"{kind} {signal_name(payload.get('signum'))}"
    elif kind == Kind.STATE:
        new = str(payload.get("new"))
        reason = str(payload.get("reason") or "")
        label = f"→ {new}"
        detail = f"from {payload.get('old')} ({reason})" if reason else f"from {payload.get('old')}"
        if new == "failed" or reason.startswith("hook_failure:"):
            outcome = Outcome.ERROR
        elif new == "flapping" or reason.startswith("veto:"):
            outcome = Outcome.WARN
    elif kind == Kind.FLAPPING:
        outcome = Outcome.WARN
        wid, attempt, retry_in = payload.get("wid"), payload.get("attempt"), payload.get("retry_in")
        detail = f"slot {wid}: pause {attempt}, retry in {retry_in}s"
    elif kind == Kind.FAILED:
        outcome = Outcome.ERROR
        detail = str(payload.get("detail") or payload.get("reason") or "")
    elif kind == Kind.SPAWN_ERROR:
        outcome = Outcome.ERROR
        detail = f"slot {payload.get('wid')}: {payload.get('error')}"
    elif kind == Kind.STOP:
        leaked = payload.get("leaked_pids")
        detail = f"leaked {leaked}" if leaked else str(payload.get("reason") or "")
        outcome = Outcome.ERROR if leaked else Outcome.INFO
    elif kind == Kind.UPDATED:
        label = f"scale → {payload.get('numprocesses')}"
    else:
        detail = _describe(payload)
    return LogEntry(
        event.time, event.watcher or "", label, payload.get("pid"), outcome, None, detail
    )


def _custom_entry(event: Event) -> LogEntry:
    return LogEntry(
        event.time,
        "tuiman",
        str(event.kind),
        event.payload.get("pid"),
        Outcome.INFO,
        None,
        _describe(event.payload),
    )


def _describe(payload: dict[str, Any]) -> str:
    return " ".join(
        f"{key}={value}" for key, value in payload.items() if key not in ("pid", "process_pid")
    )

"""What the UI knows about the core, rebuilt from bus events only (no Textual here).

`CoreModel.apply` folds a batch of events into per-watcher views and returns a `Changes`
record that says which rows to touch; the widgets then update only those cells.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple, cast

from tuiman.core.events import Event, Kind
from tuiman.core.payloads import (
    ArbiterSnapshot,
    DroppedPayload,
    FailedPayload,
    FlappingPayload,
    HookFailurePayload,
    OutputPayload,
    ReapPayload,
    SignalPayload,
    SpawnErrorPayload,
    SpawnPayload,
    StatePayload,
    StatsPayload,
    StopPayload,
    UpdatedPayload,
    WatcherSettings,
    WatcherSnapshot,
)
from tuiman.core.states import ProcessState, WatcherState
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
    state: ProcessState
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
    state: WatcherState = WatcherState.STOPPED
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
            w.numprocesses
            for w in self.watchers.values()
            if w.state not in (WatcherState.STOPPED, WatcherState.FAILED)
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
                payload = cast(OutputPayload, event.payload)
                name = event.watcher or ""
                entry = OutputEntry(
                    event.time,
                    name,
                    payload["pid"],
                    payload["wid"],
                    payload["stream"],
                    payload["line"],
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
            self._stats(event.watcher or "", cast(StatsPayload, event.payload), changes)
        elif kind == Kind.SNAPSHOT:
            self.load_snapshot(cast(ArbiterSnapshot, event.payload), event.time, event.seq)
            changes.rebuilt = True
        elif kind == Kind.DROPPED:
            changes.dropped += cast(DroppedPayload, event.payload)["count"]
        elif kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE):
            self._hook(event, changes)
        elif event.watcher is not None:
            self._lifecycle(event, changes)
        elif kind not in NOT_LOGGED:
            changes.log.append(_custom_entry(event))

    def load_snapshot(self, snapshot: ArbiterSnapshot, at: float, seq: int = 0) -> None:
        self.source = snapshot["config"]
        self.started = snapshot["started"]
        self.core_pid = snapshot["pid"]
        self.snapshot_seq = seq
        fresh: dict[str, WatcherView] = {}
        for data in snapshot["watchers"]:
            view = self.watchers.get(data["name"]) or WatcherView(data["name"])
            _load_watcher(view, data, at)
            fresh[view.name] = view
        self.watchers = fresh

    def merge_status(self, data: WatcherSnapshot) -> bool:
        """Counters from a `status` reply (restarts are not evented); True if a row changed."""
        view = self.watchers.get(data["name"])
        if view is None:
            return False
        restarts = data["restarts"]
        changed = restarts != view.restarts
        view.restarts = restarts
        return changed

    def _watcher(self, name: str) -> WatcherView:
        view = self.watchers.get(name)
        if view is None:
            view = self.watchers[name] = WatcherView(name)
        return view

    def _stats(self, name: str, payload: StatsPayload, changes: Changes) -> None:
        view = self.watchers.get(name)
        if view is None:
            return
        view.cpu = payload["cpu"]
        view.rss = payload["rss"]
        for pid_text, stats in payload["processes"].items():
            process = view.processes.get(int(pid_text))
            if process is not None:
                process.cpu = stats["cpu"]
                process.rss = stats["rss"]
        changes.stats.add(view.name)

    def _hook(self, event: Event, changes: Changes) -> None:
        # hook_success is hook_failure without `error`: read both through the wider type.
        payload = cast(HookFailurePayload, event.payload)
        name = payload["name"]
        vetoed = payload["vetoed"]
        failed = event.kind == Kind.HOOK_FAILURE
        if name == "extended_stats" and not failed:
            return  # one per process per tick while `e` is on: not worth a row each
        error = payload["error"] if failed else ""
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
                event.time, watcher, name, payload.get("pid"), outcome, payload["duration"], detail
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
        payload = cast(SpawnPayload, event.payload)
        pid, wid = payload["pid"], payload["wid"]
        view.processes[pid] = ProcessView(pid, wid, ProcessState.RUNNING, event.time)
        view.pauses.pop(wid, None)
        changes.processes.add(view.name)

    def _on_reap(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(ReapPayload, event.payload)
        view.processes.pop(payload["pid"], None)
        code = payload["exit_code"]
        if code is not None:
            view.last_exit[payload["wid"]] = code
        self.reaped_since_status.add(view.name)
        changes.processes.add(view.name)

    def _on_kill(self, view: WatcherView, event: Event, changes: Changes) -> None:
        process = view.processes.get(cast(SignalPayload, event.payload)["pid"])
        if process is not None:
            process.state = ProcessState.STOPPING
            changes.processes.add(view.name)

    def _on_state(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(StatePayload, event.payload)
        new = view.state = WatcherState(payload["new"])
        view.reason = payload["reason"]
        if new == WatcherState.STOPPING:
            view.stopping_since = event.time
        elif new in (WatcherState.STARTING, WatcherState.ACTIVE):
            view.failure = None
            view.veto = None
            view.leaked = []
        if new in (WatcherState.STOPPED, WatcherState.FAILED, WatcherState.STARTING):
            view.pauses.clear()
            view.stopping_since = None
            changes.processes.add(view.name)

    def _on_flapping(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(FlappingPayload, event.payload)
        wid = payload["wid"]
        view.pauses[wid] = SlotPause(wid, event.time + payload["retry_in"], payload["attempt"])
        changes.processes.add(view.name)

    def _on_failed(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(FailedPayload, event.payload)
        view.failure = payload["detail"] or payload["reason"] or "failed"
        changes.alerts.append(Alert(f"{view.name} failed", view.failure, "error"))

    def _on_stop(self, view: WatcherView, event: Event, changes: Changes) -> None:
        leaked = list(cast(StopPayload, event.payload).get("leaked_pids", ()))
        view.leaked = leaked
        if leaked:
            pids = ", ".join(map(str, leaked))
            changes.alerts.append(Alert(f"{view.name}: processes survived SIGKILL", pids, "error"))

    def _on_updated(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(UpdatedPayload, event.payload)
        view.numprocesses = payload["numprocesses"]
        settings = payload.get("settings")
        if settings is not None:  # a config reload replaced the watcher: a fresh one
            _load_settings(view, settings)
            view.restarts = 0
            view.last_exit = {}
            changes.processes.add(view.name)


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


def _load_watcher(view: WatcherView, data: WatcherSnapshot, at: float) -> None:
    view.state = WatcherState(data["state"])
    view.reason = data["reason"]
    view.numprocesses = data["numprocesses"]
    _load_settings(view, data)
    view.restarts = data["restarts"]
    known = view.processes
    view.processes = {}
    for item in data["processes"]:
        pid = item["pid"]
        process = known.get(pid) or ProcessView(pid, item["wid"], ProcessState.RUNNING, 0.0)
        process.wid = item["wid"]
        process.state = ProcessState(item["state"])
        process.started = item["started"] or at
        view.processes[pid] = process
    view.last_exit = {int(wid): code for wid, code in data["last_exit_codes"].items()}
    view.pauses = {}
    for slot in data["slots"]:
        retry_in = slot["retry_in"]
        if retry_in is not None:
            view.pauses[slot["wid"]] = SlotPause(slot["wid"], at + retry_in, slot["pauses"])
    if view.state != WatcherState.STOPPING:
        view.stopping_since = None


def _load_settings(view: WatcherView, settings: WatcherSettings) -> None:
    view.priority = settings["priority"]
    view.graceful_timeout = settings["graceful_timeout"]
    view.autostart = settings["autostart"]
    view.cmd = settings["cmd"]
    view.hooks = tuple(settings["hooks"])


def _lifecycle_entry(event: Event) -> LogEntry:
    kind = event.kind
    outcome = Outcome.INFO
    detail = ""
    label = str(kind)
    pid: int | None = None
    if kind == Kind.SPAWN:
        spawn = cast(SpawnPayload, event.payload)
        pid, detail = spawn["pid"], f"wid={spawn['wid']}"
    elif kind == Kind.REAP:
        reap = cast(ReapPayload, event.payload)
        code, own = reap["exit_code"], reap["process_status"] is not None
        pid, label = reap["pid"], f"exit {fmt_exit(code)}"
        detail = "own exit" if own else "stopped by tuiman"
        if own and code:
            outcome = Outcome.WARN
    elif kind in (Kind.KILL, Kind.SIGNAL):
        signalled = cast(SignalPayload, event.payload)
        pid, label = signalled["pid"], f"{kind} {signal_name(signalled['signum'])}"
    elif kind == Kind.STATE:
        state = cast(StatePayload, event.payload)
        new, reason = state["new"], state["reason"]
        label = f"→ {new}"
        detail = f"from {state['old']} ({reason})" if reason else f"from {state['old']}"
        if new == WatcherState.FAILED or reason.startswith("hook_failure:"):
            outcome = Outcome.ERROR
        elif new == WatcherState.FLAPPING or reason.startswith("veto:"):
            outcome = Outcome.WARN
    elif kind == Kind.FLAPPING:
        flapping = cast(FlappingPayload, event.payload)
        outcome = Outcome.WARN
        detail = (
            f"slot {flapping['wid']}: pause {flapping['attempt']}, retry in {flapping['retry_in']}s"
        )
    elif kind == Kind.FAILED:
        failed = cast(FailedPayload, event.payload)
        outcome = Outcome.ERROR
        detail = failed["detail"] or failed["reason"]
    elif kind == Kind.SPAWN_ERROR:
        spawn_error = cast(SpawnErrorPayload, event.payload)
        outcome = Outcome.ERROR
        detail = f"slot {spawn_error['wid']}: {spawn_error['error']}"
    elif kind == Kind.STOP:
        stop = cast(StopPayload, event.payload)
        leaked = stop.get("leaked_pids")
        detail = f"leaked {leaked}" if leaked else stop["reason"]
        outcome = Outcome.ERROR if leaked else Outcome.INFO
    elif kind == Kind.UPDATED:
        label, detail = _updated_label(cast(UpdatedPayload, event.payload))
    else:
        pid = event.payload.get("pid")  # a hook's own event: its keys are its own
        detail = _describe(event.payload)
    return LogEntry(event.time, event.watcher or "", label, pid, outcome, None, detail)


def _updated_label(payload: UpdatedPayload) -> tuple[str, str]:
    """A scale says its new target; a config reload says so, and whether it restarts."""
    target = payload["numprocesses"]
    if "settings" not in payload:
        return f"scale → {target}", ""
    restarted = ", restarted" if payload.get("restarted") else ""
    return "new config", f"numprocesses {target}{restarted}"


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

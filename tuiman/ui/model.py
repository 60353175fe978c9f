"""What the UI knows about the core, rebuilt from bus events only (no Textual here).

`CoreModel.apply` folds a batch of events into per-watcher views and returns a `Changes`
record that says which rows to touch; the widgets then update only those cells.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from tuiman.core.events import Event, Kind
from tuiman.core.line_text import terminal_line
from tuiman.core.payloads import (
    AddPayload,
    ArbiterSnapshot,
    DroppedPayload,
    FailedPayload,
    FlappingPayload,
    HookFailurePayload,
    HookStartedPayload,
    OutputPayload,
    ReapPayload,
    SignalPayload,
    SpawnPayload,
    StatePayload,
    StatsPayload,
    StopPayload,
    UpdatedPayload,
    WatchdogPayload,
    WatcherSnapshot,
)
from tuiman.core.readiness_text import READINESS_KINDS
from tuiman.core.states import ProcessState, WatcherState
from tuiman.ui.log_entries import (
    NOT_LOGGED,
    LogEntry,
    custom_entry,
    hook_entry,
    hook_output_entry,
    lifecycle_entry,
    reload_entries,
    started_entry,
)
from tuiman.ui.readiness_view import apply_readiness, started
from tuiman.ui.terminal_text import safe_ansi, safe_event, safe_text
from tuiman.ui.views import (
    ProcessView,
    RunningHook,
    SlotPause,
    WatcherView,
    load_settings,
    load_watcher,
)

OUTPUT_KEEP = 5000  # lines kept per watcher for the output pane


def watchdog_alert(lost: bool, restarts: int) -> str | None:
    """What the header says of the watchdog: nothing while it never died."""
    if lost:
        return "watchdog lost"
    return f"watchdog restarted {restarts}x" if restarts else None


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
    terminal: list[Event] = field(default_factory=list)  # raw pty text: only for the emulator


class CoreModel:
    def __init__(self) -> None:
        self.watchers: dict[str, WatcherView] = {}
        self.source = ""
        self.started: float | None = None
        self.core_pid: int | None = None
        # the watchdog when it is not simply running ("watchdog lost", "watchdog restarted 1x")
        self.watchdog_alert: str | None = None
        self.watchdog_restarts = 0
        self.snapshot_seq = 0
        self.output: dict[str, deque[OutputEntry]] = {}
        self.reaped_since_status: set[str] = set()  # watchers whose restart counter may lag
        self.config_warnings: set[str] = set()  # already shown

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

    def start_blocker(self) -> str | None:
        """A watcher whose start waits on its before_start (the others queue behind it)."""
        return next((name for name, view in self.watchers.items() if view.start_pending), None)

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
                    safe_ansi(terminal_line(payload["line"])),  # a `\r` overwrites, as on a tty
                )
                lines = buffers.get(name)
                if lines is None:
                    lines = self.output_of(name)
                lines.append(entry)
                new_output.append(entry)
            elif event.kind == Kind.TERMINAL:  # escape sequences are the point: not made safe
                changes.terminal.append(event)
            elif event.kind == Kind.STATS:
                # Only numbers and the status letter are read (made safe there): safe_event
                # would copy every string of every process' entry, 5 000 of them a second.
                stats = cast(StatsPayload, event.payload)
                self._stats(safe_text(event.watcher or ""), stats, changes)
            else:
                self._apply_one(safe_event(event), changes)
        return changes

    def _apply_one(self, event: Event, changes: Changes) -> None:
        kind = event.kind
        if kind == Kind.STATS:
            self._stats(event.watcher or "", cast(StatsPayload, event.payload), changes)
        elif kind == Kind.SNAPSHOT:
            snapshot = cast(ArbiterSnapshot, event.payload)
            self.load_snapshot(snapshot, event.time, event.seq)
            changes.rebuilt = True
            for warning in snapshot.get("warnings", []):
                if warning not in self.config_warnings:  # once each, not on every resync
                    self.config_warnings.add(warning)
                    changes.alerts.append(Alert("config warning", warning, "warning"))
        elif kind == Kind.DROPPED:
            changes.dropped += cast(DroppedPayload, event.payload)["count"]
        elif kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE):
            self._hook(event, changes)
        elif kind == Kind.HOOK_STARTED:
            self._hook_started(event, changes)
        elif kind == Kind.HOOK_OUTPUT:
            changes.log.append(hook_output_entry(event))
        elif kind == Kind.WATCHDOG:  # an arbiter event: the header shows it
            payload = cast(WatchdogPayload, event.payload)
            lost = payload["state"] == "lost"
            self.watchdog_restarts += 0 if lost else 1
            self.watchdog_alert = watchdog_alert(lost, self.watchdog_restarts)
            changes.log.append(custom_entry(event))
        elif kind == Kind.RELOAD and event.watcher is None:
            changes.log.extend(reload_entries(event))
        elif event.watcher is not None:
            self._lifecycle(event, changes)
        elif kind not in NOT_LOGGED:
            changes.log.append(custom_entry(event))

    def load_snapshot(self, snapshot: ArbiterSnapshot, at: float, seq: int = 0) -> None:
        self.source = snapshot["config"]
        self.started = snapshot["started"]
        self.core_pid = snapshot["pid"]
        self.snapshot_seq = seq
        protection = snapshot.get("protection")
        if protection is not None:
            self.watchdog_restarts = protection["restarts"]
            self.watchdog_alert = watchdog_alert(
                protection["state"] == "lost", protection["restarts"]
            )
        fresh: dict[str, WatcherView] = {}
        for data in snapshot["watchers"]:
            view = self.watchers.get(data["name"]) or WatcherView(data["name"])
            load_watcher(view, data, at)
            # A snapshot has no hooks in flight: the hook history replayed after it (at boot)
            # brings back the ones still running; after a resync their outcome may never come.
            view.running_hooks = []
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
                process.status = safe_text(stats.get("status", ""))
        changes.stats.add(view.name)

    def _hook_started(self, event: Event, changes: Changes) -> None:
        payload = cast(HookStartedPayload, event.payload)
        changes.log.append(started_entry(event))
        view = self.watchers.get(event.watcher or "")
        if view is not None:
            hook = RunningHook(payload["name"], payload.get("pid"), event.time, payload["timeout"])
            view.running_hooks.append(hook)
            changes.watchers.add(view.name)

    def _hook_ended(self, event: Event, changes: Changes) -> None:
        view = self.watchers.get(event.watcher or "")
        if view is None:
            return
        name, pid = event.payload["name"], event.payload.get("pid")
        for index, hook in enumerate(view.running_hooks):
            if hook.name == name and hook.pid == pid:
                del view.running_hooks[index]
                changes.watchers.add(view.name)
                return

    def _hook(self, event: Event, changes: Changes) -> None:
        payload = cast(HookFailurePayload, event.payload)
        name = payload["name"]
        failed = event.kind == Kind.HOOK_FAILURE
        self._hook_ended(event, changes)
        if name == "extended_stats" and not failed:
            return  # one per process per tick while `e` is on: not worth a row each
        changes.log.append(hook_entry(event))
        if payload["vetoed"]:
            error = payload["error"] if failed else ""
            watcher = event.watcher or ""
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
        changes.log.append(lifecycle_entry(event))

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
        view.last_exit[payload["wid"]] = payload["exit_code"]  # None: unknown
        self.reaped_since_status.add(view.name)
        changes.processes.add(view.name)

    def _on_kill(self, view: WatcherView, event: Event, changes: Changes) -> None:
        process = view.processes.get(cast(SignalPayload, event.payload)["pid"])
        if process is not None:
            process.state = ProcessState.STOPPING
            changes.processes.add(view.name)
        if view.state == WatcherState.STOPPING and view.stopping_since is None:
            # graceful_timeout runs from the stop signal, not from before_stop's start
            view.stopping_since = event.time

    def _on_state(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(StatePayload, event.payload)
        new = view.state = WatcherState(payload["new"])
        view.reason = payload["reason"]
        started(view)
        if new == WatcherState.STOPPING:
            view.stopping_since = None  # set by the first stop signal (a `kill` event)
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

    def _on_add(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(AddPayload, event.payload)
        view.numprocesses = payload.get("numprocesses", 0)
        settings = payload.get("settings")
        if settings is not None:  # an instance older than this UI sends none
            load_settings(view, settings)
        # In start order, as a snapshot lists them: the new row sorts into place.
        ordered = sorted(self.watchers.values(), key=lambda w: (-w.priority, w.name))
        self.watchers = {w.name: w for w in ordered}
        changes.rebuilt = True

    def _on_updated(self, view: WatcherView, event: Event, changes: Changes) -> None:
        payload = cast(UpdatedPayload, event.payload)
        view.numprocesses = payload["numprocesses"]
        settings = payload.get("settings")
        if settings is not None:  # a config reload replaced the watcher: a fresh one
            load_settings(view, settings)
            view.restarts = 0
            view.last_exit = {}
            changes.processes.add(view.name)
            changes.watchers.add(view.name)  # its info line shows the settings


_LIFECYCLE: dict[str, Callable[[CoreModel, WatcherView, Event, Changes], None]] = {
    Kind.SPAWN: CoreModel._on_spawn,
    Kind.REAP: CoreModel._on_reap,
    Kind.KILL: CoreModel._on_kill,
    Kind.STATE: CoreModel._on_state,
    Kind.FLAPPING: CoreModel._on_flapping,
    Kind.FAILED: CoreModel._on_failed,
    Kind.STOP: CoreModel._on_stop,
    Kind.UPDATED: CoreModel._on_updated,
    Kind.ADD: CoreModel._on_add,
    **dict.fromkeys(READINESS_KINDS, apply_readiness),
}

"""The rows of the hook-event log: one `LogEntry` per hook call or event, and its label.

Pure functions of a bus event (no Textual here); `CoreModel.apply` calls them and the
`HookLog` widget draws what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from tuiman.core.events import Event, Kind
from tuiman.core.payloads import (
    ArbiterReloadPayload,
    FailedPayload,
    FilesChangedPayload,
    FlappingPayload,
    HookFailurePayload,
    HookOutputPayload,
    HookStartedPayload,
    LogErrorPayload,
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
from tuiman.core.watch_text import files_changed_text
from tuiman.ui.format import fmt_exit, signal_name
from tuiman.ui.terminal_text import safe_text

NOT_LOGGED = frozenset({Kind.OUTPUT, Kind.STATS, Kind.SNAPSHOT, Kind.RESYNC, Kind.DROPPED})


class Outcome(Enum):
    """How a hook-log row is coloured."""

    OK = "ok"
    VETO = "veto"
    FAILURE = "failure"
    IGNORED = "ignored"  # a hook failure whose result does not count
    RUNNING = "running"  # a hook call under way: its row becomes the outcome when it ends
    ABANDONED = "abandoned"  # its command was cancelled while it ran: its result is ignored
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


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
    call: HookCall | None = None  # hook rows: the call a running row and its outcome share


HookCall = tuple[str, str, int | None]  # (watcher, hook name, pid)


def hook_call(event: Event) -> HookCall:
    payload = event.payload
    return event.watcher or "", str(payload["name"]), payload.get("pid")


def started_entry(event: Event) -> LogEntry:
    """The live row of a `hook_started` event, until its outcome replaces it."""
    payload = cast(HookStartedPayload, event.payload)
    detail = f"timeout {payload['timeout']:g}s"
    if "signum" in payload:
        detail = f"{signal_name(payload['signum'])} {detail}"
    return LogEntry(
        event.time,
        event.watcher or "",
        payload["name"],
        payload.get("pid"),
        Outcome.RUNNING,
        None,
        detail,
        hook_call(event),
    )


def hook_entry(event: Event) -> LogEntry:
    """The row of a `hook_success` or `hook_failure` event."""
    # hook_success is hook_failure without `error`: read both through the wider type.
    payload = cast(HookFailurePayload, event.payload)
    vetoed = payload["vetoed"]
    failed = event.kind == Kind.HOOK_FAILURE
    error = payload["error"] if failed else ""
    if failed and payload.get("abandoned"):
        outcome = Outcome.ABANDONED
    elif failed:
        outcome = Outcome.FAILURE if vetoed else Outcome.IGNORED
    else:
        outcome = Outcome.VETO if vetoed else Outcome.OK
    detail = error
    if "signum" in payload:
        detail = f"{signal_name(payload['signum'])} {detail}".strip()
    return LogEntry(
        event.time,
        event.watcher or "",
        payload["name"],
        payload.get("pid"),
        outcome,
        payload["duration"],
        detail,
        hook_call(event),
    )


def hook_output_entry(event: Event) -> LogEntry:
    """The row of a line a hook printed (`hook_output`)."""
    output = cast(HookOutputPayload, event.payload)
    outcome = Outcome.WARN if output["stream"] == "stderr" else Outcome.INFO
    return LogEntry(
        event.time,
        event.watcher or "",
        f"{output['name']} {output['stream']}",
        output.get("pid"),
        outcome,
        None,
        output["line"],
    )


def lifecycle_entry(event: Event) -> LogEntry:
    """The row of a watcher's event: spawn, reap, signals, state changes, and the like."""
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
        pid, label = reap["pid"], f"exit {'unknown' if code is None else fmt_exit(code)}"
        detail = "own exit" if own else "stopped by tuiman"
        if own and code != 0:
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
    elif kind == Kind.LOG_ERROR:
        log_error = cast(LogErrorPayload, event.payload)
        outcome = Outcome.ERROR
        detail = f"{log_error['error']} ({log_error['dropped']} lines lost)"
    elif kind == Kind.STOP:
        stop = cast(StopPayload, event.payload)
        leaked = stop.get("leaked_pids")
        detail = f"leaked {leaked}" if leaked else stop["reason"]
        outcome = Outcome.ERROR if leaked else Outcome.INFO
    elif kind == Kind.UPDATED:
        label, detail = _updated_label(cast(UpdatedPayload, event.payload))
    elif kind in READINESS_KINDS:
        pid, detail = event.payload.get("pid"), readiness_text(event)
        outcome = _READINESS_OUTCOMES.get(kind, Outcome.INFO)
        if kind == Kind.PROBE and not event.payload.get("ok"):
            outcome = Outcome.WARN
    elif kind == Kind.FILES_CHANGED:
        label, detail = (
            "files changed",
            files_changed_text(cast(FilesChangedPayload, event.payload)),
        )
    elif kind == Kind.WATCH_ERROR:
        outcome, detail = Outcome.ERROR, cast(WatchErrorPayload, event.payload)["error"]
    else:
        pid = event.payload.get("pid")  # a hook's own event: its keys are its own
        detail = _describe(event.payload)
    return LogEntry(event.time, event.watcher or "", label, pid, outcome, None, detail)


_READINESS_OUTCOMES: dict[str, Outcome] = {
    Kind.READY: Outcome.OK,
    Kind.UNREADY: Outcome.WARN,
    Kind.LIVENESS: Outcome.ERROR,
    Kind.BLOCKED: Outcome.ERROR,
}


def _updated_label(payload: UpdatedPayload) -> tuple[str, str]:
    """A scale says its new target; a config reload says so, and whether it restarts."""
    target = payload["numprocesses"]
    if "settings" not in payload:
        return f"scale → {target}", ""
    restarted = ", restarted" if payload.get("restarted") else ""
    return "new config", f"numprocesses {target}{restarted}"


def custom_entry(event: Event) -> LogEntry:
    """The row of an event no watcher sent (a hook's own event at arbiter level)."""
    return LogEntry(
        event.time,
        "tuiman",
        str(event.kind),
        event.payload.get("pid"),
        Outcome.INFO,
        None,
        _describe(event.payload),
    )


def reload_entries(event: Event) -> list[LogEntry]:
    """A config reload that was applied (`arbiter.reload`): one row per change, in words."""
    changes = cast(ArbiterReloadPayload, event.payload).get("changes") or []
    details = [str(change) for change in changes] or ["nothing changed"]
    return [
        LogEntry(event.time, "tuiman", "config reloaded", None, Outcome.INFO, None, detail)
        for detail in details
    ]


def refused_entries(at: float, errors: list[str]) -> list[LogEntry]:
    """A config reload that was refused: what still runs, then each error on its own row."""
    rows = [
        LogEntry(
            at, "tuiman", "config refused", None, Outcome.ERROR, None, "everything keeps running"
        )
    ]
    for error in errors:
        rows.extend(
            LogEntry(
                at, "tuiman", "config error", None, Outcome.ERROR, None, safe_text(line.strip())
            )
            for line in error.splitlines()
            if line.strip()
        )
    return rows


def _describe(payload: dict[str, Any]) -> str:
    return " ".join(
        f"{key}={value}" for key, value in payload.items() if key not in ("pid", "process_pid")
    )


DEMO_TIPS = (
    "the built-in demo (no tuiman.toml here): its hooks and crashes show up in this log",
    "try: i on a watcher · k signal · x stop · s start cron · n scale · o sort · ctrl+p · ?",
    "your own stack: write tuiman.toml (see config.example.toml) or run tuiman -c circus.ini",
)


def demo_tip_entries(now: float) -> list[LogEntry]:
    """First rows of the hook log when the embedded demo runs: what to try, where to go next."""
    return [LogEntry(now, "tuiman", "tip", None, Outcome.INFO, None, tip) for tip in DEMO_TIPS]

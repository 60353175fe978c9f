"""Table rows built from the model: pure functions of (view, now), compared cell by cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuiman.core.states import ProcessState, WatcherState
from tuiman.ui.format import (
    fmt_age,
    fmt_bytes,
    fmt_countdown,
    fmt_cpu,
    fmt_last_exit,
    fmt_retry_in,
    fmt_running,
    shorten,
)
from tuiman.ui.palette import STATE_ROLES
from tuiman.ui.readiness_view import process_ready_cell, waiting_info, watcher_ready_cell
from tuiman.ui.sorting import CONFIG_ORDER, SortOrder, sort_processes
from tuiman.ui.views import ProcessView, WatcherView

Cell = tuple[str, str]
Row = tuple[str, tuple[Cell, ...]]

# Keys of a Circus stats dict that are not extended-stats additions of a hook.
STANDARD_STATS = frozenset(
    {"pid", "cpu", "mem", "mem_info1", "mem_info2", "age", "children", "rss", "vms", "wid"}
    | {"ctime", "username", "nice", "create_time", "cmdline", "started", "status"}
)
BUILTIN_EXTENDED = ("mem", "num_threads", "children")
EXTENDED_LABELS = {"mem": "mem%", "num_threads": "thr", "children": "kids"}


def watcher_info(view: WatcherView, now: float) -> Cell:
    """The last column of the watchers table: why it is in its state, and what comes next."""
    if view.leaked:
        return f"leaked pids {', '.join(map(str, view.leaked))}", "error"
    hook = view.watcher_hook()
    if hook is not None:
        cancel = " · x cancels" if view.start_pending else ""
        return f"{hook.name} {fmt_running(now - hook.started)}{cancel}", "accent"
    if (waiting := waiting_info(view)) is not None:
        return waiting
    if view.state == WatcherState.FLAPPING:
        pause = view.next_retry()
        if pause is None:
            return "probing after a pause", "warn"
        return f"retry in {fmt_countdown(pause.retry_at - now)} (pause {pause.attempt})", "warn"
    if view.state == WatcherState.FAILED:
        return view.failure or describe_reason(view.reason) or "failed", "error"
    if view.state == WatcherState.STOPPING and view.stopping_since is None:
        return "stopping: no stop signal sent yet", "warn"
    if view.state == WatcherState.STOPPING and view.stopping_since is not None:
        remaining = view.stopping_since + view.graceful_timeout - now
        return (
            (f"SIGKILL in {fmt_countdown(remaining)}", "warn")
            if remaining > 0
            else ("SIGKILL sent", "error")
        )
    reason = view.reason or ""
    if view.state == WatcherState.STOPPED and view.veto:
        return view.veto, "error" if " failed: " in view.veto else "warn"
    if view.state == WatcherState.STOPPED and reason.startswith("veto:"):
        return describe_reason(reason), "warn"
    if view.state == WatcherState.STOPPED and reason.startswith("hook_failure:"):
        return describe_reason(reason), "error"
    if view.state == WatcherState.STOPPED and reason == "exited":
        return describe_reason(reason), "muted"
    if view.state == WatcherState.STOPPED and view.on_demand:
        return "starts on a connection", "muted"
    if view.state == WatcherState.STOPPED and not view.autostart and reason in ("", "None"):
        return "autostart off", "muted"
    return "", "plain"


REASONS = {
    "flap_exhausted": "gave up: it kept crashing (flapping)",
    "spawn_error": "gave up: the program could not be started",
    "exited": "every process exited",
    "flap_pause": "pausing after a crash loop",
    "quit": "stopped by quit",
}


def describe_reason(reason: str | None) -> str:
    """A state-change reason code (docs/events.md#reason-codes) in words."""
    if not reason:
        return ""
    if reason.startswith("veto:"):
        return f"vetoed by {reason.removeprefix('veto:')}"
    if reason.startswith("hook_failure:"):
        return f"{reason.removeprefix('hook_failure:')} failed"
    return REASONS.get(reason, reason)


NAME_MAX = 19  # cells of a watcher's name in the table; longer ones end in "…"


def watcher_row(
    view: WatcherView, now: float, blocker: str | None = None, readiness: bool = False
) -> Row:
    """`blocker`: a watcher whose before_start runs now; a watcher not started yet waits for it
    (the start goes through the watchers one at a time, by priority). `readiness`: with the
    ready column (docs/readiness.md)."""
    running_role = (
        "warn"
        if view.state == WatcherState.ACTIVE and view.running < view.numprocesses
        else "plain"
    )
    return view.name, (
        (shorten(view.name, NAME_MAX), "plain"),
        _state_cell(view),
        (f"{view.running}/{view.numprocesses}", running_role),
        (str(view.priority), "muted"),
        (str(view.restarts), "warn" if view.restarts else "muted"),
        (fmt_cpu(view.cpu) if view.processes and view.rss else "-", "plain"),
        (fmt_bytes(view.rss) if view.processes and view.rss else "-", "plain"),
        *((watcher_ready_cell(view),) if readiness else ()),
        _waiting_info(view, blocker) or watcher_info(view, now),
    )


def _waiting_info(view: WatcherView, blocker: str | None) -> Cell | None:
    never_started = view.state == WatcherState.STOPPED and view.reason in (None, "", "None")
    if blocker is None or blocker == view.name or not never_started or not view.autostart:
        return None
    return f"queued behind {blocker}'s before_start", "muted"


def process_rows(
    view: WatcherView,
    now: float,
    extended: tuple[str, ...] = (),
    order: SortOrder = CONFIG_ORDER,
    readiness: bool = False,
) -> list[Row]:
    rows: list[Row] = []
    processes = sort_processes(view.processes.values(), order)
    last_exit = view.last_exit
    for process in processes:
        if extended or readiness:
            cells = _process_cells(view, process, now, extended)
            if readiness:  # after the state column (docs/readiness.md)
                cells = (*cells[:3], process_ready_cell(view, process.pid), *cells[3:])
            rows.append((str(process.pid), cells))
            continue
        # The same inputs give the same row: the tuple made last time is handed out again.
        made_of = (
            fmt_age(now - process.started),
            process.cpu,
            process.rss,
            process.state,
            process.status,
            process.wid,
            last_exit.get(process.wid, _NEVER),
        )
        cached = process.row
        if cached is None or cached[0] != made_of:
            cached = process.row = (
                made_of,
                (str(process.pid), _process_cells(view, process, now, extended)),
            )
        rows.append(cached[1])
    for pause in sorted(view.pauses.values(), key=lambda p: p.wid):
        blanks: tuple[Cell, ...] = tuple(("", "plain") for _ in extended)
        rows.append(
            (
                f"slot-{pause.wid}",
                (
                    (f"slot {pause.wid}", "muted"),
                    (str(pause.wid), "plain"),
                    ("paused", "warn"),
                    *((("-", "muted"),) if readiness else ()),
                    (fmt_retry_in(pause.retry_at - now), "warn"),  # in the age column
                    ("-", "muted"),
                    ("-", "muted"),
                    (fmt_last_exit(view.last_exit, pause.wid), "error"),
                    *blanks,
                ),
            )
        )
    return rows


_NEVER = object()  # a slot with no exit yet (None is an exit of unknown status)


def _process_cells(
    view: WatcherView, process: ProcessView, now: float, extended: tuple[str, ...]
) -> tuple[Cell, ...]:
    # A running process has not exited: its slot's last exit is history, never an alarm
    # (the info dialog, `i`, names it "last exit").
    return (
        (str(process.pid), "plain"),
        (str(process.wid), "plain"),
        _process_state(process),
        (fmt_age(now - process.started), "plain"),
        (fmt_cpu(process.cpu), "plain"),
        (fmt_bytes(process.rss), "plain"),
        (fmt_last_exit(view.last_exit, process.wid), "muted"),
        *(_extended_cell(process.extended.get(key), key) for key in extended),
    )


STOPPED_STATUSES = frozenset({"T", "t"})  # stopped by a signal (SIGSTOP, SIGTSTP) or traced


def _process_state(process: ProcessView) -> Cell:
    if process.state == ProcessState.RUNNING and process.status in STOPPED_STATUSES:
        return f"stopped ({process.status})", "warn"
    return process.state, "ok" if process.state == ProcessState.RUNNING else "warn"


def _extended_cell(value: Any, key: str) -> Cell:
    if value is None:
        return "-", "muted"
    if key == "children" and isinstance(value, list):
        return str(len(value)), "plain"
    if isinstance(value, float):
        return f"{value:.1f}", "plain"
    return str(value), "plain"


def extended_keys(stats: Mapping[int, Mapping[str, object]]) -> tuple[str, ...]:
    """Columns for extended stats: the built-in extras, then whatever the hook added."""
    extra = sorted(
        {key for entry in stats.values() for key in entry} - STANDARD_STATS - set(BUILTIN_EXTENDED)
    )
    return (*extra, *BUILTIN_EXTENDED)  # the hook's own columns first: they are the point of `e`


def _state_cell(view: WatcherView) -> Cell:
    if view.start_pending and view.state in (WatcherState.STOPPED, WatcherState.FAILED):
        return "starting", _state_role(WatcherState.STARTING)  # its before_start runs
    return view.state, _state_role(view.state)


def _state_role(state: str) -> str:
    return STATE_ROLES.get(state, "plain")

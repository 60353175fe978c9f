"""What the UI shows of readiness, liveness and dependencies (docs/readiness.md): the ready
column of both tables, the watcher's waiting/blocked info, the process info's last probe
results and the dependency tree. Plain Python (no Textual): the model folds the events in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from tuiman.core.events import Event, Kind
from tuiman.core.payloads import (
    BlockedPayload,
    NotifyPayload,
    ProbePayload,
    ReadinessSnapshot,
    UnreadyPayload,
    WaitingPayload,
)
from tuiman.core.states import WatcherState

if TYPE_CHECKING:
    from tuiman.ui.model import Changes, CoreModel
    from tuiman.ui.views import WatcherView

Cell = tuple[str, str]


@dataclass
class ProcessReadiness:
    state: str = "waiting"  # waiting | probing | ready | unready
    reason: str | None = None  # why unready
    status: str | None = None  # the last STATUS= of a notify process
    checks: dict[str, str] = field(default_factory=dict)  # "ready tcp" -> "ok" / the error


@dataclass
class WatcherReadiness:
    probe: str | None = None  # the readiness probe's kind; None without one
    ready: bool = False
    unready_reason: str | None = None
    waiting_for: list[str] = field(default_factory=list)
    blocked: str | None = None
    depends_on: dict[str, str] = field(default_factory=dict)
    processes: dict[int, ProcessReadiness] = field(default_factory=dict)


def load_readiness(view: WatcherView, data: Mapping[str, Any]) -> None:
    """From a watcher snapshot's `readiness` (absent: the config uses none of it)."""
    snapshot = cast(ReadinessSnapshot | None, data.get("readiness"))
    if snapshot is None:
        view.readiness = None
        return
    readiness = WatcherReadiness(
        probe=snapshot["probe"],
        ready=snapshot["ready"],
        waiting_for=list(snapshot["waiting_for"]),
        blocked=snapshot["blocked"],
        depends_on=dict(snapshot.get("depends_on", {})),
    )
    for pid_text, state in snapshot["processes"].items():
        process = readiness.processes[int(pid_text)] = ProcessReadiness(state)
        error = snapshot["errors"].get(pid_text)
        if error:
            check, _, text = error.partition(": ")
            process.checks[f"ready {check}"] = text
        process.status = snapshot["status"].get(pid_text)
    view.readiness = readiness


def apply_readiness(model: CoreModel, view: WatcherView, event: Event, changes: Changes) -> None:
    """A readiness event of `view`'s watcher (the model's handler for these kinds)."""
    del model
    readiness = view.readiness
    if readiness is None:
        readiness = view.readiness = WatcherReadiness()
    kind, payload = event.kind, event.payload
    pid = payload.get("pid")
    process = readiness.processes.setdefault(pid, ProcessReadiness()) if pid is not None else None
    if kind == Kind.PROBE:
        probe = cast(ProbePayload, payload)
        assert process is not None
        process.checks[f"{probe['probe']} {probe['check']}"] = probe["error"] or "ok"
        if probe["probe"] == "ready" and process.state == "waiting":
            process.state = "probing"
        if probe["probe"] == "ready" and readiness.probe is None:
            readiness.probe = probe["check"]
    elif kind == Kind.READY:
        if process is not None:
            process.state, process.reason = "ready", None
        else:
            readiness.ready, readiness.unready_reason = True, None
    elif kind == Kind.UNREADY:
        reason = cast(UnreadyPayload, payload)["reason"]
        if process is not None:
            process.state, process.reason = "unready", reason
            if reason == "exited":
                readiness.processes.pop(cast(int, pid), None)
        else:
            readiness.ready, readiness.unready_reason = False, reason
    elif kind == Kind.NOTIFY:
        assert process is not None
        process.status = cast(NotifyPayload, payload)["status"]
    elif kind == Kind.WAITING:
        readiness.waiting_for = list(cast(WaitingPayload, payload)["waiting_for"])
        readiness.blocked = None
    elif kind == Kind.BLOCKED:
        readiness.blocked = cast(BlockedPayload, payload)["reason"]
        readiness.waiting_for = []
    if pid is not None:
        changes.processes.add(view.name)
        gone = [known for known in readiness.processes if known not in view.processes]
        for stale in gone:
            if stale != pid:  # a probe result may come before the spawn reached the model
                del readiness.processes[stale]


def forget_process(view: WatcherView, pid: int) -> None:
    if view.readiness is not None:
        view.readiness.processes.pop(pid, None)


def started(view: WatcherView) -> None:
    """The watcher left `stopped`: it no longer waits, and is no longer blocked."""
    if view.readiness is not None and view.state != WatcherState.STOPPED:
        view.readiness.waiting_for = []
        view.readiness.blocked = None


# -- cells ----------------------------------------------------------------------------------------


def watcher_ready_cell(view: WatcherView) -> Cell:
    readiness = view.readiness
    if readiness is None:
        return "-", "muted"
    if readiness.blocked:
        return "blocked", "error"
    if readiness.waiting_for and view.state == WatcherState.STOPPED:
        return "waiting", "warn"
    if view.state in (WatcherState.STOPPED, WatcherState.FAILED):
        return "-", "muted"
    if readiness.probe is None:
        running = view.state == WatcherState.ACTIVE and view.running >= view.numprocesses
        return ("started", "ok") if running else ("starting", "muted")
    if readiness.ready:
        return "ready", "ok"
    states = [p.state for pid, p in readiness.processes.items() if pid in view.processes]
    if "unready" in states:
        return "unready", "error"
    return ("probing", "warn") if "probing" in states else ("waiting", "muted")


def process_ready_cell(view: WatcherView, pid: int) -> Cell:
    readiness = view.readiness
    process = readiness.processes.get(pid) if readiness is not None else None
    if readiness is None or readiness.probe is None or process is None:
        return "-", "muted"
    roles = {"ready": "ok", "unready": "error", "probing": "warn"}
    return process.state, roles.get(process.state, "muted")


def waiting_info(view: WatcherView) -> Cell | None:
    """The info column of a watcher that waits for its dependencies, is blocked, or runs but
    is not ready yet (with its last failed check)."""
    readiness = view.readiness
    if readiness is None:
        return None
    if view.state == WatcherState.ACTIVE and readiness.probe and not readiness.ready:
        errors = [
            f"{check}: {result}"
            for pid, process in readiness.processes.items()
            if pid in view.processes and process.state != "ready"
            for check, result in process.checks.items()
            if result != "ok"
        ]
        return (f"not ready: {errors[-1]}", "warn") if errors else None
    if view.state != WatcherState.STOPPED:
        return None
    if readiness.blocked:
        return f"blocked: {readiness.blocked}", "error"
    if readiness.waiting_for:
        return f"waiting for {', '.join(readiness.waiting_for)}", "warn"
    return None


def process_probe_lines(view: WatcherView, pid: int) -> list[tuple[str, str, str]]:
    """(label, text, role) lines for the process info: its readiness and last check results."""
    readiness = view.readiness
    process = readiness.processes.get(pid) if readiness is not None else None
    if process is None:
        return []
    state_role = {"ready": "ok", "unready": "error"}.get(process.state, "warn")
    reason = f" ({process.reason})" if process.reason else ""
    lines = [("readiness", f"{process.state}{reason}", state_role)]
    for check, result in sorted(process.checks.items()):
        lines.append((check, result, "ok" if result == "ok" else "error"))
    if process.status:
        lines.append(("status", process.status, "plain"))
    return lines


# -- the dependency tree --------------------------------------------------------------------------


def dependency_lines(
    watchers: Mapping[str, WatcherView], name: str | None
) -> list[tuple[str, list[str]]]:
    """Sections of the dependency view: what `name` needs (as a tree) and what needs it, or the
    whole forest when `name` is None."""
    graph = {
        key: dict(view.readiness.depends_on) if view.readiness else {}
        for key, view in watchers.items()
    }
    if name is not None:
        needed_by = sorted(key for key, needs in graph.items() if name in needs)
        return [
            (f"{name} needs", _tree(watchers, graph, name, "", set())[1:] or ["nothing"]),
            ("needed by", [f"{key} ({graph[key][name]})" for key in needed_by] or ["nothing"]),
        ]
    roots = [key for key in graph if not any(key in needs for needs in graph.values())]
    lines: list[str] = []
    for root in roots:
        lines.extend(_tree(watchers, graph, root, "", set()))
    return [("all watchers", lines)]


def _tree(
    watchers: Mapping[str, WatcherView],
    graph: Mapping[str, Mapping[str, str]],
    name: str,
    indent: str,
    path: set[str],
    condition: str | None = None,
) -> list[str]:
    view = watchers.get(name)
    state = _short_state(view) if view is not None else "not configured"
    wanted = f" ({condition})" if condition else ""
    lines = [f"{indent}{name} [{state}]{wanted}"]
    if name in path:
        return lines  # a cycle: the loader refuses them; never recurse forever
    for dependency, needed in graph.get(name, {}).items():
        lines.extend(_tree(watchers, graph, dependency, indent + "  ", path | {name}, needed))
    return lines


def _short_state(view: WatcherView) -> str:
    ready, _ = watcher_ready_cell(view)
    return str(view.state) if ready == "-" else f"{view.state}, {ready}"

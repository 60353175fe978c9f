"""What the info dialog (`i`) says about a watcher and one of its processes (no Textual).

Everything a table row has to cut short, in full: the command line, the working directory, the
environment the config sets (secrets already masked by the core), the restart policy, the hooks,
the last exits, the reason for the current state, and the watcher's last hook calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tuiman.ui.format import fmt_age, fmt_bytes, fmt_clock, fmt_cpu, fmt_duration, fmt_exit
from tuiman.ui.format import signal_name as fmt_signal
from tuiman.ui.log_entries import LogEntry, Outcome
from tuiman.ui.readiness_view import process_probe_lines
from tuiman.ui.rows import describe_reason, watcher_info
from tuiman.ui.views import WatcherView

RECENT_HOOK_CALLS = 8
HOOK_RESULTS = {
    Outcome.OK: "ok",
    Outcome.VETO: "VETO",
    Outcome.FAILURE: "FAILED",
    Outcome.IGNORED: "failed (ignored)",
    Outcome.RUNNING: "running",
    Outcome.ABANDONED: "abandoned (result ignored)",
}


@dataclass(frozen=True, slots=True)
class InfoLine:
    label: str  # "" for a continuation or a list item
    text: str
    role: str = "plain"  # palette role


Section = tuple[str, list[InfoLine]]


def info_sections(
    view: WatcherView, pid: int | None, hook_log: Iterable[LogEntry], now: float
) -> list[Section]:
    sections: list[Section] = [("watcher", _watcher_lines(view, now))]
    if pid is not None and pid in view.processes:
        probes = [InfoLine(*line) for line in process_probe_lines(view, pid)]
        sections.append((f"process {pid}", _process_lines(view, pid, now) + probes))
    sections.append(("program", _command_lines(view)))
    sections.append(("environment", _env_lines(view)))
    sections.append(("restart policy", _policy_lines(view)))
    sections.append(("hooks", [InfoLine("", hook) for hook in view.hooks] or _none("no hooks")))
    sections.append(("last exits", _exit_lines(view)))
    sections.append(("hook calls", _hook_lines(view.name, hook_log)))
    return sections


def _none(text: str) -> list[InfoLine]:
    return [InfoLine("", text, "muted")]


def _watcher_lines(view: WatcherView, now: float) -> list[InfoLine]:
    info, role = watcher_info(view, now)
    lines = [
        InfoLine("state", str(view.state), role if role != "plain" else "ok"),
        InfoLine("processes", f"{view.running} running of {view.numprocesses}"),
        InfoLine("priority", str(view.priority)),
        InfoLine("autostart", "yes" if view.autostart else "no"),
        InfoLine("restarts", str(view.restarts)),
    ]
    if info:
        lines.append(InfoLine("now", info, role))
    reason = describe_reason(view.reason)
    if reason and reason != info and reason != "command":  # "command": a user's start or stop
        lines.append(InfoLine("reason", reason))
    if view.veto:
        lines.append(InfoLine("last veto", view.veto, "warn"))
    if view.failure:
        lines.append(InfoLine("failure", view.failure, "error"))
    return lines


def _process_lines(view: WatcherView, pid: int, now: float) -> list[InfoLine]:
    process = view.processes[pid]
    lines = [
        InfoLine("slot", f"wid {process.wid}"),
        InfoLine("state", str(process.state)),
        InfoLine("started", f"{fmt_clock(process.started)} ({fmt_age(now - process.started)} ago)"),
        InfoLine("cpu", fmt_cpu(process.cpu)),
        InfoLine("rss", fmt_bytes(process.rss)),
    ]
    if process.wid in view.last_exit:
        lines.append(
            InfoLine("last exit", f"its slot's previous process: {_exit(view, process.wid)}")
        )
    return lines


def _command_lines(view: WatcherView) -> list[InfoLine]:
    lines = [
        InfoLine("command", view.cmd or "-"),
        InfoLine("working dir", view.working_dir or "-"),
    ]
    lines += [InfoLine("socket", text) for text in view.sockets]
    if view.on_demand:
        lines.append(InfoLine("on demand", "starts on the first connection to its sockets"))
    return lines


def _env_lines(view: WatcherView) -> list[InfoLine]:
    if not view.env:
        return _none("the config sets nothing beyond what tuiman inherits")
    return [InfoLine("", f"{key}={value}") for key, value in sorted(view.env.items())]


def _policy_lines(view: WatcherView) -> list[InfoLine]:
    lines = [InfoLine("respawn", view.respawn or "-")]
    if view.max_retry is not None:
        lines.append(InfoLine("max_retry", f"{view.max_retry} failed spawns in a row, then failed"))
    policy = view.restart_policy
    if policy:
        lines.append(
            InfoLine(
                "backoff",
                f"{policy['backoff_initial']:g}s doubling to {policy['backoff_max']:g}s,"
                f" reset after {policy['reset_after']:g}s up",
            )
        )
        give_up = int(policy["flap_max_retry"])
        lines.append(
            InfoLine(
                "flapping",
                f"{int(policy['flap_attempts'])} exits within {policy['flap_window']:g}s:"
                f" pause {policy['retry_in']:g}s, "
                + ("retry forever" if give_up < 0 else f"give up after {give_up} pauses"),
            )
        )
    stop = fmt_signal(view.stop_signal) if view.stop_signal is not None else "-"
    lines.append(InfoLine("stop", f"{stop}, SIGKILL after {view.graceful_timeout:g}s"))
    return lines


def _exit(view: WatcherView, wid: int) -> str:
    code = view.last_exit.get(wid)
    return "unknown (collected elsewhere)" if code is None else fmt_exit(code)


def _exit_lines(view: WatcherView) -> list[InfoLine]:
    if not view.last_exit:
        return _none("no process has exited yet")
    return [
        InfoLine(
            f"wid {wid}",
            _exit(view, wid),
            "muted" if view.last_exit[wid] == 0 else "error",
        )
        for wid in sorted(view.last_exit)
    ]


def _hook_lines(watcher: str, hook_log: Iterable[LogEntry]) -> list[InfoLine]:
    calls = [e for e in hook_log if e.watcher == watcher and e.outcome in HOOK_RESULTS]
    if not calls:
        return _none("no hook calls yet")
    lines: list[InfoLine] = []
    for entry in calls[-RECENT_HOOK_CALLS:]:
        took = f" in {fmt_duration(entry.duration)}" if entry.duration is not None else ""
        detail = f" — {entry.detail}" if entry.detail else ""
        role = {Outcome.OK: "ok", Outcome.VETO: "warn"}.get(entry.outcome, "error")
        lines.append(
            InfoLine(
                fmt_clock(entry.time),
                f"{entry.label} {HOOK_RESULTS[entry.outcome]}{took}{detail}",
                role,
            )
        )
    return lines

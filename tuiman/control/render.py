"""Plain-text tables for `tuiman ctl` (no Rich: ctl must start fast and import no UI code)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from tuiman import strict_json
from tuiman.core.payloads import OutputLineRecord, WatcherSnapshot

# Keys of a stats entry that have their own column (or are not shown); others are extended stats.
_STATS_KEYS = frozenset(
    {
        "pid",
        "wid",
        "cpu",
        "mem",
        "mem_info1",
        "mem_info2",
        "age",
        "children",
        "rss",
        "vms",
        "num_threads",
        "status",  # the kernel's state letter: the UI's `stopped (T)`
    }
    | {"ctime", "username", "nice", "create_time", "cmdline", "started"}
)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dict | list):
        return strict_json.dumps(value, compact=True)
    return str(value)


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def status_table(watchers: list[WatcherSnapshot]) -> str:
    rows: list[tuple[object, ...]] = [
        (
            w["name"],
            w["state"],
            f"{len(w['processes'])}/{w['numprocesses']}",
            w["priority"],
            w["restarts"],
            w["reason"],
        )
        for w in watchers
    ]
    headers: tuple[str, ...] = ("NAME", "STATE", "PROCS", "PRIORITY", "RESTARTS", "REASON")
    if any("readiness" in w for w in watchers):
        # docs/readiness.md: only configs that use probes or dependencies get the column
        headers = (*headers[:2], "READY", *headers[2:])
        rows = [
            (*row[:2], readiness_cell(w), *row[2:]) for row, w in zip(rows, watchers, strict=True)
        ]
    text = table(headers, rows)
    notes = [
        f"{w['name']}: log files failing: {w['log_files']['error']} "
        f"({w['log_files']['dropped']} lines lost)"
        for w in watchers
        if "log_files" in w
    ]
    notes += [watcher_sockets_note(w) for w in watchers if "sockets" in w or "on_demand" in w]
    return "\n".join([text, *notes])


def watcher_sockets_note(watcher: WatcherSnapshot) -> str:
    """`web: sockets web (127.0.0.1:8080, fd 6) · starts on a connection`."""
    parts = []
    if watcher.get("sockets"):
        parts.append(
            "sockets "
            + ", ".join(f"{s['name']} ({s['location']}, fd {s['fd']})" for s in watcher["sockets"])
        )
    if watcher.get("on_demand"):
        parts.append("starts on a connection" if watcher["state"] == "stopped" else "on demand")
    return f"{watcher['name']}: " + " · ".join(parts)


def sockets_lines(sockets: list[dict[str, Any]]) -> str:
    """The sockets tuiman bound, one line each."""
    return "\n".join(
        f"socket {s.get('name')}: {s.get('location')} (fd {s.get('fd')}, {s.get('type')})"
        for s in sockets
    )


def readiness_cell(watcher: WatcherSnapshot) -> str:
    """ready | not ready (the last error) | waiting for … | blocked: …; '-' without probes."""
    readiness = watcher.get("readiness")
    if readiness is None:
        return "-"
    if readiness["blocked"]:
        return f"blocked: {readiness['blocked']}"
    if readiness["waiting_for"]:
        return "waiting for " + ", ".join(readiness["waiting_for"])
    if readiness["ready"]:
        return "ready"
    if readiness["probe"] is None:
        return "-"
    errors = sorted(set(readiness["errors"].values()))
    return "not ready" + (f" ({errors[-1]})" if errors else "")


def protection_lines(protection: dict[str, Any]) -> str:
    """What protects the processes if tuiman dies: the watchdog and the cgroups."""
    state = protection.get("state")
    if state == "running":
        watchdog = f"watchdog: running (pid {protection.get('pid')}"
        restarts = protection.get("restarts") or 0
        watchdog += f", restarted {restarts}x)" if restarts else ")"
    elif state == "lost":
        watchdog = "watchdog: LOST: a SIGKILL of tuiman would leave every process running"
    else:
        watchdog = f"watchdog: {state}"
    return f"{watchdog}\ncgroups: {protection.get('cgroups')}"


def processes_table(watcher: WatcherSnapshot) -> str:
    now = time.time()
    rows = [
        (p["pid"], p["wid"], p["state"], duration(now - (p["started"] or now)), p["exit_code"])
        for p in sorted(watcher["processes"], key=lambda p: (p["wid"], p["pid"]))
    ]
    return table(("PID", "WID", "STATE", "AGE", "EXIT"), rows)


def stats_table(watchers: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Entries are ProcessStatsEntry as an extended_stats hook left them: keys may be gone."""
    extra_keys = sorted(
        {key for per_pid in watchers.values() for entry in per_pid.values() for key in entry}
        - _STATS_KEYS
    )
    rows: list[list[object]] = []
    for name, per_pid in watchers.items():
        for entry in sorted(per_pid.values(), key=lambda e: (e.get("wid") or 0, e.get("pid") or 0)):
            rows.append(
                [
                    name,
                    entry.get("pid"),
                    entry.get("wid"),
                    entry.get("cpu"),
                    entry.get("mem"),
                    entry.get("mem_info1"),
                    entry.get("num_threads"),
                    len(entry.get("children") or []),
                    duration(float(entry.get("age") or 0)),
                    *(entry.get(key) for key in extra_keys),
                ]
            )
    headers = ["WATCHER", "PID", "WID", "CPU%", "MEM%", "RSS", "THREADS", "CHILDREN", "AGE"]
    return table([*headers, *(key.upper() for key in extra_keys)], rows)


def log_line(watcher: str, line: OutputLineRecord) -> str:
    return f"{watcher}.{line['wid']} | {line['line']}"

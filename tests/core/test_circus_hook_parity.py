"""The same INI and hook module under real Circus 0.19 and under tuiman: what the hooks see and
the order they are called in are the same (docs/hooks.md#coming-from-circus).

Each test runs circusd, then tuiman, on copies of the same files, and compares the hooks'
traces (pids relabelled p1, p2, … by first appearance, as they differ between the runs).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.support.parity import Daemon, DaemonKind, calls, pid_labels, running
from tests.support.procs import children
from tests.support.waiting import wait_until_sync

SUPPORT = Path(__file__).resolve().parents[1] / "support"
FILES = {
    "parity_hooks.py": (SUPPORT / "parity_hooks.py").read_text(),
    "parity_child.py": (SUPPORT / "parity_child.py").read_text(),
}
KINDS: tuple[DaemonKind, ...] = ("circus", "tuiman")


def watcher_ini(hooks: dict[str, str], numprocesses: int = 1, args: str = "") -> str:
    hook_lines = "".join(f"hooks.{name} = parity_hooks.{func}\n" for name, func in hooks.items())
    return (
        "[watcher:web]\n"
        f"cmd = {sys.executable} -u {{dir}}/parity_child.py {args}\n"
        "working_dir = {dir}\n"
        f"numprocesses = {numprocesses}\n"
        "graceful_timeout = 10\n"
        f"{hook_lines}"
        "[env:web]\n"
        "TEST_TAG = {tag}\n"
        "BASE = base\n"
    )


def children_reports(daemon: Daemon, count: int) -> list[dict[str, Any]]:
    path = daemon.directory / "children.jsonl"

    def reports() -> list[dict[str, Any]]:
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
        return lines if len(lines) >= count else []

    return wait_until_sync(reports, timeout=30)


def tag() -> str:
    return f"parity-{uuid.uuid4().hex[:12]}"


def test_env_written_by_hooks_reaches_the_following_spawns(tmp_path: Path) -> None:
    ini = watcher_ini(
        {"before_start": "set_env_on_start", "before_spawn": "set_env_per_spawn"},
        numprocesses=2,
        args="$(circus.env.myvar)",
    )
    seen: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        with running(kind, tmp_path, ini, FILES, tag()) as daemon:
            reports = children_reports(daemon, 2)
            seen[kind] = sorted(
                ({k: v for k, v in r.items() if k != "pid"} for r in reports),
                key=lambda r: str(r["myvar"]),
            )
            assert [r["seen"] for r in daemon.wait_trace(3)[1:]] == ["yes", "yes"]
    expected = [
        {"argv": ["spawn-1"], "myvar": "spawn-1", "from_start": "yes"},
        {"argv": ["spawn-2"], "myvar": "spawn-2", "from_start": "yes"},
    ]
    assert seen["circus"] == expected
    assert seen["tuiman"] == expected


def test_signal_runs_the_signal_hooks_one_process_after_the_other(tmp_path: Path) -> None:
    ini = watcher_ini(
        {
            "after_spawn": "trace",
            "before_signal": "slow_before_signal",
            "after_signal": "after_signal",
        },
        numprocesses=3,
    )
    traces: dict[str, list[str]] = {}
    for kind in KINDS:
        with running(kind, tmp_path, ini, FILES, tag()) as daemon:
            daemon.wait_trace(3)
            children_reports(daemon, 3)  # their SIGUSR1 handlers are in place
            daemon.signal("web", "USR1")
            records = daemon.wait_trace(9)
            traces[kind] = calls(records)
            assert {r["signum"] for r in records[3:]} == {signal.SIGUSR1}
    expected = ["after_spawn p1", "after_spawn p2", "after_spawn p3"] + [
        f"{hook} p{n}" for n in (1, 2, 3) for hook in ("before_signal", "after_signal")
    ]
    assert traces["circus"] == expected
    assert traces["tuiman"] == expected


def test_reload_replaces_the_old_processes_newest_first(tmp_path: Path) -> None:
    ini = watcher_ini(
        {
            "before_spawn": "trace",
            "after_spawn": "trace",
            "before_signal": "slow_before_signal",
            "after_signal": "after_signal",
        },
        numprocesses=2,
    )
    traces: dict[str, list[str]] = {}
    for kind in KINDS:
        with running(kind, tmp_path, ini, FILES, tag()) as daemon:
            daemon.wait_trace(4)
            daemon.reload("web")
            records = daemon.wait_trace(12)
            assert {r["signum"] for r in records[8:12]} == {signal.SIGTERM}
            traces[kind] = calls(records[:12])
    start = ["before_spawn", "after_spawn p1", "before_spawn", "after_spawn p2"]
    reload = ["before_spawn", "after_spawn p3", "before_spawn", "after_spawn p4"]
    stops = [f"{hook} p{n}" for n in (2, 1) for hook in ("before_signal", "after_signal")]
    assert traces["circus"] == start + reload + stops
    assert traces["tuiman"] == start + reload + stops


MEMORY = re.compile(r"^(\d+B|\d+\.\d\d[KMGTPEZY])$")
CPU_TIME = re.compile(r"^\d+:\d\d\.\d{1,2}$")


def test_extended_stats_hooks_get_circus_keys_and_formats(tmp_path: Path) -> None:
    ini = watcher_ini({"after_spawn": "trace", "extended_stats": "extended"})
    stats: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        with running(kind, tmp_path, ini, FILES, tag()) as daemon:
            daemon.wait_trace(1)
            children_reports(daemon, 1)
            wait_until_sync(lambda: _children_of(daemon), timeout=10)
            daemon.extended_stats("web")
            stats[kind] = daemon.wait_trace(2)[1]["stats"]
    circus, tuiman = stats["circus"], stats["tuiman"]
    assert list(tuiman)[: len(circus)] == list(circus), "Circus' keys, in Circus' order"
    assert set(tuiman) - set(circus) == {"rss", "vms", "num_threads"}
    for key, value in circus.items():
        assert type(tuiman[key]) is type(value), key
    for info in (circus, tuiman, circus["children"][0], tuiman["children"][0]):
        assert MEMORY.match(info["mem_info1"]) and MEMORY.match(info["mem_info2"]), info
        assert CPU_TIME.match(info["ctime"]), info["ctime"]
    for key in ("username", "nice", "cmdline", "wid"):
        assert tuiman[key] == circus[key], key
    assert list(tuiman["children"][0]) == list(circus["children"][0])
    assert tuiman["children"][0]["cmdline"] == circus["children"][0]["cmdline"] == "sleep"


def _children_of(daemon: Daemon) -> list[int]:
    """The child's own child (`sleep`), once it runs: the stats' `children`."""
    pid = children_reports(daemon, 1)[0]["pid"]
    return sorted(children(pid))


def test_reap_hooks_see_the_exited_process_as_unexisting(tmp_path: Path) -> None:
    ini = watcher_ini(
        {"after_spawn": "trace", "before_reap": "before_reap", "after_reap": "after_reap"}
    )
    traces: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        with running(kind, tmp_path, ini, FILES, tag()) as daemon:
            first = daemon.wait_trace(1)[0]["pid"]
            children_reports(daemon, 1)
            os.kill(first, signal.SIGKILL)  # an exit of its own, not one tuiman caused
            records = daemon.wait_trace(3)
            labels = pid_labels(records)
            traces[kind] = [{**r, "pid": labels[r["pid"]]} for r in records[1:3]]
    expected = [
        {"hook": "before_reap", "pid": "p1", "status": 2, "has_time": True},
        {
            "hook": "after_reap",
            "pid": "p1",
            "in_processes": False,
            "exit_code": -signal.SIGKILL,
            "process_status": 2,
        },
    ]
    assert traces["circus"] == expected
    assert traces["tuiman"] == expected

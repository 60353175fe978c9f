"""The same INI and hook module under real Circus 0.19 and under tuiman: what the hooks see and
the order they are called in are the same (docs/hooks.md#coming-from-circus).

Each test runs circusd, then tuiman, on copies of the same files, and compares the hooks'
traces (pids relabelled p1, p2, … by first appearance, as they differ between the runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sys
import uuid
from functools import partial
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


class UdpCollector:
    """A statsd server for one daemon: a bound UDP socket, read without blocking."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.setblocking(False)
        self.port: int = self.socket.getsockname()[1]
        self.datagrams: list[str] = []

    def received(self) -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.datagrams.append(self.socket.recv(4096).decode())
        return self.datagrams


def test_statsd_plugin_sends_what_circus_sends(tmp_path: Path) -> None:
    sent: dict[str, list[str]] = {}
    for kind in KINDS:
        collector = UdpCollector()
        # No hooks: Circus publishes an after_spawn's hook_success before the spawn event,
        # tuiman after it (docs/events.md#order).
        ini = watcher_ini({}, numprocesses=2) + (
            "[plugin:statsd]\n"
            "use = circus.plugins.statsd.StatsdEmitter\n"
            f"host = 127.0.0.1\nport = {collector.port}\n"
            "application_name = shop\nsample_rate = 0.5\n"
        )
        with collector.socket, running(kind, tmp_path, ini, FILES, tag()) as daemon:
            children_reports(daemon, 2)
            if kind == "circus":  # its plugin is a process of its own: wait until it listens
                wait_until_sync(partial(_circus_plugin_counts, daemon, collector), timeout=30)
            before = len(collector.received())
            daemon.ctl("restart", "web")
            wait_until_sync(lambda: collector.received()[-1:] == [START], timeout=30)  # noqa: B023
            sent[kind] = collector.received()[before:]
    prefix = "circus.shop.watcher.web"
    expected = [
        f"{prefix}.{event}:1|c|@0.5"
        for event in ("kill", "kill", "reap", "reap", "stop", "spawn", "spawn", "start")
    ]
    assert sent["circus"] == expected
    assert sent["tuiman"] == expected


START = "circus.shop.watcher.web.start:1|c|@0.5"


def _circus_plugin_counts(daemon: Daemon, collector: UdpCollector) -> bool:
    """Circus' plugin subscribes some time after the start: poke it until a datagram comes."""
    daemon.ctl("set", "web", "graceful_timeout", "10")  # a `watcher.web.updated` event
    return bool(collector.received())


def test_watchdog_plugin_kills_a_silent_process_as_circus_does(tmp_path: Path) -> None:
    traces: dict[str, list[str]] = {}
    for kind in KINDS:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        hooks = {
            "after_spawn": "trace",
            "before_signal": "after_signal",
            "after_signal": "after_signal",
        }
        ini = watcher_ini(hooks, numprocesses=2) + (
            f"HEARTBEAT_PORT = {port}\n"
            "[plugin:heartbeats]\n"
            "use = circus.plugins.watchdog.WatchDog\n"
            f"ip = 127.0.0.1\nport = {port}\n"
            "loop_rate = 0.5\nmax_count = 3\n"
            "watchers_regex = ^web$\nwatchers_stop_signal = INT\n"
        )
        with running(kind, tmp_path, ini, FILES, tag()) as daemon:
            silent = daemon.wait_trace(2)[0]["pid"]
            children_reports(daemon, 2)
            (daemon.directory / f"silence-{silent}").touch()
            records = daemon.wait_trace(5)
            assert {r["signum"] for r in records[2:4]} == {signal.SIGINT}
            assert records[2]["pid"] == silent
            traces[kind] = calls(records[:5])
    expected = ["after_spawn p1", "after_spawn p2", "before_signal p1", "after_signal p1"]
    expected.append("after_spawn p3")
    assert traces["circus"] == expected
    assert traces["tuiman"] == expected


EXAMPLE10_HOOKS = """\
def set_var(watcher, arbiter, hook_name, **kwargs):
    watcher.env["myvar"] = "34"
    return True
"""


def test_circus_example10_prints_what_its_before_spawn_hook_set(tmp_path: Path) -> None:
    """Circus' examples/example10.ini, with the hook it names (examples/demo.py's set_var)."""
    ini = (
        "[watcher:vars]\n"
        "cmd = echo $(circus.env.myvar); sleep 1\n"
        "hooks.before_spawn = examples.demo.set_var\n"
        "stdout_stream.class = StdoutStream\n"
        "stderr_stream.class = StdoutStream\n"
        "[env:vars]\nTEST_TAG = {tag}\n"
    )
    files = {"examples/__init__.py": "", "examples/demo.py": EXAMPLE10_HOOKS}
    for kind in KINDS:
        with running(kind, tmp_path, ini, files, tag(), show_output=True) as daemon:
            wait_until_sync(
                lambda: "34; sleep 1" in daemon.log_file.read_text(),
                timeout=30,
                what=f"`34; sleep 1` in the output of {kind}",
            )


def test_full_stats_plugin_sends_the_gauges_circus_sends(tmp_path: Path) -> None:
    rounds: dict[str, list[tuple[str, str]]] = {}
    prefix = "circus.app.watcher._stats.web."
    for kind in KINDS:
        collector = UdpCollector()
        ini = watcher_ini({}, numprocesses=2) + (
            "[plugin:gauges]\n"
            "use = circus.plugins.statsd.FullStats\n"
            f"host = 127.0.0.1\nport = {collector.port}\nloop_rate = 0.5\n"
        )
        with collector.socket, running(kind, tmp_path, ini, FILES, tag()) as daemon:
            children_reports(daemon, 2)

            def web_round(collector: UdpCollector = collector) -> list[str]:
                """One full round of the web watcher's gauges, once both processes run."""
                web = [d for d in collector.received() if d.startswith(prefix)]
                starts = [i for i, d in enumerate(web) if d == f"{prefix}watchers_num:2|g"]
                return (
                    web[starts[0] : starts[0] + 7] if starts and len(web) >= starts[0] + 7 else []
                )

            datagrams = wait_until_sync(web_round, timeout=30)
        rounds[kind] = [_shape(d.removeprefix(prefix)) for d in datagrams]
    assert (
        rounds["tuiman"]
        == rounds["circus"]
        == [
            ("watchers_num", "2|g"),
            ("cpu_max", "float|g"),
            ("cpu_sum", "float|g"),
            ("mem_pct_max", "float|g"),
            ("mem_pct_sum", "float|g"),
            ("mem_max", "int|g"),
            ("mem_sum", "int|g"),
        ]
    )


def _shape(datagram: str) -> tuple[str, str]:
    """`cpu_max:0.0|g` → (cpu_max, float|g): the values differ between runs, not their kind."""
    bucket, _, value = datagram.partition(":")
    number, _, kind = value.partition("|")
    if bucket == "watchers_num":
        return bucket, value
    shown = "float" if re.fullmatch(r"\d+\.\d+", number) else "int" if number.isdigit() else number
    return bucket, f"{shown}|{kind}"


def test_decr_stops_the_oldest_processes_newest_first_one_after_the_other(tmp_path: Path) -> None:
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
            daemon.ctl("decr", "web", "2")
            traces[kind] = calls(daemon.wait_trace(7)[:7])
    expected = ["after_spawn p1", "after_spawn p2", "after_spawn p3"] + [
        f"{hook} p{n}" for n in (2, 1) for hook in ("before_signal", "after_signal")
    ]
    assert traces["circus"] == expected
    assert traces["tuiman"] == expected


def test_stop_runs_the_signal_hooks_one_process_after_the_other(tmp_path: Path) -> None:
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
            daemon.ctl("stop", "web")
            traces[kind] = calls(daemon.wait_trace(9)[:9])
    expected = ["after_spawn p1", "after_spawn p2", "after_spawn p3"] + [
        f"{hook} p{n}" for n in (1, 2, 3) for hook in ("before_signal", "after_signal")
    ]
    assert traces["circus"] == expected
    assert traces["tuiman"] == expected

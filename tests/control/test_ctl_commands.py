"""`tuiman ctl` as a user runs it, against a real headless tuiman, one test per command group."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.control.ctlkit import BASE_ENV, TUIMAN, Instance, json_lines, write_config
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(120)

PY = sys.executable

CHILD = """\
import os, signal, subprocess, sys, time
record = sys.argv[1]

def note(text):
    with open(record, "a") as out:
        out.write(f"{os.getpid()} {text}\\n")

def on_signal(signum, frame):
    note(signal.Signals(signum).name)

for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
    signal.signal(signum, on_signal)
if "--grandchild" in sys.argv:
    subprocess.Popen([sys.executable, __file__, record + ".grandchild"])
note("ready")
print(f"hello from {os.getpid()}", flush=True)
while True:
    signal.pause()
"""

HOOKS = """\
def veto(watcher, arbiter, hook_name, **kwargs):
    return False

def boom(watcher, arbiter, hook_name, **kwargs):
    raise RuntimeError("database unreachable")

def extended(watcher, arbiter, hook_name, pid, stats, **kwargs):
    stats["queue_depth"] = 42
"""


def setup_files(directory: Path) -> tuple[Path, Path]:
    (directory / "child.py").write_text(CHILD)
    (directory / "ctlhooks.py").write_text(HOOKS)
    return directory / "child.py", directory / "signals.txt"


def base_config(directory: Path, numprocesses: int = 2, extra: str = "") -> str:
    child, record = setup_files(directory)
    return textwrap.dedent(
        f"""
        stats_interval = 0.2

        [watchers.web]
        cmd = ["{PY}", "-u", "{child}", "{record}"]
        numprocesses = {numprocesses}
        graceful_timeout = 5.0
        [watchers.web.hooks]
        extended_stats = "ctlhooks.extended"

        [watchers.keeper]
        cmd = "sleep 300"
        """
    ) + textwrap.dedent(extra)


@pytest.fixture
def inst(start_tuiman: Callable[..., Instance], tuiman_dir: Path) -> Instance:
    instance = start_tuiman(tuiman_dir, base_config(tuiman_dir))
    wait_until_sync(lambda: len(instance.pids("web")) == 2, what="two web processes")
    return instance


def ready_pids(record: Path) -> set[int]:
    if not record.exists():
        return set()
    return {
        int(line.split()[0]) for line in record.read_text().splitlines() if line.endswith(" ready")
    }


def signals_of(record: Path, pid: int) -> list[str]:
    if not record.exists():
        return []
    return [
        line.split()[1]
        for line in record.read_text().splitlines()
        if int(line.split()[0]) == pid and not line.endswith(" ready")
    ]


def test_list_and_status(inst: Instance) -> None:
    result = inst.ctl("list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["keeper", "web"]
    assert json.loads(inst.ctl("list", "--json").stdout)["watchers"] == ["keeper", "web"]

    table = inst.ctl("status").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATE", "PROCS", "PRIORITY", "RESTARTS", "REASON"]
    assert any(line.split()[:3] == ["web", "active", "2/2"] for line in table)

    detail = inst.ctl("status", "web")
    assert detail.returncode == 0
    for pid in inst.pids("web"):
        assert str(pid) in detail.stdout
    reply = json.loads(inst.ctl("--json", "status", "web").stdout)
    assert reply["ok"] and reply["watchers"][0]["name"] == "web"

    missing = inst.ctl("status", "nope")
    assert missing.returncode == 3
    assert "no watcher named 'nope'" in missing.stderr


def test_start_stop_restart_queued_and_waited(inst: Instance) -> None:
    queued = inst.ctl("stop", "web")
    assert queued.returncode == 0 and "queued" in queued.stdout
    wait_until_sync(lambda: inst.watcher("web")["state"] == "stopped", what="web stopped")

    started = inst.ctl("start", "web", "--wait")
    assert started.returncode == 0, started.stderr
    assert inst.watcher("web")["state"] == "active" and len(inst.pids("web")) == 2

    before = set(inst.pids("web"))
    restarted = inst.ctl("restart", "web", "--wait")
    assert restarted.returncode == 0, restarted.stderr
    after = set(inst.pids("web"))
    assert len(after) == 2 and not before & after

    assert inst.ctl("stop", "--wait").returncode == 0
    assert {inst.watcher(n)["state"] for n in ("web", "keeper")} == {"stopped"}
    assert inst.ctl("start", "--wait").returncode == 0
    assert {inst.watcher(n)["state"] for n in ("web", "keeper")} == {"active"}
    assert inst.answers()


def test_wait_reports_a_vetoing_or_failing_hook(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path
) -> None:
    extra = """
    [watchers.guarded]
    cmd = "sleep 300"
    autostart = false
    [watchers.guarded.hooks]
    before_start = "ctlhooks.veto"

    [watchers.broken]
    cmd = "sleep 300"
    autostart = false
    [watchers.broken.hooks]
    before_start = "ctlhooks.boom"
    """
    inst = start_tuiman(tuiman_dir, base_config(tuiman_dir, extra=extra))

    vetoed = inst.ctl("start", "guarded", "--wait")
    assert vetoed.returncode == 3
    assert "before_start" in vetoed.stderr and "veto" in vetoed.stderr

    failed = inst.ctl("start", "broken", "--wait")
    assert failed.returncode == 3
    assert "before_start" in failed.stderr and "database unreachable" in failed.stderr

    queued = inst.ctl("start", "guarded")  # without --wait: queued is success
    assert queued.returncode == 0
    assert inst.watcher("guarded")["state"] == "stopped"


def test_reload_replaces_every_process(inst: Instance) -> None:
    before = set(inst.pids("web"))
    result = inst.ctl("reload", "web", "--wait")
    assert result.returncode == 0, result.stderr
    after = set(inst.pids("web"))
    assert len(after) == 2 and not before & after


def test_reloadconfig_applies_the_file_or_refuses_it(inst: Instance) -> None:
    text = inst.config.read_text()
    inst.config.write_text(text.replace("numprocesses = 2", "numprocesses = 3"))
    result = inst.ctl("reloadconfig")
    assert result.returncode == 0, result.stderr
    wait_until_sync(lambda: len(inst.pids("web")) == 3, what="three web processes")

    inst.config.write_text(text.replace("numprocesses = 2", "numprocesses = -1"))
    refused = inst.ctl("reloadconfig")
    assert refused.returncode == 3
    assert "numprocesses" in refused.stderr
    assert len(inst.pids("web")) == 3


def test_signal_is_delivered(inst: Instance) -> None:
    record = inst.directory / "signals.txt"
    pids = inst.pids("web")
    wait_until_sync(lambda: ready_pids(record) >= set(pids), what="signal handlers installed")

    everyone = inst.ctl("signal", "web", "USR1")
    assert everyone.returncode == 0, everyone.stderr
    wait_until_sync(
        lambda: all("SIGUSR1" in signals_of(record, pid) for pid in pids), what="USR1 reached both"
    )

    one = inst.ctl("signal", "web", str(pids[0]), "SIGUSR2")
    assert one.returncode == 0, one.stderr
    wait_until_sync(lambda: "SIGUSR2" in signals_of(record, pids[0]), what="USR2 reached the pid")
    assert "SIGUSR2" not in signals_of(record, pids[1])

    assert inst.ctl("signal", "web", "NOPE").returncode == 3
    assert inst.ctl("signal", "web", "1", "TERM").returncode == 3  # not a process of web
    assert inst.ctl("signal", "web").returncode == 2


def test_signal_group_reaches_grandchildren(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path
) -> None:
    child, record = setup_files(tuiman_dir)
    toml = f"""
    [watchers.family]
    cmd = ["{PY}", "-u", "{child}", "{record}", "--grandchild"]
    """
    inst = start_tuiman(tuiman_dir, toml)
    grandchild_record = Path(f"{record}.grandchild")
    wait_until_sync(lambda: ready_pids(record) and ready_pids(grandchild_record), what="both ready")
    grandchild = next(iter(ready_pids(grandchild_record)))
    inst.seen_pids.add(grandchild)

    result = inst.ctl("signal", "family", "HUP", "--group")
    assert result.returncode == 0, result.stderr
    wait_until_sync(
        lambda: "SIGHUP" in signals_of(grandchild_record, grandchild), what="HUP in group"
    )


def test_kill_replaces_one_process(inst: Instance) -> None:
    victim, survivor = inst.pids("web")
    result = inst.ctl("kill", "web", str(victim), "--wait")
    assert result.returncode == 0, result.stderr
    wait_until_sync(
        lambda: victim not in inst.pids("web") and len(inst.pids("web")) == 2, what="a replacement"
    )
    assert survivor in inst.pids("web")
    assert inst.ctl("kill", "web", "999999").returncode == 3


def test_incr_decr_set(inst: Instance) -> None:
    assert inst.ctl("incr", "web", "2", "--wait").returncode == 0
    assert len(inst.pids("web")) == 4
    assert inst.ctl("decr", "web", "--wait").returncode == 0
    wait_until_sync(lambda: len(inst.pids("web")) == 3, what="three processes")
    assert inst.ctl("set", "web", "numprocesses", "1", "--wait").returncode == 0
    wait_until_sync(lambda: len(inst.pids("web")) == 1, what="one process")
    assert inst.watcher("web")["numprocesses"] == 1
    assert inst.ctl("incr", "web").returncode == 0  # queued
    wait_until_sync(lambda: len(inst.pids("web")) == 2, what="two processes")
    bad = inst.ctl("set", "web", "numprocesses", "1000000")
    assert bad.returncode == 3 and "numprocesses" in bad.stderr


def test_stats_table_json_and_extended_hook(inst: Instance) -> None:
    pids = inst.pids("web")
    table = inst.ctl("stats")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:4] == ["WATCHER", "PID", "WID", "CPU%"]
    for pid in pids:
        assert str(pid) in table.stdout

    data = json.loads(inst.ctl("stats", "web", "--json").stdout)
    assert sorted(int(pid) for pid in data["watchers"]["web"]) == pids

    extended = inst.ctl("stats", "web", "--extended")
    assert extended.returncode == 0, extended.stderr
    assert "QUEUE_DEPTH" in extended.stdout.splitlines()[0]
    assert all(line.split()[-1] == "42" for line in extended.stdout.splitlines()[1:])

    everything = json.loads(inst.ctl("stats", "--extended", "--json").stdout)
    assert {entry["queue_depth"] for entry in everything["watchers"]["web"].values()} == {42}
    assert "keeper" in everything["watchers"]


def test_logs_history_pid_filter_and_follow(inst: Instance) -> None:
    pids = inst.pids("web")
    wait_until_sync(lambda: inst.ctl("logs", "web").stdout.count("hello from") == 2, what="output")
    assert len(inst.ctl("logs", "web", "-n", "1").stdout.splitlines()) == 1
    one = inst.ctl("logs", "web", str(pids[0]))
    assert f"hello from {pids[0]}" in one.stdout and f"hello from {pids[1]}" not in one.stdout
    records = json_lines(inst.ctl("logs", "web", "--json").stdout)
    assert {r["pid"] for r in records} == set(pids) and all(
        r["stream"] == "stdout" for r in records
    )

    follow = subprocess.Popen(
        [*TUIMAN, "ctl", "--socket", str(inst.socket), "logs", "web", "-f"],
        stdout=subprocess.PIPE,
        text=True,
        env=BASE_ENV,
    )
    try:
        assert follow.stdout is not None
        history = [follow.stdout.readline() for _ in range(2)]
        assert all("hello from" in line for line in history)
        assert inst.ctl("incr", "web", "--wait").returncode == 0
        new_pid = (set(inst.pids("web")) - set(pids)).pop()
        assert f"hello from {new_pid}" in follow.stdout.readline()
    finally:
        follow.kill()
        follow.wait()


def test_events_stream_like_headless(inst: Instance) -> None:
    stream = subprocess.Popen(
        [*TUIMAN, "ctl", "--socket", str(inst.socket), "events", "--json", "--no-output"],
        stdout=subprocess.PIPE,
        text=True,
        env=BASE_ENV,
    )
    human = subprocess.Popen(
        [*TUIMAN, "ctl", "--socket", str(inst.socket), "events"],
        stdout=subprocess.PIPE,
        text=True,
        env=BASE_ENV,
    )
    try:
        baseline = 1  # the headless printer
        wait_until_sync(
            lambda: inst.request("hello")["subscribers"] == baseline + 2, what="subscribed"
        )
        assert inst.ctl("stop", "keeper", "--wait").returncode == 0
        assert stream.stdout is not None and human.stdout is not None
        seen = []
        while True:
            event = json.loads(stream.stdout.readline())
            seen.append(event)
            if event["kind"] == "state" and event.get("new") == "stopped":
                break
        assert all(e["kind"] != "output" for e in seen)
        assert all({"seq", "time", "topic", "kind"} <= set(e) for e in seen)
        assert seen[-1]["watcher"] == "keeper" and seen[-1]["topic"] == "watcher.keeper.state"
        while "keeper state stopping → stopped" not in (line := human.stdout.readline()):
            assert line, "human event stream ended early"
    finally:
        for process in (stream, human):
            process.kill()
            process.wait()


def test_reopen_logs(start_tuiman: Callable[..., Instance], tuiman_dir: Path) -> None:
    child, record = setup_files(tuiman_dir)
    toml = f"""
    [watchers.web]
    cmd = ["{PY}", "-u", "{child}", "{record}"]
    [watchers.web.output]
    file = "web.log"
    """
    inst = start_tuiman(tuiman_dir, toml)
    log = tuiman_dir / "web.log"
    wait_until_sync(lambda: log.exists() and "hello from" in log.read_text(), what="log written")
    log.rename(tuiman_dir / "web.log.1")
    result = inst.ctl("reopen-logs")
    assert result.returncode == 0, result.stderr
    assert inst.ctl("incr", "web", "--wait").returncode == 0
    wait_until_sync(
        lambda: log.exists() and "hello from" in log.read_text(), what="reopened log written"
    )


def test_quit_wait_ends_the_instance(inst: Instance) -> None:
    result = inst.ctl("quit", "--wait")
    assert result.returncode == 0, result.stderr
    assert inst.process.wait(15) == 0
    assert not inst.socket.exists() and not (inst.directory / "ctl.lock").exists()
    gone = inst.ctl("list")
    assert gone.returncode == 1 and "no tuiman listening" in gone.stderr


def test_json_reply_of_a_failure(inst: Instance) -> None:
    result = inst.ctl("--json", "stop", "nope")
    assert result.returncode == 3
    assert json.loads(result.stdout) == {"ok": False, "error": "no watcher named 'nope'"}


def test_no_tuiman_listening_exits_1(tmp_path: Path) -> None:
    from tests.control.ctlkit import run_ctl

    result = run_ctl("--socket", str(tmp_path / "none.sock"), "status")
    assert result.returncode == 1 and "no tuiman listening" in result.stderr
    config = write_config(tmp_path, '[watchers.a]\ncmd = "sleep 1"\n')
    result = run_ctl("-c", str(config), "list", env={"XDG_RUNTIME_DIR": str(tmp_path)})
    assert result.returncode == 1 and "no tuiman listening" in result.stderr

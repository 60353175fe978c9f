"""The orphan killer (docs/supervision.md#orphans-and-escapees) against real processes: a fake
tuiman, its child, a grandchild and a `setsid` escapee."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.procs import pids_with_env
from tests.support.waiting import wait_until_sync
from tuiman.core.processes.watchdog import MARKER_ENV, new_marker

REPO = Path(__file__).resolve().parents[2]

FAKE_TUIMAN = """
import fcntl, json, os, signal, subprocess, sys
from tuiman.core.processes.watchdog import MARKER_ENV, Watchdog

marker, mode = sys.argv[1], sys.argv[2]
wd = Watchdog.start(marker)
report = {"watchdog": wd.pid}
if mode == "broken":
    report["cloexec"] = bool(fcntl.fcntl(wd._wfd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    os.kill(wd.pid, signal.SIGKILL)
    os.waitpid(wd.pid, 0)
    wd.track(12345)
    wd.untrack(12345)
    wd.close()
    wd.close()
    report.update(failure=wd.failure, alive=wd.alive)
    print(json.dumps(report), flush=True)
    sys.exit(0)
child = subprocess.Popen(
    ["sh", "-c", "setsid sleep 300 & env -i sleep 300 & sleep 300 & wait"],
    start_new_session=True,
    env={**os.environ, MARKER_ENV: marker},
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
wd.track(child.pid)
report["child"] = child.pid
if mode == "close":
    wd.close()
    report["status"] = wd.wait(5.0)
report["alive"] = wd.alive
print(json.dumps(report), flush=True)
sys.stdin.read()
"""


def _dead(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _marked(marker: str) -> list[psutil.Process]:
    """Live processes carrying this marker in their environment (never matched by name)."""
    found = []
    for pid in pids_with_env(MARKER_ENV, marker):
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found


class Fake:
    def __init__(self, tmp_path: Path, mode: str) -> None:
        script = tmp_path / "fake_tuiman.py"
        script.write_text(FAKE_TUIMAN)
        self.marker = new_marker()
        env = {k: v for k, v in os.environ.items() if k != MARKER_ENV}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.popen = subprocess.Popen(
            [sys.executable, str(script), self.marker, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        assert line, "the fake tuiman died before reporting"
        self.report: dict[str, Any] = json.loads(line)
        self.watchdog_pid: int = self.report["watchdog"]
        self.watchdog: psutil.Process | None = None
        with contextlib.suppress(psutil.NoSuchProcess):  # "broken" mode killed it already
            self.watchdog = psutil.Process(self.watchdog_pid)
        self.roster: list[psutil.Process] = []

    def find_roster(self) -> dict[str, psutil.Process]:
        """The group leader; in its group a marked and an unmarked (`env -i`) member; and the
        `setsid` escapee in a session of its own. Found by marker, group and parentage."""
        leader = psutil.Process(self.report["child"])
        found: dict[str, psutil.Process] = {}

        def complete() -> bool:
            found.clear()
            with contextlib.suppress(psutil.Error, OSError):
                marked = [p for p in _marked(self.marker) if p != leader]
                for proc in marked:
                    if os.getsid(proc.pid) != leader.pid:
                        found["escapee"] = proc
                    elif os.getpgid(proc.pid) == leader.pid:
                        found["member"] = proc
                for proc in leader.children():
                    if proc not in marked and not _dead(proc):
                        found["unmarked"] = proc
            self.roster = [leader, *found.values()]
            return len(found) == 3

        wait_until_sync(complete, 5.0, what="the roster (leader, member, unmarked, escapee)")
        return {"leader": leader, **found}

    def cleanup(self) -> None:
        for proc in [*self.roster, self.watchdog]:
            if proc is not None:
                with contextlib.suppress(psutil.Error):
                    proc.kill()  # psutil refuses a recycled pid
        self.popen.kill()  # a no-op once it has been reaped
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def fake_factory(tmp_path: Path) -> Iterator[Any]:
    fakes: list[Fake] = []

    def make(mode: str) -> Fake:
        fakes.append(Fake(tmp_path, mode))
        return fakes[-1]

    try:
        yield make
    finally:
        for fake in fakes:
            fake.cleanup()


@pytest.mark.timeout(30)
def test_sigkilled_tuiman_leaves_no_survivor(fake_factory: Any) -> None:
    fake = fake_factory("run")
    roster = fake.find_roster()
    leader, escapee = roster["leader"], roster["escapee"]
    # Negative controls: a group kill alone misses the escapee, a marker sweep alone misses
    # the member that dropped its environment.
    assert os.getpgid(escapee.pid) != leader.pid
    assert os.getsid(escapee.pid) != os.getsid(leader.pid)
    assert os.getpgid(roster["unmarked"].pid) == leader.pid
    assert MARKER_ENV not in roster["unmarked"].environ()
    # The watchdog holds only its pipe and a pidfd of the fake (not its stdout) and shrugs off
    # TERM/INT/HUP. It is a fresh interpreter: it gets there a moment after it starts.
    watchdog = fake.watchdog
    assert watchdog is not None
    wait_until_sync(lambda: len(os.listdir(f"/proc/{watchdog.pid}/fd")) == 2, timeout=10)
    assert os.getsid(watchdog.pid) == watchdog.pid
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        watchdog.send_signal(sig)

    os.kill(fake.popen.pid, signal.SIGKILL)
    fake.popen.wait()

    def survivors() -> list[int]:
        return [p.pid for p in roster.values() if not _dead(p)]

    wait_until_sync(lambda: not survivors(), 1.0, what="no survivor of the roster")
    wait_until_sync(lambda: _dead(watchdog), 2.0, what="the watchdog gone")


@pytest.mark.timeout(30)
def test_clean_close_kills_nothing(fake_factory: Any) -> None:
    fake = fake_factory("close")
    assert fake.report["status"] == 0  # exited 0, reaped by wait()
    assert fake.report["alive"] is False
    roster = fake.find_roster()

    os.kill(fake.popen.pid, signal.SIGKILL)
    fake.popen.wait()
    # The watchdog is already gone, so nothing can kill the group later: no sleep needed.
    assert fake.watchdog is None or _dead(fake.watchdog)
    assert not any(_dead(p) for p in roster.values())

    os.killpg(roster["leader"].pid, signal.SIGKILL)  # it still has members: not a recycled pgid
    roster["escapee"].kill()
    wait_until_sync(lambda: all(_dead(p) for p in roster.values()), 5.0, what="the roster gone")


@pytest.mark.timeout(30)
def test_parent_side_survives_a_dead_watchdog(fake_factory: Any) -> None:
    fake = fake_factory("broken")
    assert fake.report["cloexec"] is True
    assert fake.report["alive"] is False
    assert "broken pipe" in fake.report["failure"]
    assert fake.popen.wait(10) == 0


def test_new_marker_is_unique_per_call() -> None:
    a, b = new_marker(), new_marker()
    assert a != b
    assert a.startswith(f"{os.getpid()}-")


SUBREAPER = """
import os, signal, subprocess, sys
from tuiman.core.processes.watchdog import set_child_subreaper

assert set_child_subreaper()
out = subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
                     capture_output=True, text=True, check=True).stdout
orphan = int(out)
with open(f"/proc/{orphan}/status") as f:
    ppid = int(next(l for l in f if l.startswith("PPid:")).split()[1])
os.kill(orphan, signal.SIGKILL)
os.waitpid(orphan, 0)
sys.exit(0 if ppid == os.getpid() else 3)
"""


@pytest.mark.timeout(30)
def test_set_child_subreaper_adopts_orphans() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    assert subprocess.run([sys.executable, "-c", SUBREAPER], env=env, timeout=20).returncode == 0


def test_the_watchdog_interpreter_imports_only_what_it_needs() -> None:
    """Every module the watchdog imports is memory it keeps (docs/supervision.md#memory)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules);"
        "import tuiman.core.processes.watchdog_serve;"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(REPO)],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = set(result.stdout.split())
    assert "tuiman.core.processes.watchdog_serve" in imported
    for heavy in ("signal", "enum", "contextlib", "functools", "collections", "typing"):
        assert heavy not in imported

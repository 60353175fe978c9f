"""Attacks on the watchdog (docs/reliability.md#the-watchdog-cannot-be-blinded-or-lost).

A hook that forks a `multiprocessing` helper hands it a copy of every fd tuiman holds; a killed
watchdog used to go unnoticed. In both cases a later SIGKILL of tuiman must still leave no
managed process behind, and a new tuiman on the same config must start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import PY, REPO, TUIMAN, headless, write_hook_module
from tests.support.procs import alive, children, kill_quietly, tagged_pids
from tests.support.waiting import wait_until_sync
from tuiman.control.endpoint import InstanceRunning, claim_endpoint
from tuiman.core.events import Event, Kind
from tuiman.core.payloads import WatchdogPayload
from tuiman.ui.model import CoreModel

pytestmark = pytest.mark.timeout(90)

FORKING_HOOK = """
import multiprocessing, os, time

def _nap():
    os.close(1)  # not tuiman's output: the test reads it to its end
    os.close(2)
    time.sleep(60)

def fork_helper(watcher, arbiter, **kwargs):
    helper = multiprocessing.get_context("fork").Process(target=_nap, daemon=False)
    helper.start()
    with open(os.environ["HELPER_PID_FILE"], "w") as out:
        out.write(str(helper.pid))
    return True
"""

CONFIG = """
[watchers.svc]
cmd = ["sh", "-c", "sleep 300 & echo up; wait"]
numprocesses = 2
env = {{ TEST_TAG = "{tag}" }}
{hooks}
"""


def write_config(tmp_path: Path, tag: str, hooks: str = "") -> Path:
    config = tmp_path / "tuiman.toml"
    config.write_text(CONFIG.format(tag=tag, hooks=hooks))
    return config


def managed_up(tag: str, count: int = 4) -> list[int]:
    wait_until_sync(lambda: len(tagged_pids(tag)) == count)
    return tagged_pids(tag)


def assert_all_gone_soon(roster: list[int], tag: str, within: float = 2.0) -> None:
    wait_until_sync(lambda: not [pid for pid in roster if alive(pid)], timeout=within)
    assert tagged_pids(tag) == []


def assert_new_instance_starts(config: Path, tag: str, helper_pid_file: Path | None = None) -> None:
    env = {"HELPER_PID_FILE": str(helper_pid_file)} if helper_pid_file is not None else None
    with headless(config, tag=tag, env=env) as again:
        again.wait_line(lambda line: line.endswith("| up"))
        if helper_pid_file is not None:  # its after_start hook has run (a quit would abandon it)
            wait_until_sync(lambda: helper_pid_file.exists() and helper_pid_file.read_text())
        again.send(signal.SIGTERM)
        assert again.wait(30) == 0, "\n".join(again.err)


def test_a_forked_hook_helper_blinds_neither_the_watchdog_nor_the_lock(
    tmp_path: Path, tag: str
) -> None:
    module = write_hook_module(tmp_path, FORKING_HOOK)
    pid_file, second_pid_file = tmp_path / "helper.pid", tmp_path / "helper-2.pid"
    config = write_config(tmp_path, tag, f'hooks = {{ after_start = "{module}.fork_helper" }}')
    try:
        with headless(config, tag=tag, env={"HELPER_PID_FILE": str(pid_file)}) as run:
            roster = managed_up(tag)
            helper = int(wait_until_sync(lambda: pid_file.exists() and pid_file.read_text()))
            assert alive(helper)
            run.send(signal.SIGKILL)
            run.wait(10)
            assert_all_gone_soon(roster, tag)
        # The new instance's hook forks its own helper (and must find its pid file).
        assert_new_instance_starts(config, tag, second_pid_file)
    finally:
        for path in (pid_file, second_pid_file):
            if path.exists() and path.read_text():
                kill_quietly(int(path.read_text()))


LOCK_HOLDER = """
import multiprocessing, sys, time
from pathlib import Path
from tuiman.control.endpoint import claim_endpoint

endpoint = claim_endpoint(Path(sys.argv[1]), private_dir=False)
helper = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
helper.start()
print(helper.pid, flush=True)
time.sleep(60)
"""


def test_the_instance_lock_dies_with_its_owner_not_with_a_forked_copy(tmp_path: Path) -> None:
    socket_path = tmp_path / "ctl.sock"
    holder = subprocess.Popen(
        [PY, "-c", LOCK_HOLDER, str(socket_path)], stdout=subprocess.PIPE, cwd=REPO
    )
    helper = 0
    try:
        assert holder.stdout is not None
        helper = int(holder.stdout.readline())
        with pytest.raises(InstanceRunning, match=f"pid {holder.pid}"):
            claim_endpoint(socket_path, private_dir=False)
        holder.kill()
        holder.wait(10)
        assert alive(helper)  # it holds a copy of every fd the owner had, the lock's too
        claim_endpoint(socket_path, private_dir=False).close()
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        if helper:
            kill_quietly(helper)


def status(config: Path) -> dict[str, Any]:
    reply = subprocess.run(
        [*TUIMAN, "ctl", "-c", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    data: dict[str, Any] = json.loads(reply.stdout)
    return data


def test_a_killed_watchdog_is_reported_and_replaced(tmp_path: Path, tag: str) -> None:
    config = write_config(tmp_path, tag)
    with headless(config, tag=tag, json=True) as run:
        roster = managed_up(tag)
        watchdog = status(config)["protection"]["pid"]
        assert watchdog in children(run.pid)
        os.kill(watchdog, signal.SIGKILL)
        event = json.loads(run.wait_line(lambda line: '"kind": "watchdog"' in line))
        assert set(event) - {"seq", "time", "topic", "kind"} == set(WatchdogPayload.__annotations__)
        assert event["state"] == "restarted"
        assert event["previous_pid"] == watchdog
        assert "SIGKILL" in event["detail"]
        replacement = event["pid"]
        assert replacement != watchdog
        assert alive(replacement)
        protection = status(config)["protection"]
        assert protection["state"] == "running"
        assert protection["pid"] == replacement
        assert protection["restarts"] == 1
        # the new watchdog knows every live group: a SIGKILL of tuiman still leaves nothing
        run.send(signal.SIGKILL)
        run.wait(10)
        assert_all_gone_soon(roster, tag)
        wait_until_sync(lambda: not alive(replacement), timeout=20)


def test_the_ui_model_tells_the_header_about_the_watchdog() -> None:
    model = CoreModel()
    assert model.watchdog_alert is None
    restarted: WatchdogPayload = {
        "state": "restarted",
        "previous_pid": 10,
        "pid": 11,
        "detail": "watchdog pid 10 was killed by SIGKILL; restarted as pid 11",
    }
    changes = model.apply([Event(1, 0.0, Kind.WATCHDOG, None, dict(restarted))])
    assert model.watchdog_alert == "watchdog restarted 1x"
    assert changes.log, "the hook-event log shows it too"
    lost: WatchdogPayload = {**restarted, "state": "lost", "pid": None}
    model.apply([Event(2, 0.0, Kind.WATCHDOG, None, dict(lost))])
    assert model.watchdog_alert == "watchdog lost"

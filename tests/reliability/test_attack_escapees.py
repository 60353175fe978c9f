"""Escapees (docs/reliability.md#the-watchdog-cannot-be-blinded-or-lost): a child that changes
its pid every millisecond, a sweep under fd exhaustion, and the subprocess of a hook that timed
out. Where cgroup v2 is writable, nothing a child does gets it out of its watcher's cgroup;
where it is not, tuiman says so and a sweep that cannot look says so too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.support import TUIMAN, headless, write_hook_module
from tests.support.procs import tagged_pids
from tests.support.waiting import wait_until_sync
from tuiman.core.processes.cgroups import CgroupUnavailable, kill_tree, own_cgroup_dir, remove_tree

pytestmark = pytest.mark.timeout(120)

# fork, the parent exits, the child starts a new session: a new pid (and sid) every hop; six
# chains of them, so that no sweep of /proc catches them all by luck
HOPPER = """
import os, sys, time
hop = float(sys.argv[1])
for _ in range(5):
    if not os.fork():
        break
while True:
    if os.fork():
        os._exit(0)
    os.setsid()
    time.sleep(hop)
"""


def cgroups_writable() -> str | None:
    """None if this process could have a cgroup subtree of its own, else why not."""
    try:
        base = own_cgroup_dir()
    except CgroupUnavailable as why:
        return str(why)
    return None if os.access(base, os.W_OK) else f"{base} is not writable by this user"


NO_CGROUPS = cgroups_writable()


@pytest.fixture
def trap() -> Iterator[Callable[[int], None]]:
    """A cgroup of the test's own to put tuiman in: should tuiman let the hopper out, the test
    still kills it at the end (no /proc sweep can be relied on to find it)."""
    path = f"{own_cgroup_dir()}/tuiman-test-{uuid.uuid4().hex[:12]}"
    os.mkdir(path)

    def put(pid: int) -> None:
        with open(f"{path}/cgroup.procs", "w") as procs:
            procs.write(str(pid))

    try:
        yield put
    finally:
        kill_tree(path)
        remove_tree(path, 10.0)


def hopper_config(tmp_path: Path, tag: str, hop: float) -> Path:
    script = tmp_path / "hopper.py"
    script.write_text(HOPPER)
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[watchers.hop]
cmd = ["sh", "-c", "{sys.executable} {script} {hop} & echo up; exec sleep 300"]
graceful_timeout = 1
env = {{ TEST_TAG = "{tag}" }}
"""
    )
    return config


def hopping(tag: str) -> bool:
    """The hopper is out and changing pids (at least two distinct pids seen besides the sleep)."""
    seen: set[int] = set()
    for _ in range(20):
        seen.update(tagged_pids(tag))
    return len(seen) >= 3


@pytest.mark.skipif(NO_CGROUPS is not None, reason=f"cgroup v2 not writable: {NO_CGROUPS}")
@pytest.mark.parametrize("how", ["clean-exit", "sigkill"])
def test_a_pid_hopping_child_does_not_survive_tuiman(
    tmp_path: Path, tag: str, how: str, trap: Callable[[int], None]
) -> None:
    with headless(hopper_config(tmp_path, tag, 0.001), tag=tag) as run:
        trap(run.pid)
        run.wait_line(lambda line: line.endswith("| up"))
        wait_until_sync(lambda: hopping(tag), timeout=60)
        if how == "clean-exit":
            run.send(signal.SIGTERM)
            assert run.wait(30) == 0, "\n".join(run.err)
        else:
            run.send(signal.SIGKILL)
            run.wait(10)
        wait_until_sync(lambda: tagged_pids(tag) == [], timeout=3.0)
        assert not any("cgroups: off" in line for line in run.err)


@pytest.mark.skipif(NO_CGROUPS is not None, reason=f"cgroup v2 not writable: {NO_CGROUPS}")
def test_a_pid_hopping_child_does_not_survive_its_watchers_stop(
    tmp_path: Path, tag: str, trap: Callable[[int], None]
) -> None:
    config = hopper_config(tmp_path, tag, 0.001)
    with headless(config, "--json", tag=tag) as run:
        trap(run.pid)
        wait_until_sync(lambda: hopping(tag), timeout=60)
        stopped = subprocess.run(
            [*TUIMAN, "ctl", "-c", str(config), "stop", "hop", "--wait"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stopped.returncode == 0, stopped.stderr
        assert tagged_pids(tag) == []
        run.send(signal.SIGTERM)
        assert run.wait(30) == 0


@pytest.mark.skipif(NO_CGROUPS is None, reason="cgroup v2 is writable here: the escapees test runs")
def test_without_cgroups_tuiman_says_so(tmp_path: Path, tag: str) -> None:
    with headless(hopper_config(tmp_path, tag, 0.5), tag=tag) as run:
        run.wait_line(lambda line: line.startswith("cgroups: off"), stream="err")
        run.send(signal.SIGTERM)
        assert run.wait(30) == 0


EXHAUSTING_HOOKS = """
import resource

LIMIT = []

def exhaust(watcher, arbiter, **kwargs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    LIMIT.append(soft)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))  # every new fd fails with EMFILE
    return True

def restore(watcher, arbiter, **kwargs):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT.pop(), hard))
    return True
"""


def test_a_sweep_that_cannot_look_says_so(tmp_path: Path, tag: str) -> None:
    module = write_hook_module(tmp_path, EXHAUSTING_HOOKS)
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[watchers.once]
cmd = ["sh", "-c", "setsid sleep 300 & echo up"]
respawn = false
env = {{ TEST_TAG = "{tag}" }}
hooks = {{ before_stop = "{module}.exhaust", after_stop = "{module}.restore" }}

[watchers.keep]
cmd = "sleep 300"
env = {{ TEST_TAG = "{tag}" }}
"""
    )
    with headless(config, json=True, tag=tag) as run:
        line = run.wait_line(lambda line: '"kind": "sweep_failed"' in line)
        event = json.loads(line)
        assert event["watcher"] == "once"
        assert "Too many open files" in event["error"]
        run.send(signal.SIGTERM)
        assert run.wait(30) == 0, "\n".join(run.err)
        assert "Traceback" not in "\n".join(run.err)


TIMED_OUT_HOOK = """
import os, subprocess

def runs_long(watcher, arbiter, **kwargs):
    subprocess.run(["sleep", "300"], env={**os.environ, "TEST_TAG": os.environ["HOOK_TAG"]})
    return True
"""


# Without cgroups nothing marks a hook's own subprocess: a known limit (docs/reliability.md).
@pytest.mark.skipif(NO_CGROUPS is not None, reason=f"cgroup v2 not writable: {NO_CGROUPS}")
def test_the_subprocess_of_a_timed_out_hook_dies_with_tuiman(tmp_path: Path, tag: str) -> None:
    module = write_hook_module(tmp_path, TIMED_OUT_HOOK)
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[watchers.svc]
cmd = "sleep 300"
env = {{ TEST_TAG = "{tag}-svc" }}
hooks = {{ after_start = {{ path = "{module}.runs_long", timeout = 0.5, ignore_failure = true }} }}
"""
    )
    with headless(config, json=True, tag=tag, env={"HOOK_TAG": tag}) as run:
        run.wait_line(lambda line: '"kind": "hook_failure"' in line and "timed out" in line)
        assert len(tagged_pids(tag)) == 1  # the hook's sleep, still running
        run.send(signal.SIGTERM)
        assert run.wait(30) == 0, "\n".join(run.err)
        wait_until_sync(lambda: tagged_pids(tag) == [], timeout=2.0)
        assert tagged_pids(f"{tag}-svc") == []

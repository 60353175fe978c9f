"""Spawn failures of any kind
(docs/reliability.md#a-spawn-that-fails-is-an-event-never-a-stuck-start).

A resource limit the kernel refuses fails in the child, between fork and exec, where Popen can
only raise "Exception occurred in preexec_fn" (not an OSError). That used to escape the spawn
and leave the watcher in `starting` for good, with no event, and the lower priorities never
started. Now `check` refuses the limits the kernel would refuse, and whatever still fails at
spawn time is a spawn error event on that watcher, which then retries and gives up.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import TUIMAN
from tests.support.core import make_config, next_event, stop_arbiter
from tests.support.procs import tagged_pids
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

pytestmark = pytest.mark.timeout(60)

NR_OPEN = int(Path("/proc/sys/fs/nr_open").read_text())


def can_raise_hard_limits() -> bool:
    """Root with CAP_SYS_RESOURCE (a container's root often lacks it)."""
    status = Path("/proc/self/status").read_text()
    effective = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    return os.geteuid() == 0 and bool(int(effective.split()[1], 16) >> 24 & 1)


@pytest.mark.parametrize("limit", ['"unlimited"', "-1", str(NR_OPEN + 1)])
def test_check_refuses_an_open_files_limit_the_kernel_refuses(tmp_path: Path, limit: str) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text(f'[watchers.web]\ncmd = "sleep 300"\nrlimits = {{ nofile = {limit} }}\n')
    result = subprocess.run(
        [*TUIMAN, "check", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "watchers.web.rlimits.nofile" in lines[0]
    assert "fs.nr_open" in lines[0]


async def test_a_limit_refused_in_the_child_is_a_spawn_error_event(
    tmp_path: Path, tag: str
) -> None:
    config = make_config(
        tmp_path,
        f"""
        [watchers.web]
        cmd = "sleep 300"
        priority = 10
        max_retry = 1
        env = {{ TEST_TAG = "{tag}" }}

        [watchers.after]
        cmd = "sleep 300"
        priority = 1
        env = {{ TEST_TAG = "{tag}" }}
        """,
    )
    # What `check` now refuses, forced past it: the child's setrlimit fails after the fork.
    web = dataclasses.replace(config.watchers[0], rlimits={"nofile": resource.RLIM_INFINITY})
    arbiter = Arbiter(dataclasses.replace(config, watchers=(web, config.watchers[1])))
    arbiter.bind()
    events = arbiter.bus.subscribe(maxsize=10_000, snapshot=False)
    try:
        await arbiter.start()
        error = await next_event(events, Kind.SPAWN_ERROR, "web")
        assert error.payload["error"].startswith("could not set rlimit nofile = unlimited: ")
        await next_event(events, Kind.FAILED, "web")
        assert arbiter.get("web").state == WatcherState.FAILED
        # The level below was not held back, and nothing of `web` runs.
        assert arbiter.get("after").state == WatcherState.ACTIVE
        await wait_until(lambda: len(tagged_pids(tag)) == 1)
    finally:
        await stop_arbiter(arbiter)
    assert tagged_pids(tag) == []


@pytest.mark.skipif(not can_raise_hard_limits(), reason="needs root with CAP_SYS_RESOURCE")
async def test_root_raises_a_limit_for_a_watcher_that_drops_to_another_user(
    arbiter_factory: Any, tag: str
) -> None:
    # The limit is set before the child drops to `nobody`, who could not raise it itself.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    wanted = min(hard + 1000, NR_OPEN)
    arbiter = arbiter_factory(
        f"""
        [watchers.web]
        cmd = "sleep 300"
        uid = "nobody"
        rlimits = {{ nofile = {wanted} }}
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    await arbiter.start()
    (pid,) = await wait_until(lambda: tagged_pids(tag))
    limits = Path(f"/proc/{pid}/limits").read_text()
    open_files = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert open_files.split()[3:5] == [str(wanted), str(wanted)]
    assert os.stat(f"/proc/{pid}").st_uid != 0

"""The spawner thread (docs/supervision.md#spawn): plain spawns run on a thread with its own fd
table, working directory and umask. What the children get is the watcher's; tuiman's own
directory, umask and descriptors stay as they were."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from tests.support.procs import fd_count
from tests.support.waiting import wait_until

REPORT = """
import json, os, sys
fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
mask = os.umask(0); os.umask(mask)
seen = {"cwd": os.getcwd(), "umask": mask, "fds": fds}
with open(sys.argv[1] + "." + os.environ["WID"], "w") as out:
    json.dump(seen, out)
"""


async def test_plain_spawns_get_the_watchers_directory_and_umask_and_nothing_else(
    arbiter_factory: Any, tmp_path: Path, tag: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    out = tmp_path / "out"
    cwd, mask = os.getcwd(), os.umask(0o022)
    os.umask(mask)
    fds = fd_count()
    arbiter = arbiter_factory(
        f"""
        [watchers.plain]
        cmd = ["python3", "{script}", "{out}"]
        numprocesses = 3
        working_dir = "{work}"
        umask = "077"
        respawn = false
        env = {{ TEST_TAG = "{tag}", WID = "$(tuiman.wid)" }}
        """
    )
    await arbiter.start()
    await wait_until(lambda: all(Path(f"{out}.{wid}").exists() for wid in (1, 2, 3)))
    await wait_until(lambda: not any(p.alive for p in arbiter.get("plain").processes.values()))
    for wid in (1, 2, 3):
        seen = json.loads(Path(f"{out}.{wid}").read_text())  # written by a process now gone
        assert seen["cwd"] == str(work)
        assert seen["umask"] == 0o077
        assert seen["fds"][:3] == [0, 1, 2] and len(seen["fds"]) <= 4  # +1: listdir's own
    assert "tuiman-spawner" in [thread.name for thread in threading.enumerate()]
    # the spawner's own directory and umask are its own: tuiman's are untouched
    assert os.getcwd() == cwd
    assert os.umask(mask) == mask
    await wait_until(lambda: fd_count() <= fds + 2, timeout=5)  # pipes close 1 s after exit

"""`tuiman attach`: the UI drives a real headless tuiman through its control socket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.procs import alive, kill_quietly
from tests.support.procs import tagged_pids as tagged_children
from tests.support.waiting import wait_until
from tests.ui.uihelpers import watcher_cell
from tuiman.client.remote import RemoteClient
from tuiman.ui.app import TuimanApp

pytestmark = pytest.mark.timeout(60)


def state_cell(app: TuimanApp) -> str | None:
    try:
        return watcher_cell(app, "sleeper", "state")
    except Exception:  # the row is not there yet
        return None


async def test_a_key_in_the_attached_ui_stops_a_headless_watcher(tmp_path: Path) -> None:
    tag = f"attach-{os.getpid()}"
    socket_path = tmp_path / "ctl.sock"
    config = tmp_path / "tuiman.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [tuiman]
            control_socket = "{socket_path}"
            [watchers.sleeper]
            cmd = "sleep 300"
            numprocesses = 2
            graceful_timeout = 3
            env = {{ TEST_TAG = "{tag}" }}
            """
        )
    )
    instance = subprocess.Popen(
        [sys.executable, "-m", "tuiman", "--headless", "--no-output", "-c", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        await wait_until(
            lambda: socket_path.exists() and len(tagged_children(tag)) == 2,
            timeout=20,
            what="the headless instance up with its two children",
        )
        children = tagged_children(tag)
        client = await RemoteClient.connect(socket_path)
        try:
            app = TuimanApp(client)
            async with app.run_test(size=(120, 36)) as pilot:
                await wait_until(lambda: state_cell(app) == "active", pause=pilot.pause)
                await pilot.press("x")
                await wait_until(
                    lambda: not any(alive(pid) for pid in children), timeout=15, pause=pilot.pause
                )
                await wait_until(lambda: state_cell(app) == "stopped", pause=pilot.pause)
                await pilot.press("q")  # detach: the instance keeps running
                await wait_until(lambda: not app.is_running, what="the app detached")
            assert app.return_code in (None, 0)
        finally:
            await client.aclose()
        assert instance.poll() is None, "detaching must leave the instance running"
        instance.send_signal(signal.SIGTERM)
        assert instance.wait(timeout=20) == 0
    finally:
        kill_quietly(instance.pid)
        for pid in tagged_children(tag):
            kill_quietly(pid)

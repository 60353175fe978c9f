"""Pilot tests of the output pane and the hook log as people work in them: following a slot
across restarts, a paused view that holds still, the hook log's follow state."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.procs import alive
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, ready_pids, running, sleeper_toml

pytestmark = pytest.mark.timeout(60)


async def test_the_output_pane_follows_the_slot_to_its_new_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        screen = app.main
        await wait_until(lambda: screen.processes_table.row_count == 2, pause=pilot.pause)
        await pilot.press("tab")
        await wait_until(lambda: screen.process_focused, pause=pilot.pause)
        first = screen.processes_table.selected_pid
        assert first is not None and screen.output_pid == first
        await wait_until(lambda: first in ready_pids(app, "sleeper"), pause=pilot.pause)
        wid = app.model.watchers["sleeper"].processes[first].wid

        # r on the process: a graceful restart in the same slot
        await pilot.press("r")
        await wait_until(
            lambda: screen.output_pid not in (None, first), pause=pilot.pause, what="followed"
        )
        second = screen.output_pid
        assert second is not None and app.model.watchers["sleeper"].processes[second].wid == wid
        assert screen.processes_table.selected_pid == second
        title = str(screen.output_panel.border_title)
        assert f"pid {second} replaced {first}" in title, title
        # the pane shows the slot: the old process' lines stay above the new one's
        await wait_until(lambda: second in ready_pids(app, "sleeper"), pause=pilot.pause)
        await wait_until(
            lambda: {first, second} <= {e.pid for e in screen.output.items}, pause=pilot.pause
        )
        assert {e.wid for e in screen.output.items} == {wid}

        # a crash: respawned by the policy, followed the same way
        os.kill(second, signal.SIGKILL)
        await wait_until(
            lambda: screen.output_pid not in (None, second), pause=pilot.pause, what="respawn"
        )
        third = screen.output_pid
        assert third is not None and alive(third) and third in live_pids(arbiter, "sleeper")
        assert f"pid {third} replaced {second}" in str(screen.output_panel.border_title)
        assert screen.processes_table.selected_pid == third

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
from tests.ui.scripted import FROZEN, ScriptedClient
from tests.ui.test_attach_and_mouse import scripted, settled
from tests.ui.uihelpers import live_pids, make_app, ready_pids, running, sleeper_toml
from tuiman.ui.log_entries import LogEntry, Outcome
from tuiman.ui.model import OUTPUT_KEEP as OUTPUT_LINES
from tuiman.ui.model import OutputEntry

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


def lines(count: int, start: int = 0) -> list[OutputEntry]:
    return [
        OutputEntry(FROZEN, "web", 4101, 1, "stdout", f"line {n}")
        for n in range(start, start + count)
    ]


async def test_a_paused_output_holds_still_when_the_ring_is_full_and_says_what_arrived(
    tmp_path: Path,
) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(app, pilot)
        screen, output = app.main, app.main.output
        output.replace(lines(OUTPUT_LINES))  # the pane keeps no more than this
        await pilot.pause()
        output.focus()
        await pilot.press("home")  # to the oldest line kept: paused
        await wait_until(lambda: not output.follow and output.scroll_y == 0, pause=pilot.pause)
        top = output.items[0]
        screen.output_panel.append_new(lines(300, OUTPUT_LINES), "web", None)
        await pilot.pause()
        assert output.items[0] is top and output.scroll_y == 0  # nothing moved
        subtitle = str(screen.output_panel.border_subtitle)
        assert "paused · 300 new, 300 oldest will drop · end to follow" in subtitle, subtitle
        assert f"keeps {OUTPUT_LINES} lines" in subtitle
        await pilot.press("end")
        await wait_until(lambda: output.follow, pause=pilot.pause)
        assert output.items[-1].text == f"line {OUTPUT_LINES + 299}"
        assert output.line_count == OUTPUT_LINES
        screen.output_panel.update_status()
        assert str(screen.output_panel.border_subtitle).startswith("following")


def log_entry(n: int, outcome: Outcome) -> LogEntry:
    return LogEntry(FROZEN + n, "web", f"event {n}", None, outcome, None, "")


async def test_the_hook_log_says_paused_and_h_keeps_the_position(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(app, pilot)
        log = app.main.hook_log
        # every third row a hook call, the others events
        log.append(log_entry(n, Outcome.OK if n % 3 == 0 else Outcome.INFO) for n in range(600))
        await pilot.pause()
        log.focus()
        for _ in range(20):
            await pilot.press("pageup")
        await wait_until(lambda: not log.follow, pause=pilot.pause)
        subtitle = str(app.main.hooks_panel.border_subtitle)
        assert subtitle.startswith("paused · end to follow"), subtitle
        log.append([log_entry(1000, Outcome.OK)])
        await pilot.pause()
        assert "paused · 1 new" in str(app.main.hooks_panel.border_subtitle)
        if log.items[int(log.scroll_y)].outcome == Outcome.OK:
            await pilot.press("up")  # the reader's top row is an event, not a hook call
            await pilot.pause()
        top = log.items[int(log.scroll_y)]
        assert top.outcome == Outcome.INFO
        await pilot.press("h")  # hooks only: the view stays where the reader was
        await pilot.pause()
        assert not log.follow
        shown = log.items[int(log.scroll_y)]
        assert shown.outcome == Outcome.OK and top.time < shown.time <= top.time + 3
        await pilot.press("h")  # everything again: back at the same row
        await pilot.pause()
        assert not log.follow
        assert abs(log.items[int(log.scroll_y)].time - shown.time) < 1e-6
        await pilot.press("end")
        await wait_until(lambda: log.follow, pause=pilot.pause)
        assert str(app.main.hooks_panel.border_subtitle).startswith("following")


async def test_a_hook_call_that_starts_and_ends_in_one_batch_is_one_row(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 30)) as pilot:
        await settled(app, pilot)
        log = app.main.hook_log
        call = ("web", "after_spawn", 4101)
        started = LogEntry(FROZEN, "web", "after_spawn", 4101, Outcome.RUNNING, None, "", call)
        done = LogEntry(FROZEN + 0.001, "web", "after_spawn", 4101, Outcome.OK, 0.001, "", call)
        before = log.line_count
        log.append([started, done])
        await pilot.pause()
        assert log.line_count == before + 1 and log.items[-1] is done
        log.append([started])  # a live row, then its outcome in a later batch
        log.append([log_entry(1, Outcome.INFO), done])
        await pilot.pause()
        assert [e.outcome for e in list(log.items)[-2:]] == [Outcome.OK, Outcome.INFO]
        assert not any(e.outcome == Outcome.RUNNING for e in log.items)

"""Pilot tests of moving around: Home/End/g/G in the tables, a filter that gives the selection
back, a filter matching nothing, and Enter to read a watcher's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.waiting import wait_until
from tests.ui.scripted import ScriptedClient
from tests.ui.test_attach_and_mouse import scripted, settled

pytestmark = pytest.mark.timeout(30)


async def test_home_end_g_and_shift_g_move_the_cursor_in_both_tables(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        screen = app.main
        await pilot.press("G")
        assert screen.selected == "cron"
        await pilot.press("g")
        assert screen.selected == "web"
        await pilot.press("end")
        assert screen.selected == "cron"
        await pilot.press("home")
        assert screen.selected == "web"
        await pilot.press("down", "tab")  # worker's processes: 4201, 4233, 4203
        await wait_until(lambda: screen.process_focused, pause=pilot.pause)
        await pilot.press("G")
        assert screen.processes_table.selected_pid == 4203
        await pilot.press("home")
        assert screen.processes_table.selected_pid == 4201


async def test_a_filter_gives_the_selection_back_and_one_matching_nothing_hides_actions(
    tmp_path: Path,
) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        screen = app.main
        await pilot.press("G")  # cron
        await pilot.press("slash", "w")  # hides cron: web or worker is selected meanwhile
        await pilot.pause()
        assert screen.selected in ("web", "worker")
        await pilot.press("escape")  # cleared: cron again
        await pilot.pause()
        assert screen.selected == "cron"
        assert screen.watchers_table.selected_key == "cron"

        await pilot.press("slash", *"zzz")
        await pilot.pause()
        assert screen.selected is None
        shown = {active.binding.id for active in screen.active_bindings.values()}
        for action in ("start", "stop", "restart", "signal", "scale-up", "scale-down"):
            assert action not in shown, action
        assert screen.check_action("start", ()) is False
        await pilot.press("escape")
        await pilot.pause()
        assert screen.selected == "cron"
        shown = {active.binding.id for active in screen.active_bindings.values()}
        assert "start" in shown


async def test_enter_on_a_watcher_focuses_its_output(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        screen = app.main
        await pilot.press("down")
        assert screen.focused is screen.watchers_table
        await pilot.press("enter")
        await wait_until(lambda: screen.focused is screen.output, pause=pilot.pause)
        assert screen.selected == "worker"
        assert str(screen.output_panel.border_title) == "output · worker"


async def test_a_watcher_left_and_come_back_to_keeps_its_process_cursor(tmp_path: Path) -> None:
    """The processes table keeps a watcher's rows aside while another is shown
    (LiveTable.switch): back on it, the cursor is on the process it was on."""
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        screen = app.main
        table = screen.processes_table
        await pilot.press("home", "down", "tab")  # worker's processes: 4201, 4233, 4203
        await wait_until(lambda: screen.process_focused, pause=pilot.pause)
        await pilot.press("G")
        assert table.selected_pid == 4203
        await pilot.press("shift+tab")
        await wait_until(lambda: screen.focused is screen.watchers_table, pause=pilot.pause)
        await pilot.press("up")  # web: its own two processes, the cursor on the first
        assert screen.selected == "web"
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == ["4101", "4102"]
        assert table.selected_pid == 4101
        await pilot.press("down")  # worker again
        assert screen.selected == "worker"
        await pilot.pause()
        assert [row.key.value for row in table.ordered_rows] == ["4201", "4233", "4203"]
        assert table.selected_pid == 4203
        assert "4203" in table.render_line(3).text  # drawn, not only listed (header on line 0)

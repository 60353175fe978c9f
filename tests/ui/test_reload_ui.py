"""Pilot tests of ctrl+r: an added watcher's row is complete and in place, and both an applied
and a refused reload are written to the event log in plain words, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, running, sleeper_toml, watcher_cell
from tuiman.ui.app import TuimanApp

pytestmark = pytest.mark.timeout(60)


def event_log(app: TuimanApp) -> list[tuple[str, str]]:
    return [(e.label, e.detail) for e in app.main.hook_log.items if e.watcher == "tuiman"]


async def test_ctrl_r_adds_a_complete_row_in_place_and_logs_both_outcomes(tmp_path: Path) -> None:
    toml = sleeper_toml(tmp_path, numprocesses=1)
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        config = tmp_path / "tuiman.toml"
        config.write_text(
            toml
            + '\n[watchers.early]\ncmd = "sleep 300"\nnumprocesses = 2\npriority = 9\n'
            + "autostart = false\n"
        )
        await pilot.press("ctrl+r")
        await wait_until(lambda: "early" in app.model.watchers, pause=pilot.pause)
        table = app.main.watchers_table
        # a higher priority starts first: the row sorts above sleeper, complete at once
        await wait_until(
            lambda: [str(row.key.value) for row in table.ordered_rows] == ["early", "sleeper"],
            pause=pilot.pause,
        )
        assert watcher_cell(app, "early", "running") == "0/2"
        assert watcher_cell(app, "early", "priority") == "9"
        assert watcher_cell(app, "early", "info") == "autostart off"
        await pilot.press("up")
        await wait_until(lambda: app.main.selected == "early", pause=pilot.pause)
        assert app.main.check_action("scale", (-1,)) is True  # `-` is not dimmed
        assert "sleep 300" in str(app.main.processes_panel.border_subtitle)
        await wait_until(
            lambda: ("config reloaded", "added early") in event_log(app), pause=pilot.pause
        )
        assert not any("[" in detail for _, detail in event_log(app))  # no Python repr

        config.write_text(toml + "\nbogus = 1\n[watchers.broken]\nnumprocesses = -1\n")
        await pilot.press("ctrl+r")
        await wait_until(
            lambda: ("config refused", "everything keeps running") in event_log(app),
            pause=pilot.pause,
        )
        errors = [detail for label, detail in event_log(app) if label == "config error"]
        assert errors and all(detail and "\n" not in detail for detail in errors)
        assert any("bogus" in detail for detail in errors), errors
        assert "early" in arbiter.watchers

"""Scale to N (`n`): the dialog sets the watcher's number of processes on the real core."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, running, sleeper_toml
from tuiman.ui.screens.scale_to import ScaleToScreen, parse_count

pytestmark = pytest.mark.timeout(60)


def test_only_whole_numbers_are_accepted() -> None:
    assert parse_count(" 12 ") == 12
    assert parse_count("0") == 0
    assert parse_count("") == "type a number of processes"
    assert parse_count("-1") == "'-1' is not a whole number ≥ 0"
    assert parse_count("٣") == "'٣' is not a whole number ≥ 0"  # a digit, but not 0-9


async def test_n_scales_the_selected_watcher_to_the_number_typed(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        await pilot.press("n")
        await wait_until(lambda: isinstance(app.screen, ScaleToScreen), pause=pilot.pause)
        await pilot.press("4", "enter")  # the current count is selected: typing replaces it
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 4, pause=pilot.pause)
        assert not isinstance(app.screen, ScaleToScreen)

        await pilot.press("n", "escape")  # cancelled: nothing changes
        await wait_until(lambda: not isinstance(app.screen, ScaleToScreen), pause=pilot.pause)
        assert arbiter.watchers["sleeper"].numprocesses == 4

        await pilot.press("n", "1", "enter")
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        await wait_until(lambda: app.model.watchers["sleeper"].numprocesses == 1)

"""The dialogs `k`, `i` and `n` are built once and pushed again: each opening shows what is
selected now, with nothing left over from the last one (docs/ui.md#responsiveness)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, running
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.info import InfoScreen
from tuiman.ui.screens.scale_to import ScaleToScreen
from tuiman.ui.screens.signal_picker import SIGNALS, SignalPicker

pytestmark = pytest.mark.timeout(60)
SLEEP = shutil.which("sleep") or "/bin/sleep"

TWO_WATCHERS = f"""
[watchers.alpha]
cmd = [{SLEEP!r}, "3600"]
[watchers.beta]
cmd = [{SLEEP!r}, "3600"]
numprocesses = 3
"""


def known_processes(app: TuimanApp) -> dict[str, int]:
    return {name: len(view.processes) for name, view in app.model.watchers.items()}


def shown(screen: object, selector: str) -> str:
    assert hasattr(screen, "query_one")
    return str(screen.query_one(selector, Static).render())


async def test_each_opening_shows_the_selection_of_now(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, TWO_WATCHERS)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "beta")) == 3, pause=pilot.pause)
        # `k` acts on processes the UI knows of: wait until both watchers' have reached it
        await wait_until(lambda: known_processes(app) == {"alpha": 1, "beta": 3}, pause=pilot.pause)
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        first = app.screen
        assert "every process of alpha" in shown(first, "#signal-question")
        await pilot.press("h", "u")  # a filter typed, then cancelled
        await wait_until(lambda: first.query_one(OptionList).option_count < len(SIGNALS))
        await pilot.press("escape", "down", "k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        picker = app.screen
        assert picker is first  # the same screen, refilled
        assert "every process of beta" in shown(picker, "#signal-question")
        assert picker.query_one(Input).value == ""
        options = picker.query_one(OptionList)
        await wait_until(lambda: options.option_count == len(SIGNALS), pause=pilot.pause)
        assert options.highlighted == 0
        assert picker.focused is picker.query_one(Input)

        await pilot.press("escape", "n")
        await wait_until(lambda: isinstance(app.screen, ScaleToScreen), pause=pilot.pause)
        assert "Scale beta to how many processes? (now 3)" in shown(app.screen, "#scale-question")
        await pilot.press("x", "escape", "up", "n")  # not a digit: refused, then cancelled
        await wait_until(lambda: isinstance(app.screen, ScaleToScreen), pause=pilot.pause)
        assert "Scale alpha to how many processes? (now 1)" in shown(app.screen, "#scale-question")
        assert app.screen.query_one("#count", Input).value == "1"
        await pilot.press("escape", "i")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        assert "alpha  (escape closes)" in shown(app.screen, "#info-title")
        await pilot.press("escape", "down", "i")
        await wait_until(
            lambda: isinstance(app.screen, InfoScreen) and app.screen.title_text == "beta",
            pause=pilot.pause,
        )
        info = app.screen
        assert isinstance(info, InfoScreen)
        assert "beta  (escape closes)" in shown(info, "#info-title")
        lines = [line.text for _, section in info.sections for line in section]
        assert "3 running of 3" in lines  # beta's, not alpha's (1 of 1)

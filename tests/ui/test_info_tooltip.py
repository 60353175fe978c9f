"""The watchers table's info column: its full text as a tooltip under the mouse."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from textual.screen import Screen
from textual.widgets._tooltip import Tooltip

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import make_app, running
from tuiman.core.states import WatcherState
from tuiman.ui.widgets.tables import WatchersTable

pytestmark = pytest.mark.timeout(60)


def _tooltip_text(screen: Screen[object]) -> str | None:
    shown = [tip for tip in screen.query(Tooltip) if tip.display]
    return str(shown[0].render()) if shown else None


def _info_x(table: WatchersTable) -> int:
    """The first cell of the info column, from the table's left edge."""
    x = 0
    for spec in table.specs:
        if spec.key == "info":
            return x + 2
        x += spec.width
    raise AssertionError("no info column")


async def test_hovering_the_info_cell_shows_the_whole_reason(tmp_path: Path) -> None:
    missing = tmp_path / ("a-directory-whose-name-is-far-too-long-for-the-info-column-" * 2)
    toml = textwrap.dedent(
        f"""
        [watchers.api]
        cmd = ["sleep", "60"]
        working_dir = {str(missing)!r}
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app, size=(200, 40), tooltips=True) as pilot:
        await wait_until(
            lambda: app.model.watchers["api"].state == WatcherState.FAILED,
            pause=pilot.pause,
            what="the start failed",
        )
        table = app.main.query_one("#watchers", WatchersTable)
        reason = app.main.watchers_table._shown["api"][-1][0]
        assert str(missing) in reason and len(reason) > 60  # the column cuts it
        await pilot.hover("#watchers", offset=(_info_x(table), 1))
        await wait_until(
            lambda: _tooltip_text(app.screen) == reason,
            pause=pilot.pause,
            what="the tooltip shows the whole reason",
        )
        await pilot.hover("#watchers", offset=(1, 1))  # the name column: no tooltip
        await wait_until(
            lambda: _tooltip_text(app.screen) is None, pause=pilot.pause, what="tooltip gone"
        )

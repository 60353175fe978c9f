"""The main screen's footer: redrawn when its keys change, not while a dialog covers it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import has_processes, make_app, running, sleeper_toml
from tuiman.ui.screens.signal_picker import SignalPicker
from tuiman.ui.widgets.footer import QuietFooter

pytestmark = pytest.mark.timeout(60)


def keys(footer: QuietFooter) -> list[FooterKey]:
    return list(footer.query(FooterKey))


async def test_a_dialog_leaves_the_footer_as_it_was(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: app.bridge is not None and has_processes(app), pause=pilot.pause)
        footer = app.main.query_one(QuietFooter)
        await wait_until(lambda: keys(footer), pause=pilot.pause)
        await pilot.pause()  # whatever the change set off is handled
        before = keys(footer)
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await pilot.pause()  # whatever the change set off is handled
        await pilot.press("escape")
        await wait_until(lambda: app.screen is app.main, pause=pilot.pause)
        await pilot.pause()  # whatever the change set off is handled
        assert keys(footer) == before  # the same widgets: not recomposed, twice


async def test_the_footer_shows_the_keys_of_the_focused_pane(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: app.bridge is not None and has_processes(app), pause=pilot.pause)
        footer = app.main.query_one(QuietFooter)

        def actions() -> set[str]:
            return {key.action for key in keys(footer)}

        await wait_until(actions, pause=pilot.pause)
        assert "toggle_hooks_only" not in actions()
        app.main.hook_log.focus()
        await wait_until(lambda: "toggle_hooks_only" in actions(), pause=pilot.pause)

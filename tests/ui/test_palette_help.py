"""Pilot tests of the command palette (every action, no second Quit) and of `?` (every key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.scripted import ScriptedClient
from tests.ui.test_attach_and_mouse import scripted, settled
from tests.ui.uihelpers import (
    live_pids,
    make_app,
    palette_offers,
    running,
    sleeper_toml,
    wait_ready,
)
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.help import HelpScreen
from tuiman.ui.screens.quit_confirm import QuitConfirmScreen

pytestmark = pytest.mark.timeout(60)


def offered(app: TuimanApp) -> list[str]:
    screen = app.screen
    if not isinstance(screen, CommandPalette):
        return []
    commands = screen.query_one(CommandList)
    return [
        str(commands.get_option_at_index(index).prompt).split("\n")[0]
        for index in range(commands.option_count)
    ]


async def search_palette(app: TuimanApp, pilot: Pilot[int], query: str, expect: str) -> list[str]:
    await pilot.press("ctrl+p", *query)
    await wait_until(lambda: palette_offers(app, expect), pause=pilot.pause)
    return offered(app)


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("reload config", "reload config file"),
        ("extended", "extended stats on/off"),
        ("filter", "filter watchers"),
        ("search output", "search output"),
        ("zoom", "zoom panel"),
        ("stop process 4101", "stop process 4101 (web wid 1)"),
        ("restart process 4102", "restart process 4102 (web wid 2)"),
        ("reload web", "reload web"),
        ("info worker", "info worker"),
    ],
)
async def test_the_palette_offers(tmp_path: Path, query: str, expect: str) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        await search_palette(app, pilot, query, expect)


async def test_the_palette_has_one_quit_and_it_asks(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        titles = await search_palette(app, pilot, "quit", "quit")
        assert [t for t in titles if t.lower() == "quit"] == ["quit"], titles
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, QuitConfirmScreen), pause=pilot.pause)


async def test_help_lists_the_pane_keys_and_the_mouse(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        await pilot.press("question_mark")
        await wait_until(lambda: isinstance(app.screen, HelpScreen), pause=pilot.pause)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = {key for key, _ in help_screen.bindings}
        for expected in ("h", "end", "up, down, pgup, pgdn", "enter, up / down", "mouse", "R"):
            assert expected in keys, (expected, keys)
        ids = {binding.id for _, binding in help_screen.bindings}
        assert {"info", "graceful-reload", "kill-now", "filter", "search", "zoom"} <= ids


async def test_shift_r_reloads_the_watcher_gracefully(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=2))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        old = set(await wait_ready(app, arbiter, "sleeper", 2, pilot))
        await pilot.press("R")
        await wait_until(
            lambda: (
                len(live_pids(arbiter, "sleeper")) == 2
                and not old & set(live_pids(arbiter, "sleeper"))
            ),
            pause=pilot.pause,
            what="two new processes, the old ones gone",
        )
        await wait_until(
            lambda: any(
                e.label == "reload" and e.watcher == "sleeper" for e in app.main.hook_log.items
            ),
            pause=pilot.pause,
            what="the reload event in the log",
        )

"""Sorting the tables (`o`, header clicks) and what the UI remembers in settings.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.support.waiting import wait_until
from tests.ui.scripted import FROZEN, LIVE, ScriptedClient
from tuiman.core.states import WatcherState
from tuiman.ui.app import TuimanApp
from tuiman.ui.preferences import Preferences, load_preferences, replace_table, save_preferences
from tuiman.ui.sorting import SortOrder, sort_watchers
from tuiman.ui.views import ProcessView, WatcherView

pytestmark = pytest.mark.timeout(30)


def view(name: str, cpu: float | None, state: WatcherState = WatcherState.ACTIVE) -> WatcherView:
    watcher = WatcherView(name, state=state, cpu=cpu)
    if cpu is not None:
        watcher.processes = {1: ProcessView(1, 1, "running", 0.0)}  # type: ignore[arg-type]
    return watcher


def test_o_cycles_and_a_second_header_click_reverses() -> None:
    order = SortOrder()
    seen = []
    for _ in range(6):
        order = order.next()
        seen.append(order.label)
    assert seen == [
        "by name ↑",
        "by state ↑",
        "by cpu ↓",
        "by memory ↓",
        "by restarts ↓",
        "config order",
    ]
    assert SortOrder().clicked("cpu") == SortOrder("cpu", True)
    assert SortOrder("cpu", True).clicked("cpu") == SortOrder("cpu", False)
    assert SortOrder("cpu", True).clicked("info") == SortOrder("cpu", True)  # not sortable


def test_numbers_sort_biggest_first_and_unknown_last_and_states_put_trouble_first() -> None:
    views = [
        view("idle", None, WatcherState.STOPPED),
        view("low", 1.0),
        view("high", 50.0),
        view("broken", None, WatcherState.FAILED),
    ]
    by_cpu = [v.name for v in sort_watchers(views, SortOrder.by("cpu"))]
    assert by_cpu == ["high", "low", "idle", "broken"]
    by_state = [v.name for v in sort_watchers(views, SortOrder.by("state"))]
    assert by_state == ["broken", "low", "high", "idle"]
    assert [v.name for v in sort_watchers(views, SortOrder())] == [v.name for v in views]


def test_saving_rewrites_only_the_ui_table(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    original = (
        '# my keys\n[keymap]\nquit = "ctrl+q"  # muscle memory\n\n'
        '[ui]\nsort = "name"\n\n[later]\nx = 1\n'
    )
    settings.write_text(original)
    assert save_preferences(settings, Preferences("nord", SortOrder.by("cpu"))) is None
    text = settings.read_text()
    assert text.startswith('# my keys\n[keymap]\nquit = "ctrl+q"  # muscle memory\n')
    assert text.endswith("[later]\nx = 1\n")
    data = tomllib.loads(text)
    assert data["ui"] == {"sort": "cpu", "sort_descending": True, "theme": "nord"}
    assert data["keymap"] == {"quit": "ctrl+q"}
    assert replace_table("", "ui", "[ui]\n") == "[ui]\n"
    assert replace_table("[keymap]\n", "ui", "[ui]\n") == "[keymap]\n\n[ui]\n"


def test_bad_preferences_are_warnings_and_defaults(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[ui]\nsort = "colour"\ntheme = 3\nsort_descending = "yes"\n')
    preferences, problems = load_preferences(settings)
    assert preferences == Preferences()
    assert problems == [
        f"{settings}: ui.theme: expected a theme name",
        f"{settings}: ui.sort: expected one of config, name, state, cpu, memory, restarts",
        f"{settings}: ui.sort_descending: expected true or false",
    ]


def scripted(settings: Path) -> TuimanApp:
    return TuimanApp(ScriptedClient(), settings=settings, clock=lambda: FROZEN)


async def settled(app: TuimanApp, pilot: Pilot[int]) -> None:
    await wait_until(lambda: app.bridge is not None and app.bridge.events >= len(LIVE))
    await pilot.pause()


def first_rows(app: TuimanApp, count: int) -> list[str]:
    table = app.main.watchers_table
    return [str(row.key.value) for row in table.ordered_rows][:count]


async def test_o_sorts_by_cpu_and_the_next_session_starts_sorted(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    app = scripted(settings)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        assert first_rows(app, 2) == ["web", "worker"]  # config order
        await pilot.press("o", "o", "o")
        await wait_until(lambda: first_rows(app, 2) == ["worker", "web"], pause=pilot.pause)
        assert "by cpu ↓" in app.main.watchers_panel.border_title  # type: ignore[operator]
    assert tomllib.loads(settings.read_text())["ui"]["sort"] == "cpu"

    again = scripted(settings)
    async with again.run_test(size=(120, 36)) as pilot:
        await settled(again, pilot)
        assert first_rows(again, 2) == ["worker", "web"]


async def test_clicking_a_header_sorts_by_that_column(tmp_path: Path) -> None:
    app = scripted(tmp_path / "settings.toml")
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        table = app.main.watchers_table
        x = sum(column.get_render_width(table) for column in list(table.columns.values())[:5])
        await pilot.click(table, offset=(x + 1, 0))  # the cpu header
        await wait_until(lambda: first_rows(app, 2) == ["worker", "web"], pause=pilot.pause)
        await pilot.click(table, offset=(x + 1, 0))  # again: smallest first
        await wait_until(lambda: first_rows(app, 1) != ["worker"], pause=pilot.pause)
        assert app.main.table_order == SortOrder("cpu", False)


async def test_a_chosen_theme_is_remembered(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    app = scripted(settings)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        app.theme = "nord"
        await pilot.pause()
    assert tomllib.loads(settings.read_text())["ui"]["theme"] == "nord"
    again = scripted(settings)
    async with again.run_test(size=(120, 36)) as pilot:
        await settled(again, pilot)
        assert again.theme == "nord"

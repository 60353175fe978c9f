"""SVG snapshots of the main screens, rendered from a scripted core (frozen pids and times).

Update them with `pytest tests/ui/test_snapshots.py --snapshot-update` after a deliberate change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.support.waiting import wait_until
from tests.ui.scripted import FROZEN, LIVE, ScriptedClient
from tuiman.ui.app import TuimanApp

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clock times in the hook log are local: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def scripted_app(tmp_path: Path) -> TuimanApp:
    return TuimanApp(ScriptedClient(), settings=tmp_path / "none.toml", clock=lambda: FROZEN)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every scripted event reached the widgets."""
    app = pilot.app
    assert isinstance(app, TuimanApp)
    await wait_until(
        lambda: app.bridge is not None and app.bridge.events >= len(LIVE),
        pause=pilot.pause,
        what="every scripted event through the bridge",
    )
    app.main.tick()  # CPU/RSS figures are drawn on the 1 s tick: draw them now
    await pilot.pause()


def then(*keys: str, blink: bool = False) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await pilot.pause()
        if not blink:
            for box in pilot.app.screen.query(Input):
                box.cursor_blink = False
        await pilot.pause()

    return run_before


def test_main_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=settle)


def test_main_screen_narrow(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(80, 24), run_before=settle)


def test_main_screen_large(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(200, 60), run_before=settle)


def test_hook_log_with_veto_and_failure(snap_compare: Any, tmp_path: Path) -> None:
    # tab twice: watchers -> processes -> hook log; z maximizes it.
    assert snap_compare(
        scripted_app(tmp_path), terminal_size=(120, 30), run_before=then("tab", "tab", "z")
    )


def test_signal_picker(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=then("k"))


def test_quit_progress(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=then("q", "y"))


def test_extended_stats_and_process_selection(snap_compare: Any, tmp_path: Path) -> None:
    # worker is the second watcher; e adds the hook's columns; tab selects its processes.
    run_before = then("down", "e", "tab", "down")
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 36), run_before=run_before)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(
        scripted_app(tmp_path), terminal_size=(120, 40), run_before=then("question_mark")
    )


def test_main_screen_tiny(snap_compare: Any, tmp_path: Path) -> None:
    """50 by 12: no hook log, nothing scrolled away or drawn over."""
    assert snap_compare(scripted_app(tmp_path), terminal_size=(50, 12), run_before=settle)


def test_quit_question(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(80, 24), run_before=then("q"))


def test_info_dialog(snap_compare: Any, tmp_path: Path) -> None:
    # web: its command, environment (secret masked by the core), policy and hooks in full.
    assert snap_compare(scripted_app(tmp_path), terminal_size=(120, 40), run_before=then("i"))


def test_scale_to_dialog(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(scripted_app(tmp_path), terminal_size=(100, 30), run_before=then("n"))

"""Readiness in the UI on a real core (docs/readiness.md): the ready columns appear, a
dependent waits, and D (and the palette) show the dependency tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import PYTHON, make_app, palette_offers, running
from tuiman.core.states import WatcherState
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.info import InfoScreen

# Says it accepts connections once the file named by argv[1] exists.
DB = textwrap.dedent(
    """
    import os, sys, time
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.05)
    print("accepting connections", flush=True)
    time.sleep(60)
    """
)


def stack(tmp_path: Path) -> str:
    (tmp_path / "db.py").write_text(DB)
    return textwrap.dedent(
        f"""
        [watchers.db]
        cmd = [{PYTHON!r}, {str(tmp_path / "db.py")!r}, {str(tmp_path / "go")!r}]
        [watchers.db.ready]
        log = "accepting connections"
        [watchers.web]
        cmd = "sleep 60"
        depends_on = {{ db = "ready" }}
        """
    )


def cell(app: TuimanApp, table: str, row: str, column: str) -> str:
    widget = getattr(app.main, table)
    return str(widget.get_cell(row, column))


def dependency_sections(app: TuimanApp) -> dict[str, list[str]]:
    screen = app.screen
    assert isinstance(screen, InfoScreen)
    return {heading: [line.text for line in lines] for heading, lines in screen.sections}


async def test_the_ready_column_and_the_dependency_view(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, stack(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(
            lambda: cell(app, "watchers_table", "web", "info") == "waiting for db (ready)",
            pause=pilot.pause,
        )
        assert cell(app, "watchers_table", "web", "ready") == "waiting"
        assert cell(app, "watchers_table", "db", "ready") in ("waiting", "probing")
        (tmp_path / "go").touch()
        await wait_until(lambda: arbiter.get("web").state == WatcherState.ACTIVE, pause=pilot.pause)
        await wait_until(
            lambda: cell(app, "watchers_table", "db", "ready") == "ready", pause=pilot.pause
        )
        await wait_until(
            lambda: cell(app, "watchers_table", "web", "ready") == "started", pause=pilot.pause
        )
        app.select_watcher("web")
        await pilot.pause()
        app.main.watchers_table.focus()
        await pilot.press("D")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        sections = dependency_sections(app)
        assert sections["web needs"] == ["  db [active, ready] (ready)"]
        assert sections["needed by"] == ["nothing"]
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, InfoScreen), pause=pilot.pause)
        await pilot.press("ctrl+p")
        await pilot.press(*"dependencies of db")
        await wait_until(lambda: palette_offers(app, "dependencies of db"), pause=pilot.pause)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        assert dependency_sections(app)["needed by"] == ["web (ready)"]

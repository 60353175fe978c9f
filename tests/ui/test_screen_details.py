"""Pilot tests of what the screen says about processes and watchers: a SIGSTOPped process,
a running process' previous exit, long names, reasons in full, stderr without colour."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.scripted import ScriptedClient
from tests.ui.test_attach_and_mouse import scripted, settled
from tests.ui.uihelpers import PYTHON, make_app, running, watcher_cell
from tuiman.ui.app import TuimanApp
from tuiman.ui.palette import Palette, palette_of
from tuiman.ui.screens.info import InfoScreen

pytestmark = pytest.mark.timeout(60)

LONG_NAME = "payments_reconciliation_worker_eu"
CHATTY = (
    "import sys, time\n"
    "print('to stdout', flush=True)\n"
    "print('to stderr', file=sys.stderr, flush=True)\n"
    "time.sleep(60)\n"
)


def process_cell(app: TuimanApp, pid: int, column: str) -> str:
    return str(app.main.processes_table.get_cell(str(pid), column))


async def test_stopped_long_named_and_stderr_are_told_apart(tmp_path: Path) -> None:
    toml = textwrap.dedent(
        f"""
        [watchers.{LONG_NAME}]
        cmd = [{PYTHON!r}, "-u", "-c", {CHATTY!r}]
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app, size=(120, 40)) as pilot:
        name_cell = await wait_until(lambda: watcher_cell(app, LONG_NAME, "name"))
        assert name_cell == LONG_NAME[:18] + "…"  # 19 cells, a blank before the next column
        screen = app.main
        await wait_until(lambda: screen.processes_table.row_count == 1, pause=pilot.pause)
        [pid] = list(arbiter.watchers[LONG_NAME].processes)
        await wait_until(
            lambda: {e.stream for e in screen.output.items} == {"stdout", "stderr"},
            pause=pilot.pause,
        )
        rendered = {
            e.stream: screen.output.render_item(e, 0, _palette(app)).plain
            for e in screen.output.items
        }
        assert rendered["stdout"].startswith(" 1│ ") and rendered["stderr"].startswith(" 1! ")
        os.kill(pid, signal.SIGSTOP)
        try:
            await wait_until(
                lambda: process_cell(app, pid, "state") == "stopped (T)",
                pause=pilot.pause,
                what="the SIGSTOPped process shown stopped",
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_until(lambda: process_cell(app, pid, "state") == "running", pause=pilot.pause)


def _palette(app: TuimanApp) -> Palette:
    return palette_of(app)


async def test_a_running_process_previous_exit_is_no_alarm_and_i_says_it_in_full(
    tmp_path: Path,
) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        screen = app.main
        await pilot.press("down")  # worker: slot 2 was killed (-9), pid 4233 runs in it now
        await wait_until(lambda: screen.processes_table.row_count == 3, pause=pilot.pause)
        exit_cell = screen.processes_table.get_cell("4233", "exit")
        assert exit_cell.plain == "KILL"
        assert exit_cell.style == _palette(app).muted  # not the error colour
        await pilot.press("tab", "down")  # pid 4233, in slot 2
        await wait_until(lambda: screen.processes_table.selected_pid == 4233, pause=pilot.pause)
        await pilot.press("i")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        lines = info_lines(app)
        assert ("last exit", "its slot's previous process: KILL") in lines
        assert ("wid 2", "KILL") in lines
        await pilot.press("escape", "shift+tab")
        await pilot.press("G", "up")  # mailer: failed, with its reason
        await pilot.press("i")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        assert ("now", "gave up: it kept crashing (flapping)") in info_lines(app)


def info_lines(app: TuimanApp) -> list[tuple[str, str]]:
    screen = app.screen
    assert isinstance(screen, InfoScreen)
    return [(line.label, line.text) for _, lines in screen.sections for line in lines]


async def test_the_run_column_holds_hundreds_of_processes(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, '[watchers.w]\ncmd = "sleep 60"\nnumprocesses = 100\n')
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app, size=(120, 40)) as pilot:
        table = app.main.watchers_table

        def drawn() -> str:
            return table.render_line(table.get_row_index("w") + 1 - table.scroll_offset.y).text

        await wait_until(lambda: "100/100 " in drawn(), pause=pilot.pause, timeout=30)

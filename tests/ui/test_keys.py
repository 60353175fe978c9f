"""Pilot tests against the real core: keys act on real child processes."""

from __future__ import annotations

import shutil
import textwrap
from functools import partial
from pathlib import Path

import pytest
from textual import events

from tests.support.core import build_arbiter
from tests.support.procs import alive
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, running, sleeper_toml, wait_ready, watcher_cell
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.confirm import ConfirmScreen
from tuiman.ui.screens.quit_confirm import QuitConfirmScreen
from tuiman.ui.screens.signal_picker import SignalPicker

pytestmark = pytest.mark.timeout(60)
SLEEP = shutil.which("sleep") or "/bin/sleep"

STUBBORN = """
[watchers.stubborn]
cmd = ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]
graceful_timeout = {graceful}
"""


async def test_x_stops_the_watchers_processes_and_s_starts_them(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pause=pilot.pause, what="2 processes"
        )
        first_pids = live_pids(arbiter, "sleeper")
        await wait_until(
            lambda: watcher_cell(app, "sleeper", "state") == "active", pause=pilot.pause
        )

        await pilot.press("x")
        await wait_until(
            lambda: not any(alive(pid) for pid in first_pids),
            pause=pilot.pause,
            what="processes gone",
        )
        await wait_until(lambda: arbiter.watchers["sleeper"].state == "stopped", pause=pilot.pause)
        await wait_until(
            lambda: watcher_cell(app, "sleeper", "state") == "stopped",
            pause=pilot.pause,
            what="screen",
        )
        assert watcher_cell(app, "sleeper", "running") == "0/2"

        await pilot.press("s")
        await wait_until(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pause=pilot.pause, what="restarted"
        )
        assert not set(live_pids(arbiter, "sleeper")) & set(first_pids)
        await wait_until(
            lambda: watcher_cell(app, "sleeper", "running") == "2/2", pause=pilot.pause
        )


async def test_s_starts_a_watcher_that_does_not_autostart(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, autostart=False))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: "sleeper" in app.model.watchers, pause=pilot.pause)
        assert live_pids(arbiter, "sleeper") == []
        await pilot.press("s")
        await wait_until(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pause=pilot.pause, what="started"
        )


async def test_k_then_hup_delivers_sighup_to_every_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    record = tmp_path / "signals.log"
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        pids = await wait_ready(app, arbiter, "sleeper", 2, pilot)
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await pilot.press("h", "u", "p", "enter")

        def recorded() -> set[str]:
            return set(record.read_text().splitlines()) if record.exists() else set()

        await wait_until(
            lambda: recorded() == {f"SIGHUP {pid}" for pid in pids},
            pause=pilot.pause,
            what="SIGHUP recorded",
        )
        assert set(live_pids(arbiter, "sleeper")) == set(pids)  # HUP is handled, nobody died


async def test_k_on_a_selected_process_signals_only_that_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    record = tmp_path / "signals.log"
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_ready(app, arbiter, "sleeper", 2, pilot)
        await wait_until(lambda: app.main.processes_table.row_count == 2, pause=pilot.pause)
        await pilot.press("tab")  # to the processes table
        await wait_until(lambda: app.main.process_focused, pause=pilot.pause)
        target = app.main.processes_table.selected_pid
        assert target is not None
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await pilot.press("u", "s", "r", "1", "enter")
        await wait_until(lambda: record.exists() and record.read_text() != "", pause=pilot.pause)
        await pilot.pause(0.3)  # the behaviour under test: no other process gets it meanwhile
        assert record.read_text().splitlines() == [f"SIGUSR1 {target}"]


async def test_kill_asks_for_confirmation(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        await wait_until(
            lambda: watcher_cell(app, "sleeper", "running") == "1/1", pause=pilot.pause
        )
        [pid] = live_pids(arbiter, "sleeper")
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await pilot.press("k", "i", "l", "l", "enter")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), pause=pilot.pause)
        await pilot.press("n")
        await wait_until(lambda: not isinstance(app.screen, ConfirmScreen), pause=pilot.pause)
        await pilot.pause(0.3)  # the behaviour under test: declined, nothing kills it meanwhile
        assert alive(pid)
        await pilot.press("enter")  # the picker is still open with KILL highlighted
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), pause=pilot.pause)
        await pilot.press("y")
        await wait_until(lambda: not alive(pid), pause=pilot.pause, what="SIGKILLed")


async def test_plus_adds_a_process_and_minus_removes_one(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 2, pause=pilot.pause)
        await pilot.press("plus")
        await wait_until(
            lambda: len(live_pids(arbiter, "sleeper")) == 3, pause=pilot.pause, what="3 processes"
        )
        await wait_until(
            lambda: watcher_cell(app, "sleeper", "running") == "3/3", pause=pilot.pause
        )
        await pilot.press("minus")
        await wait_until(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pause=pilot.pause, what="back to 2"
        )
        await wait_until(lambda: app.main.processes_table.row_count == 2, pause=pilot.pause)


async def test_x_on_a_selected_process_stops_only_that_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: app.main.processes_table.row_count == 2, pause=pilot.pause)
        await pilot.press("tab")
        await wait_until(lambda: app.main.process_focused, pause=pilot.pause)
        target = app.main.processes_table.selected_pid
        assert target is not None
        other = next(pid for pid in live_pids(arbiter, "sleeper") if pid != target)
        await pilot.press("x")
        await wait_until(
            lambda: not alive(target), pause=pilot.pause, what="selected process stopped"
        )
        await wait_until(
            lambda: len(live_pids(arbiter, "sleeper")) == 2,
            pause=pilot.pause,
            what="slot respawned",
        )
        assert alive(other)
        assert arbiter.watchers["sleeper"].state == "active"


async def test_q_stops_everything_and_leaves_no_process_behind(tmp_path: Path) -> None:
    toml = sleeper_toml(tmp_path, numprocesses=3) + STUBBORN.format(graceful=1.0)
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 3, pause=pilot.pause)
        await wait_until(lambda: len(live_pids(arbiter, "stubborn")) == 1, pause=pilot.pause)
        pids = live_pids(arbiter, "sleeper") + live_pids(arbiter, "stubborn")
        await pilot.press("q")
        await wait_until(lambda: isinstance(app.screen, QuitConfirmScreen), pause=pilot.pause)
        await pilot.press("y")
        await wait_until(lambda: app.quitting, pause=pilot.pause)
        await wait_until(lambda: not app.is_running, timeout=15, what="app exited")
    assert arbiter.stopped.is_set()
    assert not any(alive(pid) for pid in pids)
    assert app.return_value == 0


async def test_ctrl_k_while_quitting_kills_at_once(tmp_path: Path) -> None:
    toml = STUBBORN.format(graceful=30.0)
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "stubborn")) == 1, pause=pilot.pause)
        [pid] = live_pids(arbiter, "stubborn")
        await pilot.press("ctrl+c", "ctrl+c")  # asked, and ctrl+c again says yes
        await wait_until(lambda: app.quitting, pause=pilot.pause)
        await wait_until(
            lambda: arbiter.watchers["stubborn"].state == "stopping", pause=pilot.pause
        )
        await pilot.pause(0.3)  # the behaviour under test: TERM alone does not end it
        assert alive(pid)  # TERM is ignored: it would wait 30 s for the SIGKILL
        await pilot.press("q")  # hammering q does not kill
        await pilot.pause()
        assert alive(pid)
        await pilot.press("ctrl+k")
        await wait_until(lambda: not alive(pid), timeout=5, what="killed by ctrl+k")
        await wait_until(lambda: not app.is_running, timeout=10)


async def test_a_key_typed_right_after_a_move_acts_on_the_row_under_the_cursor(
    tmp_path: Path,
) -> None:
    """↓ then x typed faster than the screen redraws: x stops the watcher the cursor is on."""
    toml = sleeper_toml(tmp_path, numprocesses=1) + textwrap.dedent(
        f"""
        [watchers.second]
        cmd = [{SLEEP!r}, "300"]
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(
            lambda: live_pids(arbiter, "sleeper") and live_pids(arbiter, "second"),
            pause=pilot.pause,
        )
        for name in ("sleeper", "second"):
            await wait_until(partial(is_active, app, name), pause=pilot.pause)
        first = app.main.selected
        assert first is not None
        below = ({"sleeper", "second"} - {first}).pop()
        # Both keys queued at once, as the terminal driver delivers a fast typist's keys (Pilot's
        # press would wait for the screen to settle between them).
        assert app._driver is not None
        for key, character in (("down", None), ("x", "x")):
            event = events.Key(key, character)
            event.set_sender(app)
            app._driver.send_message(event)
        await wait_until(lambda: arbiter.watchers[below].state == "stopped", pause=pilot.pause)
        assert arbiter.watchers[first].state == "active"


def is_active(app: TuimanApp, name: str) -> bool:
    return watcher_cell(app, name, "state") == "active"

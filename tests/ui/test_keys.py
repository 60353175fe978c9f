"""Pilot tests against the real core: keys act on real child processes."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from textual import events
from uihelpers import (
    alive,
    build_arbiter,
    live_pids,
    make_app,
    running,
    sleeper_toml,
    wait_for,
    wait_ready,
    watcher_cell,
)

from tuiman.ui.screens.confirm import ConfirmScreen
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
        await wait_for(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pilot=pilot, what="2 processes"
        )
        first_pids = live_pids(arbiter, "sleeper")
        await wait_for(lambda: watcher_cell(app, "sleeper", "state") == "active", pilot=pilot)

        await pilot.press("x")
        await wait_for(
            lambda: not any(alive(pid) for pid in first_pids), pilot=pilot, what="processes gone"
        )
        await wait_for(lambda: arbiter.watchers["sleeper"].state == "stopped", pilot=pilot)
        await wait_for(
            lambda: watcher_cell(app, "sleeper", "state") == "stopped", pilot=pilot, what="screen"
        )
        assert watcher_cell(app, "sleeper", "running") == "0/2"

        await pilot.press("s")
        await wait_for(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pilot=pilot, what="restarted"
        )
        assert not set(live_pids(arbiter, "sleeper")) & set(first_pids)
        await wait_for(lambda: watcher_cell(app, "sleeper", "running") == "2/2", pilot=pilot)


async def test_s_starts_a_watcher_that_does_not_autostart(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, autostart=False))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_for(lambda: "sleeper" in app.model.watchers, pilot=pilot)
        assert live_pids(arbiter, "sleeper") == []
        await pilot.press("s")
        await wait_for(lambda: len(live_pids(arbiter, "sleeper")) == 2, pilot=pilot, what="started")


async def test_k_then_hup_delivers_sighup_to_every_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    record = tmp_path / "signals.log"
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        pids = await wait_ready(app, arbiter, "sleeper", 2, pilot)
        await pilot.press("k")
        await wait_for(lambda: isinstance(app.screen, SignalPicker), pilot=pilot)
        await pilot.press("h", "u", "p", "enter")

        def recorded() -> set[str]:
            return set(record.read_text().splitlines()) if record.exists() else set()

        await wait_for(
            lambda: recorded() == {f"SIGHUP {pid}" for pid in pids},
            pilot=pilot,
            what="SIGHUP recorded",
        )
        assert set(live_pids(arbiter, "sleeper")) == set(pids)  # HUP is handled, nobody died


async def test_k_on_a_selected_process_signals_only_that_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    record = tmp_path / "signals.log"
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_ready(app, arbiter, "sleeper", 2, pilot)
        await wait_for(lambda: app.main.processes_table.row_count == 2, pilot=pilot)
        await pilot.press("tab")  # to the processes table
        await wait_for(lambda: app.main.process_focused, pilot=pilot)
        target = app.main.processes_table.selected_pid
        assert target is not None
        await pilot.press("k")
        await wait_for(lambda: isinstance(app.screen, SignalPicker), pilot=pilot)
        await pilot.press("u", "s", "r", "1", "enter")
        await wait_for(lambda: record.exists() and record.read_text() != "", pilot=pilot)
        await pilot.pause(0.3)
        assert record.read_text().splitlines() == [f"SIGUSR1 {target}"]


async def test_kill_asks_for_confirmation(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_for(lambda: len(live_pids(arbiter, "sleeper")) == 1, pilot=pilot)
        await wait_for(lambda: watcher_cell(app, "sleeper", "running") == "1/1", pilot=pilot)
        [pid] = live_pids(arbiter, "sleeper")
        await pilot.press("k")
        await wait_for(lambda: isinstance(app.screen, SignalPicker), pilot=pilot)
        await pilot.press("k", "i", "l", "l", "enter")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), pilot=pilot)
        await pilot.press("n")
        await wait_for(lambda: not isinstance(app.screen, ConfirmScreen), pilot=pilot)
        await pilot.pause(0.3)
        assert alive(pid)
        await pilot.press("enter")  # the picker is still open with KILL highlighted
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), pilot=pilot)
        await pilot.press("y")
        await wait_for(lambda: not alive(pid), pilot=pilot, what="SIGKILLed")


async def test_plus_adds_a_process_and_minus_removes_one(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_for(lambda: len(live_pids(arbiter, "sleeper")) == 2, pilot=pilot)
        await pilot.press("plus")
        await wait_for(
            lambda: len(live_pids(arbiter, "sleeper")) == 3, pilot=pilot, what="3 processes"
        )
        await wait_for(lambda: watcher_cell(app, "sleeper", "running") == "3/3", pilot=pilot)
        await pilot.press("minus")
        await wait_for(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pilot=pilot, what="back to 2"
        )
        await wait_for(lambda: app.main.processes_table.row_count == 2, pilot=pilot)


async def test_x_on_a_selected_process_stops_only_that_process(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_for(lambda: app.main.processes_table.row_count == 2, pilot=pilot)
        await pilot.press("tab")
        await wait_for(lambda: app.main.process_focused, pilot=pilot)
        target = app.main.processes_table.selected_pid
        assert target is not None
        other = next(pid for pid in live_pids(arbiter, "sleeper") if pid != target)
        await pilot.press("x")
        await wait_for(lambda: not alive(target), pilot=pilot, what="selected process stopped")
        await wait_for(
            lambda: len(live_pids(arbiter, "sleeper")) == 2, pilot=pilot, what="slot respawned"
        )
        assert alive(other)
        assert arbiter.watchers["sleeper"].state == "active"


async def test_q_stops_everything_and_leaves_no_process_behind(tmp_path: Path) -> None:
    toml = sleeper_toml(tmp_path, numprocesses=3) + STUBBORN.format(graceful=1.0)
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_for(lambda: len(live_pids(arbiter, "sleeper")) == 3, pilot=pilot)
        await wait_for(lambda: len(live_pids(arbiter, "stubborn")) == 1, pilot=pilot)
        pids = live_pids(arbiter, "sleeper") + live_pids(arbiter, "stubborn")
        await pilot.press("q")
        await wait_for(lambda: app.quitting, pilot=pilot)
        await wait_for(lambda: not app.is_running, timeout=15, what="app exited")
    assert arbiter.stopped.is_set()
    assert not any(alive(pid) for pid in pids)
    assert app.return_value == 0


async def test_second_q_kills_at_once(tmp_path: Path) -> None:
    toml = STUBBORN.format(graceful=30.0)
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_for(lambda: len(live_pids(arbiter, "stubborn")) == 1, pilot=pilot)
        [pid] = live_pids(arbiter, "stubborn")
        await pilot.press("ctrl+c")
        await wait_for(lambda: app.quitting, pilot=pilot)
        await wait_for(lambda: arbiter.watchers["stubborn"].state == "stopping", pilot=pilot)
        await pilot.pause(0.3)
        assert alive(pid)  # TERM is ignored: it would wait 30 s for the SIGKILL
        await pilot.press("q")
        await wait_for(lambda: not alive(pid), timeout=5, what="killed by the second q")
        await wait_for(lambda: not app.is_running, timeout=10)


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
        await wait_for(
            lambda: live_pids(arbiter, "sleeper") and live_pids(arbiter, "second"), pilot=pilot
        )
        for name in ("sleeper", "second"):
            await wait_for(lambda n=name: watcher_cell(app, n, "state") == "active", pilot=pilot)
        first = app.main.selected
        below = ({"sleeper", "second"} - {first}).pop()
        # Both keys queued at once, as the terminal driver delivers a fast typist's keys (Pilot's
        # press would wait for the screen to settle between them).
        assert app._driver is not None
        for key, character in (("down", None), ("x", "x")):
            event = events.Key(key, character)
            event.set_sender(app)
            app._driver.send_message(event)
        await wait_for(lambda: arbiter.watchers[below].state == "stopped", pilot=pilot)
        assert arbiter.watchers[first].state == "active"

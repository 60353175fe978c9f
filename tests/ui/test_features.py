"""Pilot tests of what the panels show: vetoes, flapping, failures, filter, search, keymap."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.programs import unrunnable_program
from tests.support.waiting import wait_until
from tests.ui.uihelpers import (
    PYTHON,
    live_pids,
    make_app,
    palette_offers,
    running,
    sleeper_toml,
    watcher_cell,
)
from tuiman.ui.log_entries import Outcome
from tuiman.ui.screens.help import HelpScreen

pytestmark = pytest.mark.timeout(60)

HOOKS = textwrap.dedent(
    """
    def refuse(watcher, arbiter, hook_name, **kwargs):
        return False

    def explode(watcher, arbiter, hook_name, **kwargs):
        raise RuntimeError("database unreachable")

    def queue_depth(watcher, arbiter, hook_name, pid, stats, **kwargs):
        stats["queue_depth"] = 7
    """
)


def write_hooks(tmp_path: Path) -> str:
    """The hook module, under a name unique to this test (tuiman refuses a shadowed module)."""
    name = "uitest_hooks_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{name}.py").write_text(HOOKS)
    return name


def record_notifications(app: object) -> list[tuple[str, str]]:
    notes: list[tuple[str, str]] = []

    def notify(message: str, *, title: str = "", **options: object) -> None:
        notes.append((title, message))

    app.notify = notify  # type: ignore[attr-defined]
    return notes


async def test_vetoed_and_failed_starts_notify_with_hook_name_and_error(tmp_path: Path) -> None:
    hooks = write_hooks(tmp_path)
    toml = textwrap.dedent(
        f"""
        [watchers.vetoed]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)"]
        hooks.before_start = "{hooks}.refuse"
        [watchers.broken]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)"]
        hooks.before_start = "{hooks}.explode"
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    notes = record_notifications(app)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(notes) >= 2, pause=pilot.pause, what="two notifications")
        assert ("vetoed: before_start vetoed", "the hook returned a false value") in notes
        assert ("broken: before_start failed", "RuntimeError: database unreachable") in notes
        await wait_until(
            lambda: watcher_cell(app, "vetoed", "info") == "vetoed by before_start",
            pause=pilot.pause,
        )
        assert (
            watcher_cell(app, "broken", "info")
            == "before_start failed: RuntimeError: database unreachable"
        )
        outcomes = {(entry.watcher, entry.outcome) for entry in app.main.hook_log.items}
        assert ("vetoed", Outcome.VETO) in outcomes
        assert ("broken", Outcome.FAILURE) in outcomes
        # s on the vetoed watcher: the same veto is notified again (once the repeat window is over).
        app._recent_alerts.clear()
        notes.clear()
        await pilot.press("down")  # from broken to vetoed
        assert app.main.selected == "vetoed"
        await pilot.press("s")
        await wait_until(lambda: bool(notes), pause=pilot.pause)
        assert notes[0][0].endswith("before_start vetoed")
        assert live_pids(arbiter, "vetoed") == []


async def test_a_flapping_watcher_shows_the_retry_countdown(tmp_path: Path) -> None:
    toml = textwrap.dedent(
        f"""
        [watchers.crasher]
        cmd = [{PYTHON!r}, "-c", "import sys; sys.exit(3)"]
        [watchers.crasher.restart]
        backoff_initial = 0.01
        flap_attempts = 2
        retry_in = 30.0
        flap_max_retry = -1
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(
            lambda: watcher_cell(app, "crasher", "state") == "flapping", pause=pilot.pause
        )
        await wait_until(
            lambda: watcher_cell(app, "crasher", "info").startswith("retry in"), pause=pilot.pause
        )
        info = watcher_cell(app, "crasher", "info")
        assert info.endswith("(pause 1)")
        seconds = float(info.split()[2].rstrip("s"))
        assert 20 < seconds <= 30
        assert str(app.main.processes_table.get_cell("slot-1", "state")) == "paused"
        assert str(app.main.processes_table.get_cell("slot-1", "exit")) == "3"
        countdown = str(app.main.processes_table.get_cell("slot-1", "age"))  # fits its column
        assert countdown.startswith("in ") and 20 < int(countdown[3:].rstrip("s")) <= 30


async def test_a_failed_watcher_says_why(tmp_path: Path) -> None:
    toml = textwrap.dedent(
        f"""
        [watchers.missing]
        cmd = "{unrunnable_program(tmp_path)} --flag"
        max_retry = 1
        [watchers.missing.restart]
        backoff_initial = 0.01
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    notes = record_notifications(app)
    async with running(arbiter, app) as pilot:
        await wait_until(
            lambda: watcher_cell(app, "missing", "state") == "failed", pause=pilot.pause
        )
        await wait_until(
            lambda: "spawn failed" in watcher_cell(app, "missing", "info"), pause=pilot.pause
        )
        assert "No such file" in watcher_cell(app, "missing", "info")
        assert any(title == "missing failed" for title, _ in notes)
        subtitle = str(app.main.query_one("#processes-panel").border_subtitle)
        assert subtitle.startswith("failed: spawn failed")


async def test_slash_filters_the_watchers(tmp_path: Path) -> None:
    toml = sleeper_toml(tmp_path, numprocesses=1, autostart=False) + textwrap.dedent(
        f"""
        [watchers.other]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)"]
        autostart = false
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        table = app.main.watchers_table
        await wait_until(lambda: table.row_count == 2, pause=pilot.pause)
        await pilot.press("slash", "o", "t")
        await wait_until(lambda: table.row_count == 1, pause=pilot.pause)
        assert app.main.selected == "other"
        await pilot.press("enter")
        assert app.focused is table
        await pilot.press("s")  # acts on the filtered selection
        await wait_until(lambda: len(live_pids(arbiter, "other")) == 1, pause=pilot.pause)
        await pilot.press("slash", "escape")
        await wait_until(lambda: table.row_count == 2, pause=pilot.pause)


async def test_ctrl_f_searches_the_output(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        output = app.main.output
        await wait_until(
            lambda: sum("tick" in e.text for e in output.items) >= 2, timeout=15, pause=pilot.pause
        )
        # ANSI colours are kept in the buffer and rendered, not shown as escape codes.
        assert any("\x1b[32m" in e.text for e in output.items)
        await pilot.press("ctrl+f", "t", "i", "c", "k")
        await wait_until(lambda: output.match_count >= 2, pause=pilot.pause)
        await pilot.press("enter")
        assert output.current_match is not None
        assert not output.follow
        first = output.current_match
        await pilot.press("up")
        assert output.current_match is not None and output.current_match < first
        await pilot.press("escape")
        assert output.search == ""
        assert app.focused is output
        await pilot.press("end")
        assert output.follow


async def test_e_shows_extended_stats_from_the_hook(tmp_path: Path) -> None:
    hooks = write_hooks(tmp_path)
    toml = (
        sleeper_toml(tmp_path, numprocesses=1)
        + f'\n[watchers.sleeper.hooks]\nextended_stats = "{hooks}.queue_depth"\n'
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        table = app.main.processes_table
        await wait_until(lambda: table.row_count == 1, pause=pilot.pause)
        await pilot.press("e")
        await wait_until(
            lambda: "queue_depth" in table.extended, pause=pilot.pause, what="extended column"
        )
        [pid] = live_pids(arbiter, "sleeper")
        await wait_until(
            lambda: str(table.get_cell(str(pid), "x:queue_depth")) == "7", pause=pilot.pause
        )
        await pilot.press("e")
        await wait_until(lambda: table.extended == (), pause=pilot.pause)


async def test_keys_can_be_remapped_by_binding_id(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[keymap]\nstop = "delete"\nnot-a-binding = "f5"\n')
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path, settings=settings)
    notes = record_notifications(app)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        assert any("not-a-binding" in message for _, message in notes)
        await pilot.press("x")  # no longer bound
        await pilot.pause(0.3)  # the behaviour under test: nothing stops the watcher meanwhile
        assert arbiter.watchers["sleeper"].state == "active"
        await pilot.press("delete")
        await wait_until(lambda: arbiter.watchers["sleeper"].state == "stopped", pause=pilot.pause)


async def test_help_lists_every_key(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1, autostart=False))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await pilot.press("question_mark")
        await wait_until(lambda: isinstance(app.screen, HelpScreen), pause=pilot.pause)
        ids = {binding.id for _, binding in app.screen.bindings}  # type: ignore[attr-defined]
        assert {
            "start",
            "stop",
            "restart",
            "signal",
            "scale-up",
            "scale-down",
            "quit",
            "search",
        } <= ids
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, HelpScreen), pause=pilot.pause)


async def test_the_palette_lists_actions_for_every_watcher(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        await pilot.press("ctrl+p")
        await pilot.press(*"stop sleeper")
        await wait_until(lambda: palette_offers(app, "stop sleeper"), pause=pilot.pause)
        await pilot.press("enter")
        await wait_until(lambda: arbiter.watchers["sleeper"].state == "stopped", pause=pilot.pause)


async def test_h_in_the_hook_log_shows_only_hook_calls(tmp_path: Path) -> None:
    hooks = write_hooks(tmp_path)
    toml = sleeper_toml(tmp_path, numprocesses=1) + textwrap.dedent(
        f"""
        [watchers.vetoed]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)"]
        hooks.before_start = "{hooks}.refuse"
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        log = app.main.hook_log
        await wait_until(
            lambda: any(e.outcome is Outcome.VETO for e in log.items), pause=pilot.pause
        )
        await wait_until(lambda: any(e.label == "spawn" for e in log.items), pause=pilot.pause)
        await pilot.press("tab", "tab")
        assert app.focused is log
        await pilot.press("h")
        assert [e.label for e in log.items] == ["before_start"]
        await pilot.press("h")
        assert any(e.label == "spawn" for e in log.items)


async def test_ctrl_r_reloads_the_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    toml = sleeper_toml(tmp_path, numprocesses=1)
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    notes = record_notifications(app)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "sleeper")) == 1, pause=pilot.pause)
        config = tmp_path / "tuiman.toml"
        config.write_text(toml + '\n[watchers.extra]\ncmd = "sleep 300"\n')
        await pilot.press("ctrl+r")
        await wait_until(lambda: "extra" in arbiter.watchers, pause=pilot.pause, what="extra added")
        await wait_until(lambda: len(live_pids(arbiter, "extra")) == 1, pause=pilot.pause)
        config.write_text(toml + "\nbogus = 1\n")
        await pilot.press("ctrl+r")
        await wait_until(
            lambda: any(title.startswith("config refused") for title, _ in notes),
            pause=pilot.pause,
            what="the refused reload notified",
        )
        assert "extra" in arbiter.watchers  # refused: the running state is kept
        assert len(live_pids(arbiter, "extra")) == 1

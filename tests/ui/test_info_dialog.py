"""The info dialog (`i`) from a real core and real processes; the demo's first-run tips."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.scripted import FROZEN, SNAPSHOT, SNAPSHOT_SEQ, ScriptedClient, ScriptedStream
from tests.ui.uihelpers import PYTHON, live_pids, make_app, running
from tuiman.core.events import Event, Kind
from tuiman.ui.app import TuimanApp
from tuiman.ui.log_entries import DEMO_TIPS
from tuiman.ui.screens.info import InfoScreen

pytestmark = pytest.mark.timeout(60)

LONG_ARGUMENT = "--a-very-long-option-name-that-no-table-column-could-ever-show=" + "x" * 80


def dialog_text(app: TuimanApp) -> str:
    screen = app.screen
    assert isinstance(screen, InfoScreen)
    return (
        "\n".join(
            f"{heading}\n" + "\n".join(f"{line.label} {line.text}" for line in lines)
            for heading, lines in screen.sections
        )
        + f"\n{screen.title_text}"
    )


async def test_i_shows_the_full_command_env_policy_and_last_exit(tmp_path: Path) -> None:
    toml = textwrap.dedent(
        f"""
        [watchers.api]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)", {LONG_ARGUMENT!r}]
        numprocesses = 1
        respawn = "on-failure"
        working_dir = {str(tmp_path)!r}
        env = {{ MODE = "blue", API_TOKEN = "hunter2-do-not-show" }}
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: len(live_pids(arbiter, "api")) == 1, pause=pilot.pause)
        first = live_pids(arbiter, "api")[0]
        os.kill(first, signal.SIGKILL)
        await wait_until(
            lambda: (pids := live_pids(arbiter, "api")) and pids[0] != first,
            pause=pilot.pause,
            what="the slot respawned",
        )
        await wait_until(lambda: 1 in app.model.watchers["api"].last_exit, pause=pilot.pause)
        await wait_until(lambda: app.model.watchers["api"].restarts == 1, pause=pilot.pause)
        await pilot.press("i")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        text = dialog_text(app)
        assert LONG_ARGUMENT in text  # in full: the dialog wraps, it does not cut
        assert f"working dir {tmp_path}" in text
        assert "MODE=blue" in text
        assert "API_TOKEN=" in text and "hunter2" not in text  # masked by the core
        assert "respawn on-failure" in text
        assert "wid 1 KILL" in text
        assert "restarts 1" in text
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, InfoScreen), pause=pilot.pause)

        # On the processes table: the selected process too.
        await pilot.press("tab", "i")
        await wait_until(lambda: isinstance(app.screen, InfoScreen), pause=pilot.pause)
        second = live_pids(arbiter, "api")[0]
        text = dialog_text(app)
        assert f"process {second}" in text
        assert "last exit its slot's previous process: KILL" in text


class DemoClient(ScriptedClient):
    def __init__(self) -> None:
        super().__init__()
        snapshot = {**SNAPSHOT, "config": "demo:/home/ada"}
        self.stream = ScriptedStream(
            [Event(SNAPSHOT_SEQ, FROZEN - 10.0, Kind.SNAPSHOT, None, snapshot)]
        )


async def tips_shown(client: ScriptedClient, tmp_path: Path) -> list[str]:
    app = TuimanApp(client, settings=tmp_path / "none.toml", clock=lambda: FROZEN)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.booted, pause=pilot.pause)
        return [e.detail for e in app.main.hook_log.items if e.label == "tip"]


async def test_the_demo_opens_with_tips_in_the_hook_log(tmp_path: Path) -> None:
    assert await tips_shown(DemoClient(), tmp_path) == list(DEMO_TIPS)
    assert await tips_shown(ScriptedClient(), tmp_path) == []  # a config of the user's own

"""Pilot tests of hooks while they run: the live hook-log row, the watcher's state and info,
cancelling a start whose before_start runs, and the stop countdown behind before_stop."""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import PYTHON, live_pids, make_app, running, watcher_cell
from tuiman.ui.app import TuimanApp
from tuiman.ui.log_entries import LogEntry, Outcome
from tuiman.ui.palette import palette_of
from tuiman.ui.screens.quit_progress import QuitScreen

pytestmark = pytest.mark.timeout(60)

GATED = textwrap.dedent(
    """
    import os, time

    def wait_gate(watcher, arbiter, hook_name, **kwargs):
        with open({started!r}, "a") as f:
            f.write(hook_name + "\\n")
        deadline = time.monotonic() + 40
        while not os.path.exists({gate!r}) and time.monotonic() < deadline:
            time.sleep(0.02)
        with open({done!r}, "a") as f:
            f.write(hook_name + "\\n")
        return True
    """
)


STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)"
)


class Gate:
    """A hook module whose hook runs until the test opens the gate."""

    def __init__(self, tmp_path: Path) -> None:
        self.module = "uitest_gate_" + re.sub(r"\W", "_", tmp_path.name)
        self.gate = tmp_path / "gate"
        self.started = tmp_path / "started.log"
        self.done = tmp_path / "done.log"
        (tmp_path / f"{self.module}.py").write_text(
            GATED.format(started=str(self.started), gate=str(self.gate), done=str(self.done))
        )

    def hook(self, name: str) -> str:
        return f'hooks.{name} = {{ path = "{self.module}.wait_gate", timeout = 50 }}'

    def open(self) -> float:
        opened = time.time()
        self.gate.touch()
        return opened

    def has_run(self, name: str) -> bool:
        return self.started.exists() and name in self.started.read_text().split()

    def has_returned(self, name: str) -> bool:
        return self.done.exists() and name in self.done.read_text().split()


def rows_of(app: TuimanApp, watcher: str, hook: str) -> list[LogEntry]:
    return [e for e in app.main.hook_log.items if e.watcher == watcher and e.label == hook]


async def test_a_running_before_start_is_shown_live_and_x_cancels_the_start(
    tmp_path: Path,
) -> None:
    gate = Gate(tmp_path)
    toml = textwrap.dedent(
        f"""
        [watchers.slow]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)"]
        {gate.hook("before_start")}
        [watchers.later]
        cmd = [{PYTHON!r}, "-c", "import time; time.sleep(60)"]
        priority = -1
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: gate.has_run("before_start"), pause=pilot.pause)
        # the watcher started after it waits, and says so
        await wait_until(
            lambda: watcher_cell(app, "later", "info") == "queued behind slow's before_start",
            pause=pilot.pause,
        )
        await wait_until(
            lambda: [e.outcome for e in rows_of(app, "slow", "before_start")] == [Outcome.RUNNING],
            pause=pilot.pause,
            what="a live before_start row",
        )
        assert watcher_cell(app, "slow", "state") == "starting"
        await wait_until(
            lambda: watcher_cell(app, "slow", "info").startswith("before_start "),
            pause=pilot.pause,
        )
        assert "x cancels" in watcher_cell(app, "slow", "info")
        assert app.main.check_action("stop", ()) is True  # x is offered, not hidden
        await pilot.press("x")
        # the same row becomes the outcome: abandoned, its result ignored
        await wait_until(
            lambda: (
                [e.outcome for e in rows_of(app, "slow", "before_start")] == [Outcome.ABANDONED]
            ),
            pause=pilot.pause,
            what="the before_start row abandoned",
        )
        [row] = rows_of(app, "slow", "before_start")
        assert "abandoned" in row.detail
        await wait_until(lambda: watcher_cell(app, "slow", "state") == "stopped", pause=pilot.pause)
        assert not watcher_cell(app, "slow", "info").startswith("before_start")
        # the queue moves on to the next watcher
        await wait_until(lambda: len(live_pids(arbiter, "later")) == 1, pause=pilot.pause)
        assert watcher_cell(app, "later", "info") == ""
        gate.open()  # the hook returns True now: too late, the start was cancelled
        await wait_until(lambda: gate.has_returned("before_start"), pause=pilot.pause)
        await pilot.pause()
        assert arbiter.watchers["slow"].state == "stopped"
        assert live_pids(arbiter, "slow") == []


async def test_before_stop_is_shown_and_the_sigkill_countdown_starts_at_the_stop_signal(
    tmp_path: Path,
) -> None:
    gate = Gate(tmp_path)
    toml = textwrap.dedent(
        f"""
        [watchers.web]
        cmd = [{PYTHON!r}, "-c", {STUBBORN!r}]
        graceful_timeout = 30.0
        {gate.hook("before_stop")}
        """
    )
    arbiter = build_arbiter(tmp_path, toml)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(
            lambda: any(e.text == "up" for e in app.model.output_of("web")), pause=pilot.pause
        )
        app.begin_quit()
        app.run_worker(app._quit_instance(), group="quit")
        await wait_until(lambda: gate.has_run("before_stop"), pause=pilot.pause)
        view = app.model.watchers["web"]
        await wait_until(lambda: view.watcher_hook() is not None, pause=pilot.pause)
        assert view.state == "stopping" and view.stopping_since is None
        assert watcher_cell(app, "web", "info").startswith("before_stop ")
        screen = app.screen
        assert isinstance(screen, QuitScreen)
        step = screen._next_step(view, app.clock(), palette_of(app))
        assert step.plain.startswith("before_stop running ")
        opened = gate.open()
        await wait_until(lambda: view.stopping_since is not None, pause=pilot.pause)
        assert view.stopping_since is not None and view.stopping_since >= opened
        step = screen._next_step(view, view.stopping_since + 1.0, palette_of(app))
        assert step.plain == "SIGKILL in 29s"
        [row] = rows_of(app, "web", "before_stop")
        assert row.outcome == Outcome.OK
        app.action_force_quit()
        await wait_until(lambda: not app.is_running, timeout=15, what="app exited")

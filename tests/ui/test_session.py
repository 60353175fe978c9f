"""The full session (run_tui, headless driver): crashes, quits the UI did not ask for, signals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.support.procs import alive
from tests.support.waiting import wait_until
from tests.ui.uihelpers import PYTHON
from tuiman.core.config.loader import load_config_text
from tuiman.core.processes.watchdog import MARKER_ENV, new_marker
from tuiman.launch.session import run_tui
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.main import MainScreen

pytestmark = pytest.mark.timeout(60)

SLEEPER = textwrap.dedent(
    f"""
    [watchers.sleeper]
    cmd = [{PYTHON!r}, "-c", "import time; time.sleep(120)"]
    numprocesses = 2
    graceful_timeout = 2.0
    """
)


def marked_processes(marker: str) -> list[int]:
    """Every live process carrying this instance's marker (children, escapees)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(MARKER_ENV) == marker and alive(proc.pid):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def load(tmp_path: Path, toml: str) -> object:
    path = tmp_path / "tuiman.toml"
    path.write_text(toml)
    return load_config_text(toml, path, cwd=tmp_path)


async def test_an_exception_in_ui_code_stops_every_process_and_writes_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    seen: list[int] = []
    marker = new_marker()
    original_tick = MainScreen.tick

    def tick(self: MainScreen) -> None:
        original_tick(self)
        running = [pid for view in self.model.watchers.values() for pid in view.processes]
        if len(running) == 2:
            seen.extend(running)
            raise RuntimeError("boom in the UI")

    monkeypatch.setattr(MainScreen, "tick", tick)
    code = await run_tui(load(tmp_path, SLEEPER), None, marker, headless=True)  # type: ignore[arg-type]
    assert code == 1
    assert len(seen) == 2
    assert not any(alive(pid) for pid in seen)
    assert marked_processes(marker) == []
    [report] = (tmp_path / "state" / "tuiman").glob("crash-*.txt")
    assert "RuntimeError: boom in the UI" in report.read_text()
    assert str(report) in capsys.readouterr().err


async def test_a_quit_from_a_hook_shows_progress_and_ends_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "uitest_quitter_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{module}.py").write_text(
        "def quit_soon(watcher, arbiter, hook_name, **kwargs):\n"
        "    arbiter.stop()\n"
        "    return True\n"
    )
    toml = SLEEPER + f'[watchers.sleeper.hooks]\nafter_start = "{module}.quit_soon"\n'
    marker = new_marker()
    shown: list[bool] = []
    original = TuimanApp.begin_quit

    def begin_quit(self: TuimanApp) -> None:
        shown.append(True)
        original(self)

    monkeypatch.setattr(TuimanApp, "begin_quit", begin_quit)
    session = run_tui(load(tmp_path, toml), None, marker, headless=True)  # type: ignore[arg-type]
    code = await asyncio.wait_for(session, 30)
    assert code == 0
    assert shown
    assert marked_processes(marker) == []


async def test_sigterm_stops_everything_gracefully(tmp_path: Path) -> None:
    marker = new_marker()
    session = asyncio.get_running_loop().create_task(
        run_tui(load(tmp_path, SLEEPER), None, marker, headless=True)  # type: ignore[arg-type]
    )
    await wait_until(lambda: len(marked_processes(marker)) == 2, timeout=15, what="2 processes")
    pids = marked_processes(marker)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(session, 20) == 0
    assert not any(alive(pid) for pid in pids)

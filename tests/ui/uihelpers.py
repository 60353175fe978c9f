"""Helpers for the UI tests: a child program, the app under Pilot, cells and ready pids."""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from tests.support.core import stop_arbiter
from tests.support.procs import alive
from tests.support.waiting import wait_until
from tuiman.client.local import LocalClient
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.main import MainScreen

PYTHON = sys.executable

# Records every SIGHUP it receives (with its pid) in the file named by argv[1], then keeps running.
RECORDER = textwrap.dedent(
    """
    import os, signal, sys, time
    record = sys.argv[1]
    def on_signal(signum, frame):
        with open(record, "a") as f:
            f.write(f"{signal.Signals(signum).name} {os.getpid()}\\n")
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)
    print(f"ready {os.getpid()}", flush=True)
    n = 0
    while True:
        time.sleep(0.2)
        n += 1
        if n % 5 == 0:
            print(f"\\x1b[32mtick\\x1b[0m {n}", flush=True)
    """
)


def write_program(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    return script, tmp_path / "signals.log"


def sleeper_toml(
    tmp_path: Path, *, numprocesses: int = 2, autostart: bool = True, extra: str = ""
) -> str:
    script, record = write_program(tmp_path)
    return textwrap.dedent(
        f"""
        [watchers.sleeper]
        cmd = [{PYTHON!r}, "-u", {str(script)!r}, {str(record)!r}]
        numprocesses = {numprocesses}
        autostart = {"true" if autostart else "false"}
        graceful_timeout = 3.0
        """
    ) + textwrap.dedent(extra)


def make_app(arbiter: Arbiter, tmp_path: Path, **options: Any) -> TuimanApp:
    options.setdefault("settings", tmp_path / "no-settings.toml")
    options.setdefault("crash_dir", tmp_path / "crashes")
    return TuimanApp(LocalClient(arbiter), start_core=arbiter.start, **options)


@contextlib.asynccontextmanager
async def running(
    arbiter: Arbiter, app: TuimanApp, size: tuple[int, int] = (120, 40), tooltips: bool = False
) -> AsyncIterator[Pilot[int]]:
    """The app under Pilot; whatever happens, every process of the arbiter is gone afterwards."""
    try:
        async with app.run_test(size=size, tooltips=tooltips) as pilot:
            await wait_until(lambda: app.booted, pause=pilot.pause, what="the app booted")
            yield pilot
    finally:
        await stop_arbiter(arbiter)


def live_pids(arbiter: Arbiter, name: str) -> list[int]:
    return [pid for pid in arbiter.watchers[name].processes if alive(pid)]


def main_screen(app: TuimanApp) -> MainScreen:
    return app.main


def watcher_cell(app: TuimanApp, name: str, column: str) -> str:
    return str(app.main.watchers_table.get_cell(name, column))


def ready_pids(app: TuimanApp, name: str) -> set[int]:
    """Processes whose signal handlers are installed (they said so on stdout, seen by the UI)."""
    return {entry.pid for entry in app.model.output_of(name) if entry.text.startswith("ready ")}


async def wait_ready(
    app: TuimanApp, arbiter: Arbiter, name: str, count: int, pilot: Pilot[Any]
) -> list[int]:
    def ready() -> bool:
        pids = live_pids(arbiter, name)
        return len(pids) == count and set(pids) <= ready_pids(app, name)

    await wait_until(ready, pause=pilot.pause, what=f"{count} ready processes of {name}")
    return live_pids(arbiter, name)


def palette_offers(app: TuimanApp, text: str) -> bool:
    """The command palette is open and its highlighted command reads `text` (any case): its
    search for what was typed has come back."""
    screen = app.screen
    if not isinstance(screen, CommandPalette):
        return False
    commands = screen.query_one(CommandList)
    if commands.highlighted is None:
        return False
    prompt = commands.get_option_at_index(commands.highlighted).prompt
    return text.lower() in str(prompt).lower()


def has_processes(app: TuimanApp) -> bool:
    """`k` acts once the selected watcher's processes are known (else it is disabled)."""
    view = app.main.selected_view
    return view is not None and bool(view.processes)

"""Helpers for the UI tests: real arbiters from TOML, child programs, polling waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tuiman.client.local import LocalClient
from tuiman.core.config.loader import load_config_text
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


def build_arbiter(tmp_path: Path, toml: str) -> Arbiter:
    path = tmp_path / "tuiman.toml"
    path.write_text(toml)
    arbiter = Arbiter(load_config_text(toml, path, cwd=tmp_path))
    arbiter.bind()
    return arbiter


def make_app(arbiter: Arbiter, tmp_path: Path, **options: Any) -> TuimanApp:
    options.setdefault("settings", tmp_path / "no-settings.toml")
    options.setdefault("crash_dir", tmp_path / "crashes")
    return TuimanApp(LocalClient(arbiter), start_core=arbiter.start, **options)


@contextlib.asynccontextmanager
async def running(
    arbiter: Arbiter, app: TuimanApp, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[Pilot[int]]:
    """The app under Pilot; whatever happens, every process of the arbiter is gone afterwards."""
    try:
        async with app.run_test(size=size) as pilot:
            await wait_for(lambda: app.booted, pilot=pilot)
            yield pilot
    finally:
        await stop_everything(arbiter)


async def stop_everything(arbiter: Arbiter) -> None:
    pids = [pid for watcher in arbiter.watchers.values() for pid in watcher.processes]
    arbiter.force()
    try:
        await asyncio.wait_for(arbiter.quit(), 15)
    finally:
        for pid in pids:
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)


async def wait_for(
    predicate: Callable[[], bool],
    timeout: float = 10.0,
    pilot: Pilot[Any] | None = None,
    what: str = "",
) -> None:
    """Poll a condition (the core, the process table, the screen) up to a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or predicate}")
        if pilot is not None:
            await pilot.pause(0.02)
        else:
            await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    """Running and not a zombie (checked on the real process table)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            stat = stat_file.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


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

    await wait_for(ready, pilot=pilot, what=f"{count} ready processes of {name}")
    return live_pids(arbiter, name)

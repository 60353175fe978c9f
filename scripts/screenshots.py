"""Regenerate screenshots/*.svg: the real core and real processes, driven by Pilot.

    .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]

Screens: the demo config's main screen (wide and 80x24), the hook-event log with a veto and
a failure, the signal picker, and the quit progress view with a process that ignores SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from tuiman.client.local import LocalClient
from tuiman.core.config.loader import load_config_text
from tuiman.core.config.model import Config
from tuiman.core.configfile import load_config
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.ui.app import TuimanApp

ROOT = Path(__file__).resolve().parent.parent
DEMO = (ROOT / "tuiman" / "demo.toml").read_text()

HOOKS = textwrap.dedent(
    """
    import time

    def build_index(watcher, arbiter, hook_name, **kwargs):
        time.sleep(0.05)
        return False  # the search index is not built yet: veto the start

    def check_smtp(watcher, arbiter, hook_name, **kwargs):
        raise ConnectionRefusedError("smtp.internal:25 refused the connection")
    """
)

HOOK_WATCHERS = textwrap.dedent(
    """
    [watchers.search]
    cmd = ["python3", "-c", "import time; time.sleep(3600)"]
    priority = 3
    [watchers.search.hooks]
    before_start = "shot_hooks.build_index"

    [watchers.mailer]
    cmd = ["python3", "-c", "import time; time.sleep(3600)"]
    [watchers.mailer.hooks]
    before_spawn = "shot_hooks.check_smtp"
    """
)

STUBBORN = textwrap.dedent(
    """
    [watchers.legacy]
    cmd = ["sh", "-c", "trap 'echo ignoring SIGTERM' TERM; while true; do sleep 0.2; done"]
    graceful_timeout = 10.0
    priority = 0
    """
)

Scene = Callable[[Pilot[int]], Awaitable[None]]


def config_with(directory: Path, extra: str = "") -> Config:
    if not extra:
        return load_config(None, cwd=directory)  # the embedded demo
    (directory / "shot_hooks.py").write_text(HOOKS)
    text = DEMO + extra
    path = directory / "tuiman.toml"
    path.write_text(text)
    return load_config_text(text, path, cwd=directory)


async def settle(pilot: Pilot[int], seconds: float) -> None:
    await pilot.pause(seconds)
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


async def shoot(
    name: str, config: Config, size: tuple[int, int], scene: Scene, output: Path
) -> None:
    arbiter = Arbiter(config)
    arbiter.bind()
    app = TuimanApp(LocalClient(arbiter), start_core=arbiter.start, settings=output / "none.toml")
    try:
        async with app.run_test(size=size) as pilot:
            await scene(pilot)
            app.save_screenshot(filename=f"{name}.svg", path=str(output))
            print(f"wrote {output / name}.svg")
            arbiter.force()
    finally:
        arbiter.force()
        await arbiter.quit()


async def main_screen(pilot: Pilot[int]) -> None:
    await pilot.pause(6.0)
    await pilot.press("down")  # worker: the chattiest output
    await settle(pilot, 2.0)


async def hook_log(pilot: Pilot[int]) -> None:
    await pilot.pause(6.0)
    await pilot.press("tab", "tab", "z")  # watchers -> processes -> hook log, maximized
    await settle(pilot, 0.5)


async def signal_picker(pilot: Pilot[int]) -> None:
    await pilot.pause(4.0)
    await pilot.press("k")
    await settle(pilot, 0.5)


async def quit_progress(pilot: Pilot[int]) -> None:
    await pilot.pause(4.0)
    await pilot.press("q", "y")  # asked first, then confirmed
    await settle(pilot, 2.5)  # the others are gone; legacy ignores SIGTERM


async def run(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        await shoot("main", config_with(directory), (120, 36), main_screen, output)
        await shoot("main-80x24", config_with(directory), (80, 24), main_screen, output)
        await shoot("hook-log", config_with(directory, HOOK_WATCHERS), (120, 36), hook_log, output)
        await shoot("signal-picker", config_with(directory), (120, 36), signal_picker, output)
        await shoot(
            "quit-progress", config_with(directory, STUBBORN), (120, 36), quit_progress, output
        )


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))

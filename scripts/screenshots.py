"""Regenerate screenshots/*.svg: the real core and real processes, driven by Pilot.

    .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]

Screens: the demo config's main screen (wide and 80x24), the hook-event log with a veto and
a failure, the signal picker, the quit progress view with a process that ignores SIGTERM, a
curses program on its own terminal (`pty = true`) in typing mode, and a stack started in
dependency order: its ready column and its dependency view.
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

# A full-screen curses program on its own terminal (pty = true), and a Python REPL.
CURSES_DEMO = textwrap.dedent(
    """
    import curses, math, time

    def main(screen):
        curses.curs_set(0)
        curses.start_color()
        curses.use_default_colors()
        for pair, colour in enumerate((curses.COLOR_GREEN, curses.COLOR_YELLOW, curses.COLOR_RED,
                                       curses.COLOR_CYAN, curses.COLOR_MAGENTA), start=1):
            curses.init_pair(pair, colour, -1)
        names = ["web.1", "web.2", "worker.1", "worker.2", "worker.3", "mailer.1"]
        tick = 0
        while True:
            rows, cols = screen.getmaxyx()
            screen.erase()
            screen.attron(curses.A_REVERSE | curses.A_BOLD)
            screen.addstr(0, 0, " shop monitor ".ljust(cols - 1)[: cols - 1])
            screen.attroff(curses.A_REVERSE | curses.A_BOLD)
            screen.addstr(1, 1, f"terminal {cols}x{rows}   q quits", curses.A_DIM)
            width = max(cols - 30, 10)
            for row, name in enumerate(names):
                load = (math.sin(tick / 7 + row) + 1) / 2
                pair = 1 if load < 0.5 else 2 if load < 0.8 else 3
                bar = "█" * int(load * width)
                screen.addstr(3 + row, 2, f"{name:<10}", curses.color_pair(4) | curses.A_BOLD)
                screen.addstr(3 + row, 13, f"{load * 100:5.1f}% ", curses.color_pair(pair))
                screen.addstr(3 + row, 21, bar[: cols - 23], curses.color_pair(pair))
            screen.addstr(10, 2, "queue", curses.color_pair(5) | curses.A_UNDERLINE)
            screen.addstr(10, 9, " ".join(f"{(tick * 7 + n * 13) % 100:02d}" for n in range(12)))
            screen.refresh()
            tick += 1
            time.sleep(0.2)

    curses.wrapper(main)
    """
)

TERMINAL_WATCHERS = textwrap.dedent(
    """
    [watchers.monitor]
    cmd = ["python3", "monitor.py"]
    pty = true
    env = { TERM = "xterm-256color" }

    [watchers.repl]
    cmd = ["python3", "-i", "-q"]
    pty = true
    """
)

# A stack started in order (docs/readiness.md): a db that listens after 1.5 s, a migration
# gated on it, a web server on both, and a report job on a web that is never healthy.
SERVER = (
    "import http.server, sys, time; time.sleep(float(sys.argv[1])); "
    "H = type('H', (http.server.BaseHTTPRequestHandler,), {'do_GET': lambda s: "
    "(s.send_response(int(sys.argv[3])), s.end_headers()), 'log_message': lambda *a: None}); "
    "print('listening', flush=True); "
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[2])), H).serve_forever()"
)
STACK = textwrap.dedent(
    f"""
    [watchers.db]
    cmd = ["python3", "-c", "{SERVER}", "1.5", "18731", "200"]
    [watchers.db.ready]
    tcp = "127.0.0.1:18731"
    interval = 0.2

    [watchers.migrate]
    cmd = ["sh", "-c", "echo migrating; sleep 0.5; echo done"]
    respawn = false
    depends_on = {{ db = "ready" }}

    [watchers.web]
    cmd = ["python3", "-c", "{SERVER}", "0.3", "18732", "503"]
    depends_on = {{ db = "ready", migrate = "succeeded" }}
    [watchers.web.ready]
    http = "http://127.0.0.1:18732/health"
    interval = 0.5

    [watchers.report]
    cmd = ["sleep", "3600"]
    depends_on = {{ web = "ready" }}

    [watchers.cache]
    cmd = ["sleep", "3600"]
    """
)

Scene = Callable[[Pilot[int]], Awaitable[None]]


def stack_config(directory: Path) -> Config:
    path = directory / "stack.toml"
    path.write_text(STACK)
    return load_config_text(STACK, path, cwd=directory)


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


async def terminal(pilot: Pilot[int]) -> None:
    app = pilot.app
    assert isinstance(app, TuimanApp)
    await pilot.pause(3.0)
    app.select_watcher("monitor")
    await pilot.press("t")  # typing mode: the footer says how to leave it
    await settle(pilot, 1.5)


def terminal_config(directory: Path) -> Config:
    (directory / "monitor.py").write_text(CURSES_DEMO)
    path = directory / "tuiman.toml"
    path.write_text(TERMINAL_WATCHERS)
    return load_config_text(TERMINAL_WATCHERS, path, cwd=directory)


async def readiness(pilot: Pilot[int]) -> None:
    await pilot.pause(5.0)
    await pilot.press("down", "down", "down", "down")  # web: probing, its health check: 503
    await settle(pilot, 1.0)


async def dependencies(pilot: Pilot[int]) -> None:
    await pilot.pause(5.0)
    await pilot.press("down", "down", "down", "D")  # report: needs web, which needs db, migrate
    await settle(pilot, 0.5)


async def readiness_shots(output: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = stack_config(Path(scratch))
        await shoot("readiness", config, (120, 36), readiness, output)
        await shoot("dependencies", config, (120, 36), dependencies, output)


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
        await shoot("terminal", terminal_config(directory), (120, 36), terminal, output)
    await readiness_shots(output)


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))

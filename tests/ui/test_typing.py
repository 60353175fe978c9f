"""The output pane's terminal with a real pty process (docs/terminals.md#in-the-ui): typing
mode, the pane's size given to the process, and the keys that stay tuiman's."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from textual import events

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import PYTHON, make_app, running
from tuiman.ui.app import TuimanApp

pytestmark = pytest.mark.timeout(60)


def repl_toml() -> str:
    return textwrap.dedent(
        f"""
        [watchers.repl]
        cmd = [{PYTHON!r}, "-i", "-q"]
        pty = true
        env = {{ PYTHON_BASIC_REPL = "1", TERM = "xterm-256color" }}

        [watchers.plain]
        cmd = "sleep 300"
        """
    )


def screen_text(app: TuimanApp) -> str:
    return "\n".join(app.main.output_panel.terminal.text_lines())


async def test_typing_into_a_python_repl_shows_the_answer(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, repl_toml())
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        main = app.main
        app.select_watcher("repl")
        await wait_until(lambda: ">>>" in screen_text(app), pause=pilot.pause, what="the prompt")
        await pilot.press("t")
        assert main.output_panel.terminal.typing
        await pilot.press(*"print(6*7)", "enter")
        await wait_until(
            lambda: "\n42" in screen_text(app), pause=pilot.pause, what="42 on the screen"
        )
        # ctrl+c goes to the process, not to tuiman's quit
        await pilot.press("ctrl+c")
        await wait_until(
            lambda: "KeyboardInterrupt" in screen_text(app), pause=pilot.pause, what="the ^C"
        )
        assert not app.quitting
        # up recalls the line from the REPL's history: arrows go to the process too
        await pilot.press("up", "enter")
        await wait_until(
            lambda: screen_text(app).count("\n42") == 2, pause=pilot.pause, what="42 twice"
        )
        # the stop key gives the keys back to tuiman
        await pilot.press("ctrl+right_square_bracket")
        assert not main.output_panel.terminal.typing
        await pilot.press("up")  # the watchers table has the keys again
        assert main.selected == "plain"
        assert not main.output_panel.terminal.display


async def test_the_process_gets_the_pane_size(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, repl_toml())
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app, size=(100, 36)) as pilot:
        app.select_watcher("repl")
        terminal = app.main.output_panel.terminal
        await wait_until(lambda: ">>>" in screen_text(app), pause=pilot.pause, what="the prompt")
        await pilot.press("t", *"import os; os.get_terminal_size()", "enter")
        size = terminal.size
        expected = f"os.terminal_size(columns={size.width}, lines={size.height})"
        await wait_until(lambda: expected in screen_text(app), pause=pilot.pause, what=expected)


async def test_paste_goes_to_the_process_and_the_wheel_scrolls_back(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, repl_toml())
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        app.select_watcher("repl")
        terminal = app.main.output_panel.terminal
        await wait_until(lambda: ">>>" in screen_text(app), pause=pilot.pause, what="the prompt")
        await pilot.press("t")
        terminal.post_message(events.Paste("for n in range(100): print(f'row {n}')\r\r"))
        await wait_until(
            lambda: "row 99" in screen_text(app), pause=pilot.pause, what="the pasted loop ran"
        )
        assert terminal.back == 0
        terminal.post_message(events.MouseScrollUp(terminal, 1, 1, 0, 0, 0, False, False, False))
        await wait_until(lambda: terminal.back == 3, pause=pilot.pause, what="3 lines back")
        shown = [
            "".join(segment.text for segment in terminal.render_line(y)).rstrip()
            for y in range(terminal.size.height)
        ]
        assert "row 99" not in shown  # the bottom scrolled out of view
        assert "3 lines back" in str(app.main.output_panel.border_subtitle)
        await pilot.press("x")  # still typing: a key returns to the bottom
        await wait_until(lambda: terminal.back == 0, pause=pilot.pause, what="back at the bottom")

"""A pane covered by a dialog stops repainting, keeps every line, and catches up when shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip

from tests.support.waiting import wait_until
from tuiman.ui.app import TuimanApp
from tuiman.ui.palette import Palette
from tuiman.ui.screens.signal_picker import SignalPicker
from tuiman.ui.widgets.line_view import LineView


class Lines(LineView[str]):
    def __init__(self) -> None:
        super().__init__(100, id="lines")
        self.drawn = 0

    def render_item(self, item: str, number: int, palette: Palette) -> Text:
        return Text(item)

    def item_width(self, item: str) -> int:
        return len(item)

    def render_line(self, y: int) -> Strip:
        self.drawn += 1
        return super().render_line(y)


class LinesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Lines()


def bottom_line(view: Lines) -> str:
    return view.render_line(view.scrollable_content_region.height - 1).text.strip()


async def test_a_held_view_keeps_lines_without_repainting_and_catches_up() -> None:
    app = LinesApp()
    async with app.run_test(size=(40, 6)) as pilot:
        view = app.query_one(Lines)
        view.append([f"line {n}" for n in range(3)])
        await pilot.pause()
        view.hold(True)
        drawn = view.drawn
        view.append([f"line {n}" for n in range(3, 150)])  # 100 kept: 50 fell off the top
        await pilot.pause()
        assert view.drawn == drawn  # nothing was repainted
        assert view.line_count == 100
        view.hold(False)
        await pilot.pause()
        assert view.follow
        assert bottom_line(view) == "line 149"


async def test_the_output_and_hook_log_hold_while_a_dialog_covers_them(tmp_path: Path) -> None:
    from tests.ui.scripted import FROZEN, ScriptedClient

    app: TuimanApp = TuimanApp(
        ScriptedClient(), settings=tmp_path / "none.toml", clock=lambda: FROZEN
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.booted, pause=pilot.pause)
        panes: list[Any] = [app.main.output, app.main.hook_log]
        assert not any(pane.held for pane in panes)
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        assert all(pane.held for pane in panes)
        await pilot.press("escape")
        await wait_until(lambda: app.screen is app.main, pause=pilot.pause)
        assert not any(pane.held for pane in panes)

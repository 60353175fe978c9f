"""LiveTable draws exactly what a plain Textual DataTable draws for the same rows.

LiveTable replaces DataTable's body rendering with one cached strip per row and leans on
DataTable's private members (listed in `tuiman/ui/widgets/live_table.py`). If a Textual release
changes how DataTable draws a row (styles, cursor, hover, focus, truncation, the fill past the
last column, the mouse meta of each cell), the two tables below stop matching and this test
fails: then port the change into `LiveTable._row_strip`, or drop the fast path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import DataTable

from tuiman.ui.widgets.live_table import Row
from tuiman.ui.widgets.tables import ProcessesTable

SIZE = (72, 10)  # wider than the columns: the fill past the last column is drawn too
CURSOR_ROW = 2

# Every colour role, an empty cell, and cells too long for their column (cut with an ellipsis).
ROWS: list[Row] = [
    (
        str(pid),
        (
            (str(pid), "plain"),
            (str(wid), "plain"),
            (state, role),
            (age, "plain"),
            ("0.3%", "plain"),
            ("12.5M", "plain"),
            (exit_code, "error" if exit_code not in ("-", "0") else "muted"),
        ),
    )
    for pid, wid, state, role, age, exit_code in (
        (4101, 1, "running", "ok", "5s", "-"),
        (4102, 2, "stopping", "warn", "1h02m", "0"),
        (4103, 3, "running", "accent", "12s", "-9"),
        (4104, 4, "exited-and-gone", "error", "", "127"),
        (4105, 5, "running", "muted", "3d4h5m6s", "-"),
    )
]

Cells = list[tuple[str, Style, dict[str, Any]]]


class LiveTableApp(App[None]):
    def __init__(self, theme: str) -> None:
        super().__init__()
        self.wanted_theme = theme

    def compose(self) -> ComposeResult:
        yield ProcessesTable(id="table")

    def on_mount(self) -> None:
        self.theme = self.wanted_theme  # before sync: the cells take the theme's colours
        self.query_one(ProcessesTable).sync(ROWS)


class PlainTableApp(App[None]):
    """A stock DataTable set up like LiveTable, fed the very cells LiveTable holds."""

    def __init__(self, theme: str, cells: list[tuple[str, list[Text]]]) -> None:
        super().__init__()
        self.wanted_theme = theme
        self.cells = cells

    def compose(self) -> ComposeResult:
        yield DataTable[Text](id="table", cursor_type="row", cell_padding=0)

    def on_mount(self) -> None:
        self.theme = self.wanted_theme
        table: DataTable[Text] = self.query_one(DataTable)
        for column in ProcessesTable.COLUMNS:
            table.add_column(column.label, width=column.width, key=column.key)
        for key, cells in self.cells:
            table.add_row(*cells, key=key)


def drawn(table: DataTable[Any]) -> list[Cells]:
    """Every screen cell of the table: its character, its style, and the mouse meta on it."""
    width, height = table.size
    lines: list[Strip] = table.render_lines(Region(0, 0, width, height))
    return [
        [
            (
                char,
                (segment.style or Style()).clear_meta_and_links(),
                (segment.style or Style()).meta,
            )
            for segment in line
            for char in segment.text
        ]
        for line in lines
    ]


Scenario = Callable[[Pilot[Any], DataTable[Any]], Awaitable[None]]


async def focused(pilot: Pilot[Any], table: DataTable[Any]) -> None:
    table.focus()


async def blurred(pilot: Pilot[Any], table: DataTable[Any]) -> None:
    pilot.app.set_focus(None)


async def hovered(pilot: Pilot[Any], table: DataTable[Any]) -> None:
    table.focus()
    await pilot.hover("#table", offset=(3, 1 + 4))  # line 0 is the header: the fifth row


async def draw(app: App[None], scenario: Scenario) -> tuple[list[Cells], list[str]]:
    async with app.run_test(size=SIZE) as pilot:
        table: DataTable[Any] = app.query_one("#table", DataTable)
        await pilot.pause()
        table.move_cursor(row=CURSOR_ROW)
        await scenario(pilot, table)
        await pilot.pause()
        cells = drawn(table)
        return cells, ["".join(char for char, _, _ in line) for line in cells]


async def live_cells(theme: str) -> list[tuple[str, list[Text]]]:
    """The Text objects LiveTable stores for ROWS, read back through DataTable's public API."""
    app = LiveTableApp(theme)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(ProcessesTable)
        return [(key, list(table.get_row(key))) for key, _ in ROWS]


THEMES = ["textual-dark", "textual-light"]
SCENARIOS = [focused, blurred, hovered]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_live_table_draws_what_data_table_draws(scenario: Scenario, theme: str) -> None:
    live, live_text = await draw(LiveTableApp(theme), scenario)
    plain, plain_text = await draw(PlainTableApp(theme, await live_cells(theme)), scenario)

    assert live_text == plain_text
    assert "4103    3   running     12s" in live_text[1 + CURSOR_ROW]
    assert "…" in live_text[1 + 3]  # "exited-and-gone" does not fit its column
    for y, (live_line, plain_line) in enumerate(zip(live, plain, strict=True)):
        assert live_line == plain_line, f"line {y} ({live_text[y]!r}) is styled differently"


async def test_the_cursor_row_is_drawn_highlighted() -> None:
    """The comparison above is only worth something if the cursor row really stands out."""
    live, _ = await draw(LiveTableApp(THEMES[0]), focused)
    cursor_line, other_line = live[1 + CURSOR_ROW], live[1 + CURSOR_ROW + 1]
    assert {style.bgcolor for _, style, _ in cursor_line} != {
        style.bgcolor for _, style, _ in other_line
    }
    assert {meta.get("row") for _, _, meta in cursor_line} == {CURSOR_ROW}

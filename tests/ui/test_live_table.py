"""The tables repaint cell by cell: a changed cell costs that cell, not the table
(docs/ui.md#responsiveness)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region

from tuiman.ui.widgets.live_table import Row
from tuiman.ui.widgets.tables import ProcessesTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ProcessesTable(id="processes")


def rows(ages: list[str]) -> list[Row]:
    return [
        (
            str(1000 + wid),
            (
                (str(1000 + wid), "plain"),
                (str(wid), "plain"),
                ("running", "ok"),
                (age, "plain"),
                ("0.0%", "plain"),
                ("1.2M", "plain"),
                ("-", "muted"),
            ),
        )
        for wid, age in enumerate(ages, start=1)
    ]


def line_text(table: ProcessesTable, y: int) -> str:
    return table.render_line(y).text


async def test_a_changed_cell_repaints_only_that_cell() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ProcessesTable)
        table.sync(rows(["5s", "5s", "5s", "5s"]))
        await pilot.pause()
        assert "1003    3   running     5s" in line_text(table, 3)  # header on line 0
        strips = {key: cached[1] for key, cached in table._row_strips.items()}
        assert len(strips) == 4

        already_dirty = set(table._dirty_regions)
        table.sync(rows(["5s", "5s", "6s", "5s"]))
        # Only the age cell of the third row is dirty: x 21..28 (pid 8, wid 4, state 9), y 3.
        assert table._dirty_regions - already_dirty == {Region(24, 3, 7, 1)}
        await pilot.pause()
        assert "1003    3   running     6s" in line_text(table, 3)
        after = {key: cached[1] for key, cached in table._row_strips.items()}
        rebuilt = {key for key in strips if after[key] is not strips[key]}
        assert rebuilt == {"1003"}  # the other rows are drawn from their cached strips
        assert table.updates == 1


async def test_rows_scrolled_out_of_view_are_updated_but_not_repainted() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 6)) as pilot:  # room for the header and 5 rows
        table = app.query_one(ProcessesTable)
        table.sync(rows(["1s"] * 20))
        await pilot.pause()
        already_dirty = set(table._dirty_regions)
        table.sync(rows(["1s"] * 19 + ["2s"]))
        assert table._dirty_regions == already_dirty  # the last row is off screen
        table.move_cursor(row=19)
        await pilot.pause()
        bottom = [line_text(table, y) for y in range(table.size.height)]
        assert any("1020    20  running     2s" in line for line in bottom)


async def test_rows_off_screen_get_their_new_texts_only_when_read() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 6)) as pilot:  # room for the header and 5 rows
        table = app.query_one(ProcessesTable)
        table.sync(rows(["1s"] * 20))
        await pilot.pause()
        table.sync(rows(["2s"] * 20))
        assert table.updates == 5  # the rows on screen; the 15 others wait
        assert table.get_cell("1012", "age").plain == "2s"  # read: brought up to date
        assert table.updates == 6
        table.move_cursor(row=19)
        await pilot.pause()
        bottom = [line_text(table, y) for y in range(table.size.height)]
        assert any("1020    20  running     2s" in line for line in bottom)
        assert not any("1s" in line for line in bottom)
        table.sync(rows(["3s"] * 20))  # and a row behind by two changes catches up to the last
        assert [cell.plain for cell in table.get_column("age")] == ["3s"] * 20


async def test_cursor_row_is_restyled_when_the_cursor_moves() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ProcessesTable)
        table.sync(rows(["5s", "5s"]))
        table.focus()
        await pilot.pause()
        first_before = table.render_line(1)
        second_before = table.render_line(2)
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_row == 1
        # The highlight moved: both lines are styled differently, their text is the same.
        assert table.render_line(1).text == first_before.text
        assert list(table.render_line(1)) != list(first_before)
        assert list(table.render_line(2)) != list(second_before)


async def test_cells_given_as_plain_strings_are_drawn_too() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 6)) as pilot:
        table = app.query_one(ProcessesTable)
        # Plain strings on purpose: DataTable takes them at run time, though typed as Text.
        table.add_row("4242", "1", "running", "3s", "0.0%", "1.0M", "-", key="4242")  # type: ignore[arg-type]
        await pilot.pause()
        assert "4242    1   running     3s" in line_text(table, 1)

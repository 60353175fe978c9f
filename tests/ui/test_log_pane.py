"""The output pane as a place to work in — wrap, timestamps, clear, every watcher at once,
JSON indented, select and copy — with real children."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from functools import partial
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.scripted import ScriptedClient
from tests.ui.test_attach_and_mouse import scripted, settled
from tests.ui.uihelpers import make_app, palette_offers, running
from tuiman.ui.app import TuimanApp
from tuiman.ui.preferences import load_preferences
from tuiman.ui.pretty_json import pretty_json_lines
from tuiman.ui.widgets.output_view import OutputView, arrival_time, watcher_style

pytestmark = pytest.mark.timeout(60)

LONG = "".join(f"{n:03d}-" for n in range(60))  # 240 characters, each position readable

# A long line between two short ones, then `tick N` every 0.2 s (a cleared pane has
# something new to show).
TALKER = textwrap.dedent(
    f"""
    import time
    print("first", flush=True)
    print({LONG!r}, flush=True)
    print("after-long", flush=True)
    n = 0
    while True:
        time.sleep(0.2)
        n += 1
        print(f"tick {{n}}", flush=True)
    """
)


def talker_toml(tmp_path: Path) -> str:
    script = tmp_path / "talker.py"
    script.write_text(TALKER)
    return textwrap.dedent(
        f"""
        [watchers.talker]
        cmd = [{sys.executable!r}, "-u", {str(script)!r}]
        numprocesses = 1
        graceful_timeout = 3.0
        """
    )


def screen_rows(view: OutputView) -> list[str]:
    """The pane's rows as drawn (trailing blanks cut)."""
    height = view.scrollable_content_region.height
    return [view.render_line(y).text.rstrip() for y in range(height)]


def shown_texts(view: OutputView) -> list[str]:
    return [entry.text for entry in view.items]


async def started(app: TuimanApp, pilot: Pilot[int]) -> OutputView:
    view = app.main.output
    await wait_until(
        lambda: "after-long" in shown_texts(view), pause=pilot.pause, what="the long line shown"
    )
    await pilot.pause()
    return view


async def test_w_wraps_long_lines_at_the_pane_width_and_is_remembered(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    arbiter = build_arbiter(tmp_path, talker_toml(tmp_path))
    app = make_app(arbiter, tmp_path, settings=settings)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        view.scroll_to_row(0)  # hold still at the top while ticks arrive
        await pilot.pause()
        width = view.scrollable_content_region.width
        rows = screen_rows(view)
        assert rows[1] == (" 1│ " + LONG)[:width]  # cut at the edge: scrolls sideways
        assert rows[2].endswith("after-long")

        await pilot.press("w")
        await wait_until(lambda: view.wrap, pause=pilot.pause)
        view.scroll_to_row(0)
        await pilot.pause()
        width = view.scrollable_content_region.width
        rows = screen_rows(view)
        assert rows[0].endswith("first")
        folded = -(-(len(LONG) + 4) // width)
        assert folded > 1
        joined = "".join(view.render_line(y).text for y in range(1, 1 + folded))
        assert joined.rstrip() == " 1│ " + LONG  # every character, in order, at the width
        assert all(len(view.render_line(y).text) == width for y in range(1, 1 + folded))
        assert rows[1 + folded].endswith("after-long")
        assert "wrap" in str(app.main.output_panel.border_subtitle)
        assert view.virtual_size.width == 0  # nothing to scroll sideways

        # following again, the newest tick is the last row, as without wrapping
        await pilot.press("end")
        await pilot.pause()
        newest = view.items[-1].text
        await wait_until(
            lambda: newest in "\n".join(screen_rows(view)), pause=pilot.pause, what="newest"
        )
    preferences, problems = load_preferences(settings)
    assert problems == [] and preferences.wrap
    assert tomllib.loads(settings.read_text())["ui"]["wrap"] is True

    # the next session starts wrapped
    arbiter = build_arbiter(tmp_path, talker_toml(tmp_path))
    app = make_app(arbiter, tmp_path, settings=settings)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        assert view.wrap
        await pilot.press("w")
        await wait_until(lambda: not view.wrap, pause=pilot.pause)
    assert not load_preferences(settings)[0].wrap


async def test_shift_t_prefixes_each_line_with_its_arrival_time(tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    arbiter = build_arbiter(tmp_path, talker_toml(tmp_path))
    app = make_app(arbiter, tmp_path, settings=settings)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        view.scroll_to_row(0)
        await pilot.pause()
        assert screen_rows(view)[0] == " 1│ first"
        await pilot.press("T")
        await wait_until(lambda: view.timestamps, pause=pilot.pause)
        view.scroll_to_row(0)
        await pilot.pause()
        first = view.items[0]
        assert screen_rows(view)[0] == f"{arrival_time(first.time)}  1│ first"
        assert "time" in str(app.main.output_panel.border_subtitle)
    assert load_preferences(settings)[0].timestamps


async def test_c_clears_the_pane_and_a_reselect_does_not_bring_the_lines_back(
    tmp_path: Path,
) -> None:
    arbiter = build_arbiter(tmp_path, talker_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        assert "first" not in shown_texts(view) and "after-long" not in shown_texts(view)

        def a_new_tick() -> bool:
            return any(text.startswith("tick") for text in shown_texts(view))

        await wait_until(a_new_tick, pause=pilot.pause, what="a line after the clear")
        assert view.render_line(0).text.startswith(" 1│ tick")
        # the process' own view (tab), then the watcher again (shift+tab): still cleared
        await pilot.press("tab")
        await wait_until(lambda: app.main.process_focused, pause=pilot.pause)
        assert "first" not in shown_texts(view) and a_new_tick()
        await pilot.press("shift+tab")
        await wait_until(lambda: not app.main.process_focused, pause=pilot.pause)
        await pilot.pause()
        assert "first" not in shown_texts(view) and a_new_tick()
        assert "first" in [e.text for e in app.model.output_of("talker")]  # only the pane's


def two_talkers_toml(tmp_path: Path) -> str:
    one = talker_toml(tmp_path)
    return one + one.replace("[watchers.talker]", "[watchers.billing-worker]")


async def test_a_shows_every_watchers_lines_each_named_in_its_colour(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, two_talkers_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        await wait_until(  # both have printed (each watcher's own process, no order between them)
            lambda: all(
                "after-long" in [e.text for e in app.model.output_of(name)]
                for name in ("talker", "billing-worker")
            ),
            pause=pilot.pause,
        )
        assert {e.watcher for e in view.items} == {app.main.selected}
        await pilot.press("a")
        await pilot.pause()
        assert {e.watcher for e in view.items} == {"talker", "billing-worker"}
        assert "all watchers" in str(app.main.output_panel.border_title)
        times = [e.time for e in view.items]
        assert times == sorted(times)  # interleaved as they arrived
        view.scroll_to_row(0)
        await pilot.pause()
        for y, entry in enumerate(list(view.items)[: view.scrollable_content_region.height]):
            strip = view.render_line(y)
            # the name is a column of its own (readable without colour: NO_COLOR)
            assert strip.text.startswith(f"{entry.watcher:<14}  1│ "), strip.text
            name_style = next(iter(strip)).style
            assert name_style is not None and name_style.color == watcher_style(entry.watcher).color
        assert watcher_style("talker").color != watcher_style("billing-worker").color

        # new lines of both keep coming in; c clears the combined view only
        await pilot.press("c")
        await pilot.pause()
        await wait_until(
            lambda: {e.watcher for e in view.items} == {"talker", "billing-worker"},
            pause=pilot.pause,
            what="ticks of both after the clear",
        )
        assert all(e.text.startswith("tick") for e in view.items)
        await pilot.press("a")
        await pilot.pause()
        assert {e.watcher for e in view.items} == {app.main.selected}
        assert "first" in shown_texts(view)  # the watcher's own view was not cleared


async def test_j_draws_json_object_lines_indented_over_several_rows(tmp_path: Path) -> None:
    config = talker_toml(tmp_path)
    script = tmp_path / "talker.py"
    script.write_text(
        TALKER.replace(
            'print("first", flush=True)',
            'print(\'{"level": "info", "msg": "ready", "port": 8080}\', flush=True)\n'
            'print("[1, 2]", flush=True)',
        )
    )
    arbiter = build_arbiter(tmp_path, config)
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        view.scroll_to_row(0)
        await pilot.pause()
        assert screen_rows(view)[:2] == [
            ' 1│ {"level": "info", "msg": "ready", "port": 8080}',
            " 1│ [1, 2]",
        ]
        await pilot.press("j")
        await wait_until(lambda: view.pretty_json, pause=pilot.pause)
        view.scroll_to_row(0)
        await pilot.pause()
        assert (
            screen_rows(view)[:7]
            == [
                " 1│ {",
                '      "level": "info",',
                '      "msg": "ready",',
                '      "port": 8080',
                "    }",
                " 1│ [1, 2]",  # an array is not an object: as it came
                " 1│ " + LONG[: view.scrollable_content_region.width - 4],
            ]
        )
        assert "json" in str(app.main.output_panel.border_subtitle)
        await pilot.press("j")
        await wait_until(lambda: not view.pretty_json, pause=pilot.pause)
        view.scroll_to_row(0)
        await pilot.pause()
        assert screen_rows(view)[1] == " 1│ [1, 2]"


def reversed_rows(view: OutputView) -> list[int]:
    """Rows on screen drawn in reverse video (the selection)."""
    rows = []
    for y in range(view.scrollable_content_region.height):
        if any(seg.style is not None and seg.style.reverse for seg in view.render_line(y)):
            rows.append(y)
    return rows


async def test_v_selects_lines_with_the_keys_and_y_copies_them_through_osc_52(
    tmp_path: Path,
) -> None:
    arbiter = build_arbiter(tmp_path, talker_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        await wait_until(lambda: view.line_count >= 6, pause=pilot.pause, what="6 lines")
        await pilot.press("v")
        await wait_until(lambda: view.selection is not None, pause=pilot.pause)
        assert view.has_focus and not view.follow  # holds still while selecting
        selection = view.selection
        assert selection is not None
        cursor = selection.cursor
        assert cursor == min(view.line_count, view.scrollable_content_region.height) - 1
        await pilot.press("up")  # moves: one line selected
        assert (selection.first, selection.last) == (cursor - 1, cursor - 1)
        await pilot.press("shift+up", "shift+up")  # extends
        await pilot.pause()
        assert (selection.first, selection.last) == (cursor - 3, cursor - 1)
        assert len(reversed_rows(view)) == 3
        await wait_until(
            lambda: "select 3" in str(app.main.output_panel.border_subtitle), pause=pilot.pause
        )
        expected = [e.text for e in list(view.items)[cursor - 3 : cursor]]

        await pilot.press("y")
        await wait_until(lambda: view.selection is None, pause=pilot.pause)
        assert app.clipboard == "\n".join(expected) + "\n"
        assert reversed_rows(view) == []
        assert view.follow  # it followed before: it follows again

        # escape leaves without copying; the keys scroll again
        await pilot.press("v", "up", "escape")
        await wait_until(lambda: view.selection is None, pause=pilot.pause)
        assert app.clipboard == "\n".join(expected) + "\n"
        assert view.has_focus


async def test_moving_in_the_tables_keeps_the_combined_view_as_it_is(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, two_talkers_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        view = await started(app, pilot)
        await pilot.press("a")
        await pilot.pause()
        await wait_until(lambda: view.line_count >= 8, pause=pilot.pause, what="8 lines")
        view.scroll_to_row(2)  # paused, reading
        await pilot.pause()
        first_shown = view.items[2]
        await pilot.press("down")  # the other watcher: the combined view stays, paused
        await pilot.pause()
        assert "all watchers" in str(app.main.output_panel.border_title)
        assert not view.follow and view.items[2] is first_shown
        assert {e.watcher for e in view.items} == {"talker", "billing-worker"}


def test_pretty_json_never_decodes_a_control_sequence_into_the_terminal() -> None:
    # \u009b is a one-byte CSI, \u001b an ESC: decoded, they would drive the terminal.
    lines = pretty_json_lines('{"a": "\\u009b31mred", "b": "\\u001b[2J", "c": "é"}')
    assert lines == ("{", '  "a": "\\u009b31mred",', '  "b": "\\u001b[2J",', '  "c": "é"', "}")
    assert pretty_json_lines("[1, 2]") is None  # only objects
    assert pretty_json_lines("{not json}") is None
    assert pretty_json_lines("{" * 100_000 + "}" * 100_000) is None  # too deep: as it came


async def test_the_palette_switches_the_output_modes(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        view = app.main.output
        for query, expected, switched in [
            ("wrap output", "wrap output lines on/off", lambda: view.wrap),
            ("output timestamps", "output timestamps on/off", lambda: view.timestamps),
            ("pretty json", "pretty-print JSON lines on/off", lambda: view.pretty_json),
            ("all watchers' output", "all watchers' output on/off", lambda: view.combined),
            ("select and copy", "select and copy output lines", lambda: bool(view.selection)),
        ]:
            await pilot.press("ctrl+p", *query)
            await wait_until(partial(palette_offers, app, expected), pause=pilot.pause)
            await pilot.press("enter")
            await wait_until(switched, pause=pilot.pause, what=expected)
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"clear output")
        await wait_until(lambda: palette_offers(app, "clear output"), pause=pilot.pause)
        await pilot.press("enter")
        await wait_until(lambda: view.line_count == 0, pause=pilot.pause, what="cleared")

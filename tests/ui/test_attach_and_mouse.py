"""Attach mode (a remote client: q detaches, quitting the instance asks first) and the mouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.style import Style
from textual import events
from textual.pilot import Pilot

from tests.support.waiting import wait_until
from tests.ui.scripted import FROZEN, LIVE, ScriptedClient
from tests.ui.uihelpers import palette_offers
from tuiman.ui.app import TuimanApp
from tuiman.ui.screens.confirm import ConfirmScreen
from tuiman.ui.screens.help import HelpScreen
from tuiman.ui.screens.quit_confirm import QuitConfirmScreen
from tuiman.ui.screens.quit_progress import QuitScreen

pytestmark = pytest.mark.timeout(30)


class RemoteClient(ScriptedClient):
    is_remote = True

    def __init__(self) -> None:
        super().__init__()
        self.quit_requested = False

    async def quit_instance(self) -> None:
        self.quit_requested = True


def scripted(tmp_path: Path, client: ScriptedClient) -> TuimanApp:
    return TuimanApp(client, settings=tmp_path / "none.toml", clock=lambda: FROZEN)


async def settled(app: TuimanApp, pilot: Pilot[int]) -> None:
    await wait_until(lambda: app.bridge is not None and app.bridge.events >= len(LIVE))
    await pilot.pause()  # every pending message handled: the layout follows the new rows


async def test_q_detaches_from_a_remote_instance(tmp_path: Path) -> None:
    client = RemoteClient()
    app = scripted(tmp_path, client)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        assert "attached" in str(app.main.header.render())
        await pilot.press("q")
        await wait_until(lambda: not app.is_running)
    assert not client.quit_requested  # the instance keeps running


async def test_quitting_a_remote_instance_is_a_palette_action_with_a_confirm(
    tmp_path: Path,
) -> None:
    client = RemoteClient()
    app = scripted(tmp_path, client)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        await pilot.press("ctrl+p", *"quit the instance")
        await wait_until(lambda: palette_offers(app, "quit the instance"), pause=pilot.pause)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), pause=pilot.pause)
        await pilot.press("n")
        await wait_until(lambda: not isinstance(app.screen, ConfirmScreen), pause=pilot.pause)
        assert not client.quit_requested
        app.confirm_quit_instance()
        await wait_until(lambda: isinstance(app.screen, ConfirmScreen), pause=pilot.pause)
        await pilot.press("y")
        await wait_until(lambda: client.quit_requested, pause=pilot.pause)
        await wait_until(lambda: not app.is_running)


async def test_q_asks_first_and_a_double_tap_never_kills(tmp_path: Path) -> None:
    client = ScriptedClient()  # its quit_instance never finishes: the progress view stays
    app = scripted(tmp_path, client)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        await pilot.press("q")
        await wait_until(lambda: isinstance(app.screen, QuitConfirmScreen), pause=pilot.pause)
        assert not app.quitting
        await pilot.press("escape")  # stay
        await wait_until(lambda: app.screen is app.main, pause=pilot.pause)
        assert not app.quitting
        await pilot.press("q", "q", "q", "ctrl+c", "q")  # hammered: a graceful stop, no kill
        await wait_until(lambda: isinstance(app.screen, QuitScreen), pause=pilot.pause)
        await pilot.pause()
        assert app.quitting and not client.forced
        hint = str(app.screen.hint.render())
        assert "ctrl+k" in hint
        await pilot.press("ctrl+k")  # the kill has a key of its own
        await wait_until(lambda: client.forced, pause=pilot.pause)
        assert isinstance(app.screen, QuitScreen) and app.screen.forced


async def test_a_stop_signal_never_asks(tmp_path: Path) -> None:
    client = ScriptedClient()
    app = scripted(tmp_path, client)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        await pilot.press("q")  # the question is open when SIGTERM comes
        await wait_until(lambda: isinstance(app.screen, QuitConfirmScreen), pause=pilot.pause)
        app.stop_signal()
        await wait_until(lambda: isinstance(app.screen, QuitScreen), pause=pilot.pause)
        assert app.quitting and not client.forced
        app.stop_signal()  # the second one kills
        await wait_until(lambda: client.forced, pause=pilot.pause)


async def test_a_remembered_answer_quits_without_asking(tmp_path: Path) -> None:
    client = ScriptedClient()
    app = scripted(tmp_path, client)
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        await pilot.press("q")
        await wait_until(lambda: isinstance(app.screen, QuitConfirmScreen), pause=pilot.pause)
        assert "don't ask again this session" in str(app.screen.query_one("#quit-keys").render())
        await pilot.press("a")
        await wait_until(lambda: isinstance(app.screen, QuitScreen), pause=pilot.pause)
        assert not app.ask_before_quit and not client.forced


async def test_in_attach_the_footer_and_help_say_detach(tmp_path: Path) -> None:
    app = scripted(tmp_path, RemoteClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        footer_keys = {
            binding.id: binding.description
            for binding in (active.binding for active in app.main.active_bindings.values())
        }
        assert footer_keys["quit"] == "detach"
        await pilot.press("question_mark")
        await wait_until(lambda: isinstance(app.screen, HelpScreen), pause=pilot.pause)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = {binding.id: binding.tooltip for _, binding in help_screen.bindings}
        assert rows["quit"] is not None and rows["quit"].startswith("Detach")
        assert all("Stop everything" not in (tooltip or "") for tooltip in rows.values())


async def test_clicking_rows_selects_watchers_and_processes(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        table = app.main.watchers_table
        assert app.main.selected == "web"
        # The header row is row 0 of the widget: the second watcher is at y=2.
        await pilot.click(table, offset=(2, 2))
        await wait_until(lambda: app.main.selected == "worker", pause=pilot.pause)
        await pilot.click(app.main.processes_table, offset=(2, 2))  # header, 4201, 4233
        await wait_until(lambda: app.main.output_pid == 4233, pause=pilot.pause)
        assert str(app.main.output_panel.border_title).endswith("pid 4233")


async def test_the_mouse_wheel_scrolls_the_output_and_stops_following(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 24)) as pilot:
        await settled(app, pilot)
        output = app.main.output
        output.append(list(app.model.output_of("web")) * 20)  # more lines than fit
        await pilot.pause()
        assert output.follow and output.scroll_y > 0
        region = output.region
        wheel = events.MouseScrollUp(
            output, 2, 2, 0, -1, 0, False, False, False, region.x + 2, region.y + 2
        )
        output.post_message(wheel)
        await wait_until(lambda: not output.follow, pause=pilot.pause)
        output.focus()
        await pilot.press("end")
        assert output.follow


async def test_textual_themes_apply_to_the_tables_and_logs(tmp_path: Path) -> None:
    app = scripted(tmp_path, ScriptedClient())
    async with app.run_test(size=(120, 36)) as pilot:
        await settled(app, pilot)
        table = app.main.watchers_table
        dark = table.get_cell("flaky", "state").style
        app.theme = "textual-light"
        await wait_until(
            lambda: str(table.get_cell("flaky", "state").style) != str(dark),
            pause=pilot.pause,
            what="the state cell restyled by the new theme",
        )
        await pilot.pause()  # and redrawn
        light = table.get_cell("flaky", "state").style
        assert str(light) != str(dark)  # the warning colour of the new theme
        assert table.get_cell("flaky", "state").plain == "flapping"
        # ...and that is what is drawn (rows are drawn from cached strips: they must not linger)
        line = table.render_line(table.get_row_index("flaky") + 1 - table.scroll_offset.y)
        drawn = next(segment for segment in line if segment.text.startswith("flapping"))
        assert drawn.style is not None and isinstance(light, Style)
        assert drawn.style.color == light.color

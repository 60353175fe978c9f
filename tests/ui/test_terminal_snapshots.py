"""SVG snapshots of the output pane drawing a pty process through its emulator, and of typing
mode's footer (docs/terminals.md#in-the-ui), from a scripted core.

Update them with `pytest tests/ui/test_terminal_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.support.waiting import wait_until
from tests.ui.scripted import FROZEN, SNAPSHOT_SEQ, ScriptedClient, ScriptedStream, process, watcher
from tuiman.core.events import Event, Kind
from tuiman.ui.app import TuimanApp

pytestmark = pytest.mark.timeout(60)

PID = 4301


def _colourful() -> str:
    esc = "\x1b["
    lines = [f"{esc}1mdeploy dashboard{esc}0m  {esc}2m(a pty process){esc}0m", ""]
    names = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
    lines.append("".join(f"{esc}{30 + n}m{name:<9}{esc}0m" for n, name in enumerate(names)))
    lines.append("".join(f"{esc}{90 + n}m{name:<9}{esc}0m" for n, name in enumerate(names)))
    lines.append("".join(f"{esc}{40 + n}m{esc}30m {n} {esc}0m" for n in range(8)))
    lines.append("".join(f"{esc}48;5;{16 + n * 6}m  {esc}0m" for n in range(36)))
    lines.append("".join(f"{esc}48;2;{n * 7};80;{255 - n * 7}m {esc}0m" for n in range(36)))
    lines.append(
        f"{esc}1mbold{esc}0m {esc}3mitalic{esc}0m {esc}4munderline{esc}0m "
        f"{esc}9mstrike{esc}0m {esc}7mreverse{esc}0m"
    )
    lines.append("┌──────────────┬─────────┐")
    lines.append(f"│ web          │ {esc}32m● up{esc}0m    │")
    lines.append(f"│ worker       │ {esc}31m✖ down{esc}0m  │")
    lines.append("└──────────────┴─────────┘")
    lines.append("$ ")
    return "\r\n".join(lines)


TERMINAL_TEXT = _colourful()


class TerminalClient(ScriptedClient):
    """One pty watcher, whose terminal replays a colourful screen."""

    def __init__(self) -> None:
        super().__init__()
        snapshot = {
            "config": "/home/ada/shop/tuiman.toml",
            "started": FROZEN - 600,
            "pid": 4000,
            "watchers": [
                watcher(
                    "dashboard",
                    "active",
                    0,
                    1,
                    cmd="python3 -m shop.dashboard",
                    input="pty",
                    processes=[process(PID, 1, 300)],
                ),
                watcher("worker", "active", 0, 1, processes=[process(4302, 1, 300)]),
            ],
        }
        self.stream = ScriptedStream(
            [Event(SNAPSHOT_SEQ, FROZEN - 10, Kind.SNAPSHOT, None, snapshot)]
        )

    async def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        if command == "terminal":
            self.requests.append((command, arguments))
            data = TERMINAL_TEXT
            return {"ok": True, "pid": PID, "data": data, "end": len(data), "rows": 24, "cols": 80}
        if command == "logs":
            self.requests.append((command, arguments))
            return {"ok": True, "lines": []}
        return await super().request(command, **arguments)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def terminal_app(tmp_path: Path) -> TuimanApp:
    return TuimanApp(TerminalClient(), settings=tmp_path / "none.toml", clock=lambda: FROZEN)


def drawn(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, TuimanApp)
        terminal = app.main.output_panel.terminal
        await wait_until(
            lambda: any("dashboard" in line for line in terminal.text_lines()),
            pause=pilot.pause,
            what="the replayed terminal",
        )
        await pilot.press(*keys)
        await pilot.pause()
        app.main.tick()
        await pilot.pause()

    return run_before


def test_a_pty_process_in_the_output_pane(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(terminal_app(tmp_path), terminal_size=(120, 36), run_before=drawn())


def test_typing_mode_footer(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(terminal_app(tmp_path), terminal_size=(120, 36), run_before=drawn("t"))

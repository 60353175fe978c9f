"""A line redrawn with carriage returns, as each reader gets it
(docs/terminals.md#carriage-returns): its last state in headless human output and in the UI's
output pane, every state in the JSON for machines. No processes: events in, text out."""

from __future__ import annotations

import json

from tests.support.events import make_event
from tuiman.core.events import Event, Kind
from tuiman.headless import LineFormatter, format_json
from tuiman.ui.model import CoreModel

PROGRESS = "downloading 0%\rdownloading 50%\rdownloading 100%"


def progress_event() -> Event:
    payload = {"pid": 7, "wid": 1, "stream": "stdout", "line": PROGRESS}
    return make_event(1, 1_700_000_000.0, Kind.OUTPUT, "fetch", payload)


def test_headless_shows_the_last_state() -> None:
    line = LineFormatter(colour=False).format(progress_event())
    assert line == "fetch.1 | downloading 100%"


def test_json_keeps_every_state_for_machines() -> None:
    shown = format_json(progress_event(), show_output=True)
    assert shown is not None
    assert json.loads(shown)["line"] == PROGRESS


def test_the_output_pane_shows_the_last_state() -> None:
    model = CoreModel()
    changes = model.apply([progress_event()])
    assert [entry.text for entry in changes.output] == ["downloading 100%"]
    assert [entry.text for entry in model.output_of("fetch")] == ["downloading 100%"]


def test_terminal_events_are_not_printed_by_headless() -> None:
    raw = make_event(
        2,
        1_700_000_000.0,
        Kind.TERMINAL,
        "fetch",
        {"pid": 7, "wid": 1, "data": "\x1b[2J\x1b[Hhi", "end": 10},
    )
    assert LineFormatter(colour=False).format(raw) is None
    assert format_json(raw, show_output=True) is None

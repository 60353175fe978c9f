"""How restart on change reads: the headless line and the UI's hook-event log row of a
`files_changed` and a `watch_error` event. Pure functions of hand-built, checked events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.events import make_event
from tuiman.core.events import Event, Kind
from tuiman.headless import LineFormatter
from tuiman.ui.log_entries import Outcome, lifecycle_entry

AT = 1_700_000_000.0


def ev(kind: str, **payload: Any) -> Event:
    return make_event(7, AT, kind, "web", payload)


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (
            ev(Kind.FILES_CHANGED, paths=["src/app.py"], count=1, restart=True),
            "src/app.py: restart",
        ),
        (
            ev(Kind.FILES_CHANGED, paths=[f"m{n}.py" for n in range(10)], count=14, restart=True),
            ", ".join(f"m{n}.py" for n in range(10)) + " (+4 more): restart",
        ),
        (
            ev(
                Kind.FILES_CHANGED,
                paths=["a.py"],
                count=1,
                restart=False,
                skipped="stopped by a command",
            ),
            "a.py: no restart (stopped by a command)",
        ),
    ],
)
def test_files_changed_reads_the_same_in_headless_and_in_the_ui(event: Event, detail: str) -> None:
    line = LineFormatter(colour=False).format(event)
    assert line is not None and line.endswith(f" web files changed: {detail}")
    entry = lifecycle_entry(event)
    assert (entry.label, entry.detail, entry.outcome) == ("files changed", detail, Outcome.INFO)


def test_a_watch_error_is_an_error_row_and_a_red_line() -> None:
    event = ev(Kind.WATCH_ERROR, error="watching /srv/app/src failed: gone")
    entry = lifecycle_entry(event)
    assert (entry.label, entry.detail, entry.outcome) == (
        "watch_error",
        "watching /srv/app/src failed: gone",
        Outcome.ERROR,
    )
    line = LineFormatter(colour=True).format(event)
    assert line is not None and "\x1b[31mwatch error: watching /srv/app/src failed: gone" in line

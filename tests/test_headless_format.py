"""The headless printer's formatting: events in, human lines and JSON lines out, colours off
and on. No arbiter and no processes."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import make_event
from tuiman.core.events import Event, Kind
from tuiman.headless import PALETTE, LineFormatter, format_json, use_colour

AT = 1_700_000_000.25
STAMP = time.strftime("%H:%M:%S", time.localtime(AT)) + ".250"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ev(kind: str, watcher: str | None = "web", **payload: Any) -> Event:
    return make_event(42, AT, kind, watcher, payload)


def plain(event: Event, show_output: bool = True) -> str | None:
    return LineFormatter(colour=False, show_output=show_output).format(event)


@pytest.mark.parametrize(
    ("event", "text"),
    [
        (ev(Kind.SPAWN, process_pid=101, pid=101, wid=1), "spawn pid=101 wid=1"),
        (
            ev(Kind.REAP, process_pid=101, pid=101, wid=1, exit_code=3, process_status=768),
            "reap pid=101 wid=1 exit_code=3 (own exit)",
        ),
        (
            ev(Kind.REAP, process_pid=101, pid=101, wid=1, exit_code=-15, process_status=None),
            "reap pid=101 wid=1 exit_code=-15 (by tuiman)",
        ),
        (
            ev(Kind.STATE, old="active", new="stopping", reason="command"),
            "state active → stopping (command)",
        ),
        (ev(Kind.KILL, process_pid=101, pid=101, signum=9), "kill pid=101 SIGKILL"),
        (ev(Kind.SIGNAL, process_pid=101, pid=101, signum=1), "signal pid=101 SIGHUP"),
        (ev(Kind.SIGNAL, process_pid=101, pid=101, signum=99), "signal pid=101 99"),
        (
            ev(Kind.FLAPPING, wid=2, attempt=3, retry_in=8.0),
            "flapping wid=2 pause 3, retry in 8.0s",
        ),
        (
            ev(Kind.FAILED, reason="flap_exhausted", detail="crashed 5 times"),
            "failed: crashed 5 times",
        ),
        (ev(Kind.FAILED, reason="spawn_error", detail="spawn_error"), "failed: spawn_error"),
        (
            ev(Kind.SPAWN_ERROR, wid=1, error="No such file or directory", errno=2),
            "spawn error wid=1: No such file or directory",
        ),
        (ev(Kind.STOP, reason="quit", leaked_pids=[7, 8]), "stop (leaked pids [7, 8])"),
        (ev(Kind.STOP, reason="command"), "stop reason=command"),
        (ev(Kind.START), "start"),
        (
            ev(Kind.HOOK_SUCCESS, name="before_start", duration=0.0123, vetoed=False),
            "hook before_start ok 12.3ms",
        ),
        (
            ev(Kind.HOOK_SUCCESS, name="before_start", vetoed=True, duration=0.002),
            "hook before_start VETOED after 2.0ms",
        ),
        (
            ev(
                Kind.HOOK_FAILURE,
                name="before_signal",
                pid=101,
                vetoed=True,
                duration=0.3,
                error="timed out after 0.3s",
            ),
            "hook before_signal pid=101 FAILED, vetoed after 300.0ms: timed out after 0.3s",
        ),
        (
            ev(
                Kind.HOOK_FAILURE,
                name="after_reap",
                duration=0.001,
                vetoed=False,
                error="RuntimeError: boom",
            ),
            "hook after_reap FAILED (ignored) after 1.0ms: RuntimeError: boom",
        ),
    ],
)
def test_human_lines_without_colour(event: Event, text: str) -> None:
    assert plain(event) == f"{STAMP} web {text}"


def test_arbiter_events_and_dropped_output_are_announced_as_tuiman() -> None:
    assert plain(ev(Kind.DROPPED, None, count=12)) == (
        f"{STAMP} tuiman printer fell behind: 12 output/stats events dropped"
    )
    assert (
        plain(ev("deploy_done", None, version="1.2")) == f"{STAMP} tuiman deploy_done version=1.2"
    )


def test_output_lines_carry_the_watcher_and_slot() -> None:
    line = ev(Kind.OUTPUT, pid=101, wid=2, stream="stdout", line="listening on :8000")
    assert plain(line) == "web.2 | listening on :8000"
    assert plain(line, show_output=False) is None


def test_snapshots_and_stats_are_not_printed() -> None:
    snapshot = ev(Kind.SNAPSHOT, None, config="x.toml", started=AT, pid=1, watchers=[])
    stats = ev(Kind.STATS, cpu=1.0, rss=1024, processes={})
    for event in (snapshot, stats):
        assert plain(event) is None
        assert format_json(event, show_output=True) is None


def test_colours_paint_what_matters_and_strip_back_to_the_plain_line() -> None:
    painted = LineFormatter(colour=True)
    events = [
        ev(Kind.STATE, old="active", new="failed", reason="flap_exhausted"),
        ev(Kind.HOOK_SUCCESS, name="before_start", duration=0.001, vetoed=False),
        ev(Kind.HOOK_SUCCESS, name="before_start", vetoed=True, duration=0.001),
        ev(Kind.REAP, process_pid=1, pid=1, wid=1, exit_code=2, process_status=512),
        ev(Kind.OUTPUT, pid=1, wid=1, stream="stdout", line="hello"),
    ]
    lines = [painted.format(event) or "" for event in events]
    for event, line in zip(events, lines, strict=True):
        assert ANSI.sub("", line) == plain(event)
    assert "\x1b[90m" + STAMP in lines[0]  # the time is grey
    assert "\x1b[31mstate active → failed (flap_exhausted)" in lines[0]  # failed is red
    assert "\x1b[32mhook before_start ok" in lines[1]  # green
    assert "\x1b[33mhook before_start VETOED" in lines[2]  # yellow
    assert "\x1b[31mreap pid=1" in lines[3]  # its own non-zero exit: red
    label = painted.watcher_label("web")
    code = int(label[2 : label.index("m")])
    assert code in PALETTE and label == f"\x1b[{code}mweb\x1b[0m"
    assert lines[4].startswith(painted.watcher_label("web.1"))
    # One watcher always gets the same colour.
    assert painted.watcher_label("web") == LineFormatter(colour=True).watcher_label("web")


def test_a_reap_by_tuiman_is_not_an_error() -> None:
    line = LineFormatter(colour=True).format(
        ev(Kind.REAP, process_pid=1, pid=1, wid=1, exit_code=-15, process_status=None)
    )
    assert line is not None and "\x1b[31m" not in line


def test_json_lines_are_the_event_dictionary() -> None:
    event = ev(Kind.STATE, old="active", new="stopping", reason="command")
    line = format_json(event, show_output=True)
    assert line is not None and "\n" not in line
    assert json.loads(line) == {
        "seq": 42,
        "time": AT,
        "topic": "watcher.web.state",
        "kind": "state",
        "watcher": "web",
        "old": "active",
        "new": "stopping",
        "reason": "command",
    }
    arbiter = json.loads(format_json(ev(Kind.DROPPED, None, count=3), True) or "")
    assert arbiter == {
        "seq": 42,
        "time": AT,
        "topic": "arbiter.dropped",
        "kind": "dropped",
        "count": 3,
    }


def test_json_output_lines_follow_show_output_and_keep_unicode() -> None:
    line = ev(Kind.OUTPUT, pid=1, wid=1, stream="stderr", line="héllo → wörld")
    text = format_json(line, show_output=True)
    assert text is not None and "héllo → wörld" in text  # not \u escapes
    assert json.loads(text)["stream"] == "stderr"
    assert format_json(line, show_output=False) is None


def test_json_lines_survive_values_json_does_not_know() -> None:
    text = format_json(ev("custom", None, path=Path("/tmp/x")), True)
    assert text is not None and json.loads(text)["path"] == "/tmp/x"


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_colour_follows_no_color_force_color_and_the_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert use_colour(_Stream(tty=True)) is True
    assert use_colour(_Stream(tty=False)) is False
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert use_colour(_Stream(tty=False)) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour(_Stream(tty=True)) is False

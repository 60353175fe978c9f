"""What the signal picker offers for what is typed: names first, numbers and any OS signal."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.procs import state
from tests.support.waiting import wait_until
from tests.ui.uihelpers import live_pids, make_app, running, sleeper_toml, wait_ready
from tuiman.ui.screens.signal_picker import SignalPicker, signal_choices


def first(term: str) -> tuple[int, str]:
    signum, name, _ = signal_choices(term)[0]
    return signum, name


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("st", (signal.SIGSTOP, "STOP")),  # TERM's description says "stop": a name comes first
        ("te", (signal.SIGTERM, "TERM")),
        ("sigterm", (signal.SIGTERM, "TERM")),
        ("hup", (signal.SIGHUP, "HUP")),
        ("9", (signal.SIGKILL, "KILL")),
        ("15", (signal.SIGTERM, "TERM")),
        ("pipe", (signal.SIGPIPE, "PIPE")),  # not in the short list, but the OS knows it
        ("RTMIN+2", (signal.SIGRTMIN + 2, "RTMIN+2")),
    ],
)
def test_exact_and_prefix_names_and_numbers_rank_first(
    typed: str, expected: tuple[int, str]
) -> None:
    assert first(typed) == expected


def test_a_description_match_comes_after_every_name_match() -> None:
    names = [name for _, name, _ in signal_choices("st")]
    assert names.index("TERM") > names.index("STOP")
    assert "TERM" in names  # still offered, through its description


def test_nothing_typed_offers_the_short_list_and_nonsense_offers_nothing() -> None:
    assert [name for _, name, _ in signal_choices("")][:3] == ["TERM", "HUP", "INT"]
    assert signal_choices("xyz") == []
    assert signal_choices("0") == [] and signal_choices("RTMIN+999") == []


async def test_typing_st_then_enter_stops_the_processes_it_never_terminates_them(
    tmp_path: Path,
) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        pids = await wait_ready(app, arbiter, "sleeper", 2, pilot)
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await pilot.press("s", "t", "enter")
        await wait_until(
            lambda: all(state(pid) == "T" for pid in pids), pause=pilot.pause, what="stopped"
        )
        assert set(live_pids(arbiter, "sleeper")) == set(pids)  # SIGSTOP, not SIGTERM
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

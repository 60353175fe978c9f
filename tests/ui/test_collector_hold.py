"""The cyclic garbage collector is held off while a key's answer is drawn, and only then."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.core import build_arbiter
from tests.support.waiting import wait_until
from tests.ui.uihelpers import has_processes, make_app, running, sleeper_toml
from tuiman.ui.collector_hold import LONGEST_HOLD, CollectorHold
from tuiman.ui.screens.signal_picker import SignalPicker

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


async def test_a_hold_pauses_the_collector_until_it_runs_out() -> None:
    hold = CollectorHold()
    hold.hold(0.05)
    assert not gc.isenabled()
    await wait_until(gc.isenabled)


async def test_a_collector_switched_off_by_someone_else_stays_off() -> None:
    gc.disable()
    hold = CollectorHold()
    hold.hold(0.01)
    await asyncio.sleep(0.05)  # past the hold: nothing of ours may switch it on
    assert not gc.isenabled()
    hold.release()
    assert not gc.isenabled()


async def test_a_key_held_down_does_not_keep_the_collector_off() -> None:
    hold = CollectorHold()
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not gc.isenabled() or loop.time() - started < 0.01:
        hold.hold(0.2)  # auto-repeat: a key every 10 ms
        await asyncio.sleep(0.01)
        assert loop.time() - started < LONGEST_HOLD + 1.0, "the collector never came back"


async def test_a_key_in_the_app_holds_the_collector_and_lets_it_go(tmp_path: Path) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: app.bridge is not None and has_processes(app), pause=pilot.pause)
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await wait_until(gc.isenabled, pause=pilot.pause)
        app.collector_hold.hold(10.0)  # as if a key came just before quitting
    assert gc.isenabled()  # the session ends with the collector on


async def test_a_key_holds_batches_and_collector_until_its_answer_is_drawn(
    tmp_path: Path,
) -> None:
    arbiter = build_arbiter(tmp_path, sleeper_toml(tmp_path, numprocesses=1))
    app = make_app(arbiter, tmp_path)
    async with running(arbiter, app) as pilot:
        await wait_until(lambda: app.bridge is not None and has_processes(app), pause=pilot.pause)
        bridge = app.bridge
        assert bridge is not None
        await pilot.press("k")
        await wait_until(lambda: isinstance(app.screen, SignalPicker), pause=pilot.pause)
        # released by the frame (release() zeroes it), not run out after LONGEST_HOLD
        await wait_until(lambda: bridge._held_until == 0.0, pause=pilot.pause)
        await wait_until(gc.isenabled, pause=pilot.pause)
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, SignalPicker), pause=pilot.pause)
        await wait_until(lambda: bridge._held_until == 0.0, pause=pilot.pause)

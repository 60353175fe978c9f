"""The bus → UI bridge: batches held for a key, and a backlog delivered in small batches."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from textual import on
from textual.app import App

from tests.support.waiting import wait_until
from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.payloads import ArbiterSnapshot
from tuiman.ui.bridge import LONGEST_HOLD, MAX_BATCH, Bridge
from tuiman.ui.messages import EventBatch

pytestmark = pytest.mark.timeout(60)


class Recorder(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    @on(EventBatch)
    def _batch(self, message: EventBatch) -> None:
        self.sizes.append(len(message.events))
        message.handled.set()


async def test_a_backlog_after_a_hold_comes_in_batches_no_bigger_than_the_cap() -> None:
    bus = Bus(lambda: cast(ArbiterSnapshot, {"watchers": ["a"]}))
    subscription = bus.subscribe(snapshot=False)
    app = Recorder()
    async with app.run_test() as pilot:
        bridge = Bridge(subscription, app)
        bridge.hold(10.0)  # a key: nothing posted until its answer is drawn
        runner = asyncio.create_task(bridge.run())
        backlog = 2 * MAX_BATCH + MAX_BATCH // 2
        for n in range(backlog):
            bus.publish(Kind.OUTPUT, "a", pid=1, wid=1, stream="stdout", line=str(n))
        await pilot.pause(0.05)
        assert app.sizes == []
        bridge.release()
        await wait_until(lambda: sum(app.sizes) >= backlog, pause=pilot.pause)
        runner.cancel()
    assert app.sizes == [MAX_BATCH, MAX_BATCH, MAX_BATCH // 2]


async def test_keys_that_keep_coming_do_not_hold_the_events_back_for_longer_than_the_cap() -> None:
    bus = Bus(lambda: cast(ArbiterSnapshot, {"watchers": ["a"]}))
    subscription = bus.subscribe(snapshot=False)
    app = Recorder()
    async with app.run_test() as pilot:
        bridge = Bridge(subscription, app)
        runner = asyncio.create_task(bridge.run())
        loop = asyncio.get_running_loop()
        bridge.hold(LONGEST_HOLD)
        bus.publish(Kind.OUTPUT, "a", pid=1, wid=1, stream="stdout", line="while a key repeats")
        started = loop.time()
        while not app.sizes and loop.time() - started < 4 * LONGEST_HOLD:
            bridge.hold(LONGEST_HOLD)  # an arrow held down: a new key every 20 ms
            await pilot.pause(0.02)
        runner.cancel()
    assert app.sizes == [1], "the batch waited for the keys to stop"

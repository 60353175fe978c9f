"""No cyclic garbage collection while a key's answer is being drawn.

Under load (500 processes, 10 000 lines/s) the caches of the screen's lines keep 30 000-80 000
young objects alive: a young collection takes 10-50 ms, a middle-generation one 100-200 ms,
whatever it finds. One landing between a key press and the next frame was most of each key's
95th percentile. The collector is switched off after a key or a click and on again once the
answer is drawn (`AnswerHold`); the collection it owed runs then, at the next allocation.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Protocol

LONGEST_HOLD = 1.0  # seconds: a key held down (auto-repeat) must not starve the collector


class CollectorHold:
    def __init__(self) -> None:
        self._release: asyncio.TimerHandle | None = None
        self._since = 0.0

    def hold(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._release is None:
            if not gc.isenabled():
                return  # switched off by someone else (start-up): theirs to switch on
            gc.disable()
            self._since = now
        elif now - self._since >= LONGEST_HOLD:
            return  # the pending release stands
        else:
            self._release.cancel()
        self._release = loop.call_later(
            min(seconds, self._since + LONGEST_HOLD - now), self.release
        )

    def release(self) -> None:
        if self._release is not None:
            self._release.cancel()
            self._release = None
            gc.enable()


class Releasable(Protocol):
    def hold(self, seconds: float) -> None: ...

    def release(self) -> None: ...


class AnswerHold:
    """Holds (the collector, the event batches) from a key until a frame has been drawn after
    it, and at least `least` seconds (each hold its own), at most LONGEST_HOLD. A fixed hold ran
    out before the answer was drawn when the machine was busy: measured under load, a collection
    or a batch (grown by the wait) then landed between the key and its frame. The least keeps
    the next key of a quick series (an arrow, then another) ahead of the backlog. `after_refresh`
    is App.call_after_refresh, asked twice: the key reaches its widget after the app has
    forwarded it, and the first callback lands on the screen that was current then, which a
    dialog the key opens leaves behind."""

    def __init__(
        self,
        holds: Callable[[], list[tuple[Releasable, float]]],
        after_refresh: Callable[[Callable[[], object]], object],
    ) -> None:
        self._holds = holds
        self._after_refresh = after_refresh
        self._waiting = 0  # keys whose frame is not drawn yet
        self._since = 0.0  # the last key
        self._timers: list[asyncio.TimerHandle] = []

    def begin(self) -> None:
        self._cancel_timers()
        self._since = asyncio.get_running_loop().time()
        for hold, _least in self._holds():
            hold.hold(LONGEST_HOLD)
        self._waiting += 1
        self._after_refresh(lambda: self._after_refresh(self._drawn))

    def _drawn(self) -> None:
        self._waiting = max(self._waiting - 1, 0)
        if self._waiting:
            return
        self._cancel_timers()
        loop = asyncio.get_running_loop()
        for hold, least in self._holds():
            left = self._since + least - loop.time()
            if left > 0:
                self._timers.append(loop.call_later(left, hold.release))
            else:
                hold.release()

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def release(self) -> None:
        self._cancel_timers()
        for hold, _least in self._holds():
            hold.release()

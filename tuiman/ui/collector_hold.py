"""No cyclic garbage collection while a key's answer is being drawn.

Under load (500 processes, 10 000 lines/s) the caches of the screen's lines keep 30 000-80 000
young objects alive: a young collection takes 10-50 ms, a middle-generation one 100-200 ms,
whatever it finds. One landing between a key press and the next frame was most of each key's
95th percentile. The collector is switched off for a moment after a key or a click and on
again once the answer is drawn; the collection it owed runs then, at the next allocation.
"""

from __future__ import annotations

import asyncio
import gc

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
        self._release = loop.call_later(seconds, self.release)

    def release(self) -> None:
        if self._release is not None:
            self._release.cancel()
            self._release = None
            gc.enable()

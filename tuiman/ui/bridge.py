"""The bus → UI bridge: drain the subscription, post one `EventBatch` per frame."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.message_pump import MessagePump

from tuiman.client.protocol import EventStream
from tuiman.core.events import Event
from tuiman.ui.messages import EventBatch, StreamEnded

FRAME = 1 / 15  # at most 15 batches a second reach the widgets: a scrolling log needs no more
MAX_BATCH = 2000  # events per batch, so that one batch never holds the UI (or a key) for long
LONGEST_HOLD = 0.5  # seconds: the bus keeps 10 000 events for the UI, 1 s of the worst output


class Bridge:
    def __init__(self, stream: EventStream, target: MessagePump, frame: float = FRAME) -> None:
        self._stream = stream
        self._target = target
        self._frame = frame
        self._handled = asyncio.Event()
        drain = getattr(stream, "drain", None)
        self._drain: Callable[[int], list[Event]] | None = drain if callable(drain) else None
        self.batches = 0
        self.events = 0
        self._held_until = 0.0
        self._released = asyncio.Event()

    def hold(self, seconds: float) -> None:
        """Post no batch for a moment: the user just pressed a key, and its redraw goes first."""
        until = asyncio.get_running_loop().time() + min(seconds, LONGEST_HOLD)
        self._held_until = max(self._held_until, until)

    def release(self) -> None:
        """The key's answer is drawn: batches flow again."""
        self._held_until = 0.0
        self._released.set()

    async def run(self) -> None:
        while True:
            try:
                batch = await self._next_batch()
            except EOFError:
                self._target.post_message(StreamEnded())
                return
            if await self._wait_for_release():
                batch.extend(self._drain(MAX_BATCH - len(batch)) if self._drain is not None else ())
            self._handled.clear()
            self._target.post_message(EventBatch(batch, self._handled))
            self.batches += 1
            self.events += len(batch)
            await self._handled.wait()
            # A full batch leaves a backlog (after a hold): the rest follows at once, in batches
            # small enough that a key typed meanwhile waits for one only.
            await asyncio.sleep(0 if len(batch) >= MAX_BATCH else self._frame)

    async def _wait_for_release(self) -> bool:
        """Until the hold runs out or is released, LONGEST_HOLD at most even while keys keep
        coming (a held-down arrow must not starve the UI of events); True if there was one."""
        loop = asyncio.get_running_loop()
        waited = False
        latest = loop.time() + LONGEST_HOLD
        while (delay := min(self._held_until, latest) - loop.time()) > 0:
            waited = True
            self._released.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._released.wait()
            except TimeoutError:
                pass
        return waited

    async def _next_batch(self) -> list[Event]:
        batch = [await self._stream.get()]
        if self._drain is not None:
            batch.extend(self._drain(MAX_BATCH - 1))
            return batch
        # A stream without `drain` (e.g. a socket): gather what arrives within one frame.
        try:
            async with asyncio.timeout(self._frame):
                while len(batch) < MAX_BATCH:
                    batch.append(await self._stream.get())
        except (TimeoutError, EOFError):
            pass  # an EOFError comes back on the next call
        return batch

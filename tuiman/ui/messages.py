"""Messages from the bus bridge to the app."""

from __future__ import annotations

import asyncio

from textual.message import Message

from tuiman.core.events import Event


class EventBatch(Message):
    """Every bus event that arrived during one frame, in order.

    The bridge waits on `handled` before sending the next batch, so a busy UI lets events
    pile up in the bus subscription (bounded, dropping output first) rather than in
    Textual's unbounded message queue.
    """

    def __init__(self, events: list[Event], handled: asyncio.Event) -> None:
        super().__init__()
        self.events = events
        self.handled = handled


class StreamEnded(Message):
    """The event stream closed (the core went away, or a remote instance quit)."""

"""`--exit-on first` (docs/headless.md#exit-on-first): the first process to exit on its own stops
everything, and its exit code becomes tuiman's — foreman's and honcho's rule, for CI."""

from __future__ import annotations

import asyncio

from tuiman.core.bus import SKIP_OUTPUT
from tuiman.core.events import Event, Kind
from tuiman.core.supervision.arbiter import Arbiter


class FirstExit:
    """Notes the first `reap` of a process that exited on its own (not stopped by tuiman)."""

    def __init__(self, arbiter: Arbiter) -> None:
        self._arbiter = arbiter
        self.happened = asyncio.Event()
        self.code = 0
        self.description = ""
        # A tap, not a subscription: a flood of output events can never make it miss the exit.
        arbiter.bus.add_tap(self._on_event, SKIP_OUTPUT)

    def _on_event(self, event: Event) -> None:
        if self.happened.is_set() or event.kind != Kind.REAP:
            return
        if event.payload.get("process_status") is None:
            return  # tuiman stopped it
        exit_code = event.payload.get("exit_code")
        if exit_code is None:
            self.code = 1  # its status was collected elsewhere: a failure of unknown kind
        elif exit_code < 0:
            self.code = 128 - exit_code  # killed by signal N: 128 + N, as a shell says
        else:
            self.code = exit_code
        self.description = f"{event.watcher}.{event.payload.get('wid')} exited ({exit_code})"
        self.happened.set()
        # At once, inside the reap: the exited slot must not respawn before the quit begins.
        self._arbiter.request_quit()

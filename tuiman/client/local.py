"""`LocalClient`: the CoreClient of an in-process arbiter (the full-screen session).

Commands go through the same command table as the control socket's, so the UI's commands and
`tuiman ctl`'s are checked and answered alike.
"""

from __future__ import annotations

from typing import Any

from tuiman.client.protocol import CoreClient
from tuiman.client.wire import Reply, WireClient
from tuiman.core.bus import Subscription
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute


class LocalClient(WireClient, CoreClient):
    is_remote = False

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.source = arbiter.config.source
        self._stats_enabled = False

    async def request(self, command: str, **arguments: Any) -> Reply:
        return await execute(self.arbiter, {"command": command, **arguments})

    def subscribe(self) -> Subscription:
        return self.arbiter.bus.subscribe(maxsize=20_000, name="ui")

    def set_stats(self, enabled: bool) -> None:
        if enabled == self._stats_enabled:
            return
        self._stats_enabled = enabled
        if enabled:
            self.arbiter.stats.acquire()
        else:
            self.arbiter.stats.release()

    async def quit_instance(self) -> None:
        self.set_stats(False)
        await self.arbiter.quit()

    def force_quit(self) -> None:
        self.arbiter.force()

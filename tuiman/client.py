"""The small interface the UI talks to the core through (§1): commands in, events out.

`LocalClient` drives an in-process arbiter; the remote implementation (control socket, for
`tuiman attach`) offers the same methods. The UI never touches core objects directly.
"""

from __future__ import annotations

from typing import Any, Protocol

from tuiman.core.bus import Subscription
from tuiman.core.events import Event
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute


class EventStream(Protocol):
    async def get(self) -> Event:
        """The next event; raises EOFError when the stream ends."""
        ...

    def close(self) -> None: ...


class CoreClient(Protocol):
    is_remote: bool
    source: str  # the config path (or demo:...) of the instance

    async def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Run one core command (see tuiman.core.supervision.commands.COMMANDS); the reply has `ok`."""
        ...

    def subscribe(self) -> EventStream:
        """The bus, starting with a snapshot."""
        ...

    def set_stats(self, enabled: bool) -> None:
        """Ask for periodic `stats` events (sampling runs only while someone asks)."""
        ...

    async def quit_instance(self) -> None:
        """Stop every watcher and end the instance."""
        ...

    def force_quit(self) -> None:
        """Second quit: SIGKILL everything now."""
        ...


class LocalClient:
    is_remote = False

    def __init__(self, arbiter: Arbiter) -> None:
        self.arbiter = arbiter
        self.source = arbiter.config.source
        self._stats_enabled = False

    async def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        return await execute(self.arbiter, {"command": command, **arguments})

    def subscribe(self) -> Subscription:
        return self.arbiter.bus.subscribe(maxsize=20_000, name="ui")

    def set_stats(self, enabled: bool) -> None:
        if enabled == self._stats_enabled:
            return
        self._stats_enabled = enabled
        if enabled:
            self.arbiter.acquire_stats()
        else:
            self.arbiter.release_stats()

    async def quit_instance(self) -> None:
        self.set_stats(False)
        await self.arbiter.quit()

    def force_quit(self) -> None:
        self.arbiter.force()

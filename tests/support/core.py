"""Real arbiters for the tests: configs from TOML, bus events awaited, everything stopped."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path

from tests.support.procs import kill_quietly
from tuiman.core.bus import Subscription
from tuiman.core.config.loader import load_config_text
from tuiman.core.config.model import Config
from tuiman.core.events import Event
from tuiman.core.supervision.arbiter import Arbiter

ArbiterFactory = Callable[[str], Arbiter]  # the `arbiter_factory` fixture: TOML in, arbiter out


def make_config(tmp_path: Path, toml: str) -> Config:
    """A config from TOML (dedented), written to `tmp_path/tuiman.toml` and loaded from there."""
    path = tmp_path / "tuiman.toml"
    path.write_text(textwrap.dedent(toml))
    return load_config_text(path.read_text(), path, cwd=tmp_path)


def build_arbiter(tmp_path: Path, toml: str) -> Arbiter:
    """A bound (not started) arbiter for a TOML config; stop it with `stop_arbiter`."""
    arbiter = Arbiter(make_config(tmp_path, toml))
    arbiter.bind()
    return arbiter


async def stop_arbiter(arbiter: Arbiter) -> None:
    """Quit at once (no graceful wait); whatever happens, every process it ran is killed."""
    pids = [pid for watcher in arbiter.watchers.values() for pid in watcher.processes]
    arbiter.force()
    try:
        await asyncio.wait_for(arbiter.quit(), 15)
    finally:
        for pid in pids:
            kill_quietly(pid)


async def next_event(
    subscription: Subscription,
    kind: str,
    watcher: str | None = None,
    timeout: float = 10.0,
    where: Callable[[Event], bool] | None = None,
) -> Event:
    """The next event of `kind` (of `watcher`, matching `where`) on the bus; earlier ones are
    consumed."""

    async def find() -> Event:
        while True:
            event = await subscription.get()
            if (
                event.kind == kind
                and (watcher is None or event.watcher == watcher)
                and (where is None or where(event))
            ):
                return event

    try:
        return await asyncio.wait_for(find(), timeout)
    except TimeoutError:
        raise AssertionError(
            f"no {kind} event of {watcher or 'any watcher'} on the bus within {timeout}s"
        ) from None

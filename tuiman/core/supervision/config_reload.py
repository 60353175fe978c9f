"""Applying a changed config file to a running arbiter: add, remove and restart only what changed.

An invalid file is refused with its errors and the running state is kept. A watcher whose only
change is `numprocesses` is scaled in place; any other change replaces it (stopped, then started
again with the new config if it was running). Hook modules already imported are not re-imported:
Python caches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from tuiman.core.config.model import Config, WatcherConfig
from tuiman.core.config.sockets import sockets_used_by
from tuiman.core.events import Kind
from tuiman.core.payloads import WatcherSettings, WatcherSnapshot
from tuiman.core.states import WatcherState
from tuiman.core.supervision.sockets import PreparedSockets, SocketBindError
from tuiman.core.supervision.watcher import Watcher

if TYPE_CHECKING:
    from tuiman.core.supervision.arbiter import Arbiter

T = TypeVar("T")


async def reload_config_file(arbiter: Arbiter) -> tuple[bool, list[str]]:
    """Read the arbiter's config source again and apply the difference: (applied, lines)."""
    from tuiman.core.config.loader import ConfigError, load_demo_config
    from tuiman.core.configfile import load_config

    source = arbiter.config.source

    def load() -> Config:
        if source.startswith("demo:"):
            return load_demo_config(cwd=Path(source[5:]))
        return load_config(source, options=arbiter.config.load_options)  # -e, -m, -p again

    try:
        new_config = await in_daemon_thread(load)
    except ConfigError as error:
        return False, list(error.errors)
    new_sockets = {socket_config.name: socket_config for socket_config in new_config.sockets}
    try:
        prepared = await asyncio.to_thread(arbiter.sockets.prepare, new_sockets)
    except SocketBindError as error:
        return False, [f"{source}: {error}"]
    socket_changes, to_restart = commit_sockets(arbiter, new_config, prepared)
    changes = socket_changes + await apply_config(arbiter, new_config)
    for watcher in to_restart:
        if arbiter.watchers.get(watcher.name) is watcher:
            await watcher.restart()
            changes.append(f"{watcher.name}: restarted (its socket changed)")
    if arbiter.on_demand is not None:
        arbiter.on_demand.close()  # replaced watchers armed on their old sockets while stopping
    for watcher in list(arbiter.watchers.values()):
        arbiter.arm_on_demand(watcher)
    changes += await arbiter.plugins.apply(new_config.plugins)
    arbiter.bus.emit(Kind.RELOAD, None, {"changes": changes})
    # The file's warnings (a Circus option it ignores) reach whoever asked for the reload.
    return True, [*changes, *(f"warning: {warning}" for warning in new_config.warnings)]


def commit_sockets(
    arbiter: Arbiter, new_config: Config, prepared: PreparedSockets
) -> tuple[list[str], list[Watcher]]:
    """Swap the reloaded sockets in: (change lines, running watchers to restart because a
    socket they use was changed or removed and their own config did not change)."""
    old_configs = arbiter.sockets.configs
    if arbiter.on_demand is not None:
        arbiter.on_demand.close()  # no reader may stay on an fd about to be closed
    changes = arbiter.sockets.commit(prepared)
    touched = set(changes.changed) | set(changes.removed)
    new_by_name = {w.name: w for w in new_config.watchers}
    to_restart = [
        watcher
        for watcher in arbiter.watchers.values()
        if watcher.config.use_sockets
        and new_by_name.get(watcher.name) == watcher.config
        and touched & set(sockets_used_by(watcher.config, old_configs))
        and watcher.state not in (WatcherState.STOPPED, WatcherState.FAILED)
    ]
    return changes.lines(), to_restart


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """`work()` off the loop in a daemon thread: a load runs hook modules' imports, and one that
    never returns must not hold tuiman's exit (the default executor's threads are joined)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], object]) -> None:
        if not done.done():
            outcome()

    def run() -> None:
        try:
            result = work()
        except BaseException as error:
            failure = error
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(settle, lambda: done.set_exception(failure))
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: done.set_result(result))

    threading.Thread(target=run, name="tuiman-config-load", daemon=True).start()
    return await done


async def apply_config(arbiter: Arbiter, new_config: Config) -> list[str]:
    old_by_name = {w.name: w for w in arbiter.watchers.values()}
    new_by_name = {w.name: w for w in new_config.watchers}
    changes: list[str] = []
    removed = [old_by_name[n] for n in old_by_name if n not in new_by_name]
    for watcher in removed:
        await watcher.stop()
        await close_sink(watcher)
        del arbiter.watchers[watcher.name]
        arbiter.bus.emit(Kind.REMOVE, watcher.name, {})
        changes.append(f"removed {watcher.name}")
    arbiter.use_config(new_config)
    for name, watcher_config in new_by_name.items():
        existing = old_by_name.get(name)
        if existing is None:
            added = arbiter.watchers[name] = Watcher(watcher_config, arbiter)
            arbiter.bus.emit(
                Kind.ADD,
                name,
                {"numprocesses": added.numprocesses, "settings": settings_of(added.snapshot())},
            )
            changes.append(f"added {name}")
            if watcher_config.autostart and not watcher_config.on_demand:
                await _start(arbiter, added)
        elif existing.config != watcher_config:
            changes.append(await _update_watcher(arbiter, existing, watcher_config))
    return changes


async def _update_watcher(arbiter: Arbiter, watcher: Watcher, new: WatcherConfig) -> str:
    if replace(watcher.config, watch=new.watch) == new:
        watcher.config = new  # the arbiter's file watch follows the new config on its own
        return f"{watcher.name}: new watch patterns"
    if replace(watcher.config, numprocesses=new.numprocesses) == new:
        watcher.config = new
        await watcher.set_numprocesses(new.numprocesses)
        return f"{watcher.name}: numprocesses {new.numprocesses}"
    was_running = watcher.state not in (WatcherState.STOPPED, WatcherState.FAILED)
    await watcher.stop()
    await close_sink(watcher)
    replacement = Watcher(new, arbiter)
    replacement.terminal_size = watcher.terminal_size  # what the front end set (pty watchers)
    arbiter.watchers[watcher.name] = replacement
    arbiter.bus.emit(
        Kind.UPDATED,
        watcher.name,
        {
            "numprocesses": replacement.numprocesses,
            "restarted": was_running,
            "settings": settings_of(replacement.snapshot()),
        },
    )
    if was_running or (new.autostart and not new.on_demand and not watcher.started_ever):
        await _start(arbiter, replacement)
    return f"{watcher.name}: restarted with the new config"


async def _start(arbiter: Arbiter, watcher: Watcher) -> None:
    if watcher.config.depends_on:
        arbiter.start_after_its_dependencies(watcher)
    else:
        await watcher.start()


async def close_sink(watcher: Watcher) -> None:
    if watcher.file_sink is not None:
        await asyncio.to_thread(watcher.file_sink.close, 2.0)


SETTINGS_KEYS = WatcherSettings.__required_keys__ | WatcherSettings.__optional_keys__


def settings_of(snapshot: WatcherSnapshot) -> WatcherSettings:
    """The configured parts of a watcher's snapshot (what a config reload may change)."""
    # Every key WatcherSettings declares (a snapshot is settings plus state): a key added to
    # the settings type is carried without a line here.
    return cast(WatcherSettings, {k: v for k, v in snapshot.items() if k in SETTINGS_KEYS})

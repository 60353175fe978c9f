"""Two watcher steps that follow Circus' configuration: the environment check at each start
(docs/configuration.md#environment-problems) and the reload by SIGHUP of `send_hup`.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING

from tuiman.core.config.environment import EnvironmentProblem, launch_settings
from tuiman.core.events import Kind
from tuiman.core.states import Reason, WatcherState
from tuiman.core.supervision.command_queue import OK, CommandResult

if TYPE_CHECKING:
    from tuiman.core.supervision.watcher import Watcher


async def check_environment(watcher: Watcher) -> str | None:
    """Resolve what this start spawns with; on a problem the watcher fails (no hook runs, no
    process starts) and the reason is returned. The other watchers are not concerned."""
    try:
        # stat, listdir, the user database (NSS may ask the network): never on the loop.
        watcher.slot_table.launch = await asyncio.to_thread(launch_settings, watcher.config)
    except EnvironmentProblem as problem:
        reason = str(problem)
        watcher.host.note_failure(watcher.name, reason)
        watcher.status.move(WatcherState.FAILED, Reason.ENVIRONMENT)
        watcher.bus.emit(
            Kind.FAILED, watcher.name, {"reason": str(Reason.ENVIRONMENT), "detail": reason}
        )
        watcher.host.watcher_settled(watcher)
        return reason
    return None


async def reload_with_hup(watcher: Watcher) -> CommandResult:
    """`send_hup`: the processes reload themselves on SIGHUP, as Circus does it (straight to
    each process, no signal hooks); a `signal` event per process, after the `reload` event."""
    watcher.bus.emit(Kind.RELOAD, watcher.name, {})
    for process in [p for p in watcher.processes.values() if p.alive]:
        process.tuiman_signal_at = time.monotonic()
        if process.send_signal(signal.SIGHUP):
            watcher.bus.emit(
                Kind.SIGNAL,
                watcher.name,
                {"process_pid": process.pid, "pid": process.pid, "signum": int(signal.SIGHUP)},
            )
    return OK

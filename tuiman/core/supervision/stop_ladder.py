"""Stopping one process: stop signal (with its hooks), SIGCONT, grace, SIGKILL, group sweep.

Also the signal step shared with reaping (a process' kill/signal event comes before its reap
event) and the sweep of a watcher's `setsid` escapees, found by the marker in their environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Literal

from tuiman.core.bus import Bus
from tuiman.core.config.model import WatcherConfig
from tuiman.core.events import Kind
from tuiman.core.processes.process import ManagedProcess
from tuiman.core.processes.reaper import kill_marked, reap_group_zombies
from tuiman.core.states import ProcessState
from tuiman.core.supervision.hook_calls import WatcherHooks
from tuiman.core.supervision.watcher_host import WatcherHost

LEAK_GRACE = 5.0  # seconds a process may outlive SIGKILL before it is reported leaked
GROUP_POLL = 0.05
MARKER_ENV = "TUIMAN_INSTANCE"
WATCHER_ENV = "TUIMAN_WATCHER"  # with the marker: finds a watcher's setsid escapees
ESCAPEE_ROUNDS = 5  # sweeps, for escapees forked while the previous sweep ran
STOP_SLICE = 0.01  # seconds of back-to-back stop signals before yielding to the loop


class StopLadder:
    def __init__(
        self, config: WatcherConfig, host: WatcherHost, bus: Bus, hooks: WatcherHooks
    ) -> None:
        self.config = config
        self._name = config.name
        self._host = host
        self._bus = bus
        self._hooks = hooks
        # pid -> its signal step (signal, after_signal, kill event) in flight: the reap waits
        # (docs/events.md#order)
        self.signal_steps: dict[int, asyncio.Future[None]] = {}

    async def stop_process(
        self,
        process: ManagedProcess,
        *,
        stop_signal: int | None = None,
        graceful_timeout: float | None = None,
    ) -> bool:
        """stop_signal (with hooks), SIGCONT, wait graceful_timeout, SIGKILL. False if leaked.

        The watcher's stop signal and graceful timeout unless given."""
        if not process.alive:
            return True
        await self._send_stop_signal(process, stop_signal, graceful_timeout)
        return await self._finish_stop(process, graceful_timeout)

    async def stop_in_turn(self, processes: list[ManagedProcess]) -> list[bool]:
        """Stop these in this order, as Circus does: each one's stop signal step
        (before_signal, signal, after_signal) once the previous one's is done; their graceful
        waits overlap. One result per process (False: leaked), as `stop_process`'s."""
        finishing: list[asyncio.Future[bool]] = []
        loop = self._host.loop
        slice_started = loop.time()
        try:
            for process in processes:
                if not process.alive:
                    gone: asyncio.Future[bool] = self._host.loop.create_future()
                    gone.set_result(True)
                    finishing.append(gone)
                    continue
                await self._send_stop_signal(process)
                finishing.append(loop.create_task(self._finish_stop(process)))
                if loop.time() - slice_started >= STOP_SLICE:
                    # Every exit is a SIGCHLD, one byte in asyncio's wake-up socket: thousands
                    # sent without the loop reading them fill it, and then a byte standing for
                    # SIGTERM or SIGINT would be lost (and Python prints a traceback per signal).
                    await asyncio.sleep(0)
                    slice_started = loop.time()
        except BaseException:
            for task in finishing:  # as a cancelled gather would: the stop that follows takes over
                task.cancel()
            raise
        return list(await asyncio.gather(*finishing))

    async def _send_stop_signal(
        self,
        process: ManagedProcess,
        stop_signal: int | None = None,
        graceful_timeout: float | None = None,
    ) -> None:
        process.stop_requested = True
        process.state = ProcessState.STOPPING
        grace = self.config.graceful_timeout if graceful_timeout is None else graceful_timeout
        if grace > 0:
            signum = self.config.stop_signal if stop_signal is None else stop_signal
            await self.signal_process(
                process, signum, kind=Kind.KILL, group=self.config.stop_children
            )
            process.signal_group(signal.SIGCONT)

    async def _finish_stop(
        self, process: ManagedProcess, graceful_timeout: float | None = None
    ) -> bool:
        grace = self.config.graceful_timeout if graceful_timeout is None else graceful_timeout
        if grace > 0 and process.alive:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.exited), grace)
        if process.alive:
            await self.signal_process(process, signal.SIGKILL, kind=Kind.KILL, group=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.exited), LEAK_GRACE)
        await self.stop_group(process, force=True)
        return not process.alive

    async def stop_group(self, process: ManagedProcess, force: bool = False) -> None:
        """Make sure no member of the process' group survives it (checked, not assumed)."""
        if not force:
            process.signal_group(self.config.stop_signal)
            process.signal_group(signal.SIGCONT)
            deadline = time.monotonic() + self.config.graceful_timeout
            while time.monotonic() < deadline and process.signal_group(0):
                await asyncio.sleep(GROUP_POLL)
                reap_group_zombies(process.pgid)
        deadline = time.monotonic() + LEAK_GRACE
        while process.signal_group(signal.SIGKILL) and time.monotonic() < deadline:
            await asyncio.sleep(GROUP_POLL)
            reap_group_zombies(process.pgid)

    async def signal_process(
        self,
        process: ManagedProcess,
        signum: int,
        *,
        kind: Literal[Kind.KILL, Kind.SIGNAL],
        group: bool,
    ) -> bool:
        """before_signal, the signal, after_signal, then a kill/signal event. False if vetoed."""
        is_kill = signum == signal.SIGKILL
        allowed = await self._hooks.allows(
            "before_signal",
            pid=process.pid,
            signum=signum,
            result_ignored=is_kill,
            timeout=1.0 if is_kill else None,
        )
        if not allowed and not is_kill:
            await self._hooks.run("after_signal", pid=process.pid, signum=signum)
            return False
        process.tuiman_signal_at = time.monotonic()
        step = self.signal_steps[process.pid] = self._host.loop.create_future()
        try:
            sent = process.signal_group(signum) if group else process.send_signal(signum)
            await self._hooks.run("after_signal", pid=process.pid, signum=signum)
            if sent:
                self._bus.emit(
                    kind,
                    self._name,
                    {"process_pid": process.pid, "pid": process.pid, "signum": signum},
                )
        finally:
            if self.signal_steps.get(process.pid) is step:
                del self.signal_steps[process.pid]
            step.set_result(None)
        return sent

    async def kill_escapees(self) -> None:
        """SIGKILL what left this watcher's groups (docs/supervision.md#stop): everything in the
        watcher's cgroup where there is one, then what still carries the instance marker and
        the watcher's name in its environment (a `setsid` escapee). A sweep that cannot look
        is a `sweep_failed` event, never a silent "nothing found"."""
        cgroup = self._host.cgroup_for(self._name)
        try:
            if cgroup is not None:
                await asyncio.to_thread(cgroup.kill_and_wait, LEAK_GRACE)
            entries = (f"{MARKER_ENV}={self._host.marker}", f"{WATCHER_ENV}={self._name}")
            for _ in range(ESCAPEE_ROUNDS):
                if not await asyncio.to_thread(kill_marked, entries):
                    return
                await asyncio.sleep(GROUP_POLL)
        except (OSError, RuntimeError) as error:  # RuntimeError: no thread could be started
            code = error.errno or 0 if isinstance(error, OSError) else 0
            text = error.strerror or str(error) if isinstance(error, OSError) else str(error)
            self._bus.emit(
                Kind.SWEEP_FAILED,
                self._name,
                {"error": f"could not look for escapees: {text}", "errno": code},
            )

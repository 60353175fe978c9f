"""A watcher's slots (wid 1..n): spawning into them, and what happens when their process exits.

Each slot keeps its restart history; an exit respawns it at once, after a backoff, after a
flapping pause, or parks it, per the restart policy. Spawn errors retry up to `max_retry`.
Whatever ends the watcher itself (nothing left to run, a give-up, a respawn veto) is handed
back to the watcher through the two callbacks it passes in.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tuiman.core.bus import Bus
from tuiman.core.config.environment import LaunchSettings, which
from tuiman.core.config.expand import spawn_argv_env
from tuiman.core.config.model import WatcherConfig
from tuiman.core.events import Kind
from tuiman.core.processes.process import (
    ManagedProcess,
    OutputCallback,
    SpawnSpec,
    TerminalCallback,
    spawn_error_text,
)
from tuiman.core.processes.terminal import DEFAULT_SIZE as DEFAULT_TERMINAL_SIZE
from tuiman.core.states import Reason, WatcherState
from tuiman.core.supervision.command_queue import CommandAborted, TaskKeeper
from tuiman.core.supervision.hook_calls import WatcherHooks
from tuiman.core.supervision.hook_env import EnvChanges, config_with_env
from tuiman.core.supervision.readiness import WatcherProbes
from tuiman.core.supervision.reaping import ReapQueue
from tuiman.core.supervision.restart import Action, SlotHistory
from tuiman.core.supervision.stop_ladder import MARKER_ENV, WATCHER_ENV, StopLadder
from tuiman.core.supervision.watcher_host import WatcherHost
from tuiman.core.supervision.watcher_state import (
    HALTED_STATES,
    RUNNING_STATES,
    SPAWNING_STATES,
    WatcherStatus,
)

SPAWN_SLICE = 0.01  # seconds of back-to-back spawning before yielding to the loop


@dataclass
class Slot:
    wid: int
    history: SlotHistory
    process: ManagedProcess | None = None
    timer: asyncio.TimerHandle | None = None
    pause_until: float | None = None  # monotonic end of a flapping pause
    # Its process exited and the rest of its group is still being stopped: the slot is busy,
    # its respawn decision comes once the group is clear.
    clearing_group: bool = False

    @property
    def busy(self) -> bool:
        """Running a process, or about to: a respawn timer, a group still being cleared."""
        return self.process is not None or self.timer is not None or self.clearing_group

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pause_until = None


class SlotTable:
    def __init__(
        self,
        config: WatcherConfig,
        host: WatcherHost,
        status: WatcherStatus,
        hooks: WatcherHooks,
        ladder: StopLadder,
        reaper: ReapQueue,
        processes: dict[int, ManagedProcess],
        background: TaskKeeper,
        on_output: OutputCallback,
        stop_on_own: Callable[[str], object],
        give_up: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self.config = config
        self.name = config.name
        self.numprocesses = config.numprocesses
        self.slots: dict[int, Slot] = {}
        # At least the highest wid in `slots`: only `new_slot` adds to it (max() per spawn would
        # make a start of N processes O(N^2)).
        self._top_wid = 0
        self.processes = processes  # pid -> process, until its reap event
        self.restarts = 0
        # wid -> exit code of its last process (None: its status was collected by someone else)
        self.last_exit_codes: dict[int, int | None] = {}
        self._host = host
        self._bus: Bus = host.bus
        self._status = status
        self._hooks = hooks
        self._ladder = ladder
        self._reaper = reaper
        self._background = background
        self._on_output = on_output
        self._stop_on_own = stop_on_own  # the watcher stops by itself, for this reason
        self._give_up = give_up  # the watcher fails: (reason, detail)
        self._executables: dict[tuple[str, str | None], str | None] = {}
        # pids killed by an after_spawn veto: the veto decides the watcher's fate, not their exit
        self._veto_killed: set[int] = set()
        # What the last start resolved (virtualenv, user names); None: the config as it is.
        self.launch: LaunchSettings | None = None
        # What hooks changed in the environment (docs/hooks.md#what-a-hook-can-see): every
        # following spawn uses it
        self.env_changes: EnvChanges = {}
        # pty watchers: the size a new process' terminal starts with, and where its raw text goes
        self.terminal_size: tuple[int, int] = DEFAULT_TERMINAL_SIZE
        self.on_terminal: TerminalCallback | None = None
        self.probes: WatcherProbes | None = None  # readiness and liveness (docs/readiness.md)

    # -- spawning -----------------------------------------------------------------------------
    async def fill(self) -> None:
        """Spawn every missing slot up to numprocesses; a veto raises CommandAborted."""
        loop = self._host.loop
        slice_started = loop.time()
        # Counted once: a respawn=false process that exits meanwhile frees its slot for good.
        for _ in range(self.numprocesses - len(self.live())):
            if not self.accepts_respawn():
                break
            slot = self.new_slot()
            if not await self.spawn_with_hooks(slot):
                self.slots.pop(slot.wid, None)
                raise CommandAborted(self._status.reason or "spawn", "spawn vetoed")
            if self.config.warmup_delay:
                await asyncio.sleep(self.config.warmup_delay)
            elif loop.time() - slice_started >= SPAWN_SLICE:
                # Let reaping, the UI and the printers run; not after every spawn: each wake-up
                # of theirs (a watchdog write, a printer hand-off) costs about what a spawn does.
                await asyncio.sleep(0)
                slice_started = loop.time()

    def live(self) -> list[Slot]:
        return [slot for slot in self.slots.values() if not slot.history.parked]

    def new_slot(self) -> Slot:
        wid = len(self.slots) + 1
        if self._top_wid not in self.slots:  # removed: find the highest one again
            self._top_wid = max(self.slots, default=0)
        if self._top_wid != wid - 1:  # not dense 1..n: find the smallest free wid
            wid = 1
            while wid in self.slots:
                wid += 1
        slot = Slot(wid, SlotHistory(self.config.restart))
        self.slots[wid] = slot
        self._top_wid = max(self._top_wid, wid)
        return slot

    async def spawn_with_hooks(self, slot: Slot) -> bool:
        """before_spawn, spawn, after_spawn. False when a hook vetoed (reason set)."""
        if not await self._hooks.allows("before_spawn"):
            return False
        if not self.accepts_respawn() or self.slots.get(slot.wid) is not slot:
            return True  # stopped (or the slot removed) while the hook ran: spawn nothing
        process = self._spawn(slot)
        if process is None:
            return True  # a spawn error is handled by the retry ladder, not a veto
        if not await self._hooks.allows("after_spawn", pid=process.pid):
            self._veto_killed.add(process.pid)
            await self._ladder.stop_process(process)
            return False
        return True

    def _spawn(self, slot: Slot) -> ManagedProcess | None:
        if self._host.quitting:
            # The one gate every spawn passes: a process started now would outlive the quit.
            return None
        try:
            socket_fds = self._host.socket_fds()
            # The start's environment (virtualenv, copy_path, ids), then what hooks changed.
            launched = self.config if self.launch is None else self.launch.applied_to(self.config)
            config = config_with_env(launched, self.env_changes)
            argv, env = spawn_argv_env(config, slot.wid, self.numprocesses, socket_fds)
            env[MARKER_ENV] = self._host.marker
            env[WATCHER_ENV] = self.name
            if self.probes is not None:
                env.update(self.probes.spawn_env(slot.wid))
            spec = SpawnSpec(
                argv,
                env,
                str(config.working_dir),
                config.uid,
                config.gid,
                config.rlimits or None,
                executable=self._resolve_executable(argv[0], env.get("PATH")),
                cgroup=self._host.cgroup_for(self.name),
                pass_fds=tuple(socket_fds.values()) if self.config.use_sockets else (),
                stdin=socket_fds.get(self.config.stdin_socket or ""),
                umask=config.umask,
                terminal_size=self.terminal_size if self.config.pty else None,
                stdin_pipe=self.config.stdin == "pipe",
            )
            process = ManagedProcess(
                spec,
                slot.wid,
                self._host.loop,
                self._on_output,
                self.on_exit,
                on_terminal=self.on_terminal,
            )
        except Exception as error:
            # Whatever the kind (OSError, a limit the child could not set, a bad argument), a
            # failed spawn is this watcher's spawn error event, never a stuck start.
            self._executables.clear()  # the program may have moved: look it up again next time
            if self.probes is not None:
                self.probes.spawn_failed(slot.wid)
            self._on_spawn_error(slot, error)
            return None
        slot.history.spawn_failures = 0
        slot.process = process
        self.processes[process.pid] = process
        self._host.track_group(process.pgid)
        self._bus.emit(
            Kind.SPAWN, self.name, {"process_pid": process.pid, "pid": process.pid, "wid": slot.wid}
        )
        if self.probes is not None and self.probes.wanted:
            self.probes.spawned(process, env)
        self._arm_timers(slot, process)
        return process

    def _resolve_executable(self, program: str, search_path: str | None) -> str | None:
        """The PATH lookup of argv[0], once per watcher instead of once per spawn (Popen's)."""
        if "/" in program:
            return None
        key = (program, search_path)
        if key not in self._executables:
            # As Popen: the child's PATH, or the default path when its environment has none.
            lookup_path = search_path if search_path is not None else os.defpath
            self._executables[key] = which(program, lookup_path)
        return self._executables[key]

    def _arm_timers(self, slot: Slot, process: ManagedProcess) -> None:
        loop = self._host.loop
        if self.config.max_age > 0:
            import random  # only with max_age: its import seeds a generator, ~0.1 MiB kept

            lifetime = self.config.max_age + random.uniform(0, self.config.max_age_variance)
            loop.call_later(lifetime, self._recycle, process)
        if slot.history.probing or slot.history.consecutive_short:
            loop.call_later(self.config.restart.reset_after, self._mark_healthy, slot, process)

    def _mark_healthy(self, slot: Slot, process: ManagedProcess) -> None:
        if process.alive and slot.process is process:
            slot.history.record_healthy()
            self.refresh_running_state()

    def _on_spawn_error(self, slot: Slot, error: Exception) -> None:
        text, code = spawn_error_text(error)
        slot.history.spawn_failures += 1
        self._bus.emit(Kind.SPAWN_ERROR, self.name, {"wid": slot.wid, "error": text, "errno": code})
        max_retry = self.config.max_retry
        if max_retry != -1 and slot.history.spawn_failures > max_retry:
            self._background.run(self._give_up(Reason.SPAWN_ERROR, f"spawn failed: {text}"))
            return
        self._schedule_respawn(slot, slot.history.spawn_failure_delay())

    def _recycle(self, process: ManagedProcess) -> None:
        if process.alive and not process.stop_requested and self.accepts_respawn():
            process.replace = True
            self._background.run(self._ladder.stop_process(process))

    # -- exits --------------------------------------------------------------------------------
    def on_exit(self, process: ManagedProcess) -> None:
        caused = self._tuiman_caused(process)
        if self.probes is not None:
            self.probes.exited(process)
        code = process.exit_code
        self.last_exit_codes[process.wid] = code
        slot = self.slots.get(process.wid)
        if slot is not None and slot.process is process:
            slot.process = None
        if not caused and code != 0 and self.config.respawn is False:
            shown = "an unknown status" if code is None else code
            self._host.note_failure(self.name, f"process {process.pid} exited with {shown}")
        self._reaper.queue(process, caused)
        if process.group_survivors:
            if slot is not None:
                slot.clearing_group = True
            self._background.run(self._clear_group_then(process, slot, caused))
        else:
            self._after_exit(process, slot, caused)

    def _tuiman_caused(self, process: ManagedProcess) -> bool:
        if process.stop_requested:
            return True
        sent_at = process.tuiman_signal_at
        if sent_at is None or process.exited_monotonic is None:
            return False
        return process.exited_monotonic - sent_at <= self.config.graceful_timeout

    async def _clear_group_then(
        self, process: ManagedProcess, slot: Slot | None, caused: bool
    ) -> None:
        # A group leader died with members alive: stop them before its slot respawns
        # (docs/supervision.md#exit-reap-and-respawn).
        try:
            await self._ladder.stop_group(process)
        finally:
            if slot is not None:
                slot.clearing_group = False
        self._after_exit(process, slot, caused)

    def _after_exit(self, process: ManagedProcess, slot: Slot | None, caused: bool) -> None:
        self._host.loop.call_later(1.0, process.close_streams)
        if (
            slot is None
            or self.slots.get(slot.wid) is not slot
            or (process.stop_requested and not process.replace)
        ):
            if process.pid in self._veto_killed:
                self._veto_killed.discard(process.pid)
                return  # not "exited": the veto's own stop follows (reason veto:after_spawn)
            self.check_all_exited()
            return
        if self._status.state in HALTED_STATES:
            return
        if not self._should_replace(process, caused):
            self.slots.pop(slot.wid, None)
            self.check_all_exited()
            return
        # A liveness restart is tuiman's doing, but counts as a crash (docs/readiness.md).
        liveness = self.probes is not None and self.probes.restarted_for_liveness(process.pid)
        decision = slot.history.record_exit(
            time.monotonic(), process.age(), caused and not liveness
        )
        if decision.action != Action.PARK:
            self.restarts += 1
        if decision.action == Action.RESPAWN:
            self._schedule_respawn(slot, decision.delay)
        elif decision.action == Action.PAUSE:
            self._pause_slot(slot, decision.delay, decision.attempt)
        else:
            self._park_slot(slot)

    def _should_replace(self, process: ManagedProcess, caused: bool) -> bool:
        respawn = self.config.respawn
        if caused:
            return respawn is not False or process.replace
        if respawn is False:
            return False
        if respawn == "on-failure":
            return process.exit_code not in self.config.success_exit_codes
        return True

    def check_all_exited(self) -> None:
        """respawn=false / on-failure: when nothing is left, the watcher stops (reason exited)."""
        if self._status.state != WatcherState.ACTIVE:
            return  # a start in flight checks at its end (its stop would cancel the start)
        if any(slot.busy for slot in self.slots.values()):
            return
        if self.numprocesses == 0:
            return
        self._stop_on_own(Reason.EXITED)

    # -- respawn scheduling -------------------------------------------------------------------
    def _schedule_respawn(self, slot: Slot, delay: float) -> None:
        slot.cancel_timer()
        if delay <= 0 and not self._has_spawn_hooks():
            self._respawn_now(slot)
            return
        slot.timer = self._host.loop.call_later(max(delay, 0), self._respawn_later, slot)

    def _has_spawn_hooks(self) -> bool:
        return "before_spawn" in self.config.hooks or "after_spawn" in self.config.hooks

    def _respawn_now(self, slot: Slot) -> None:
        slot.timer = None
        if self.slots.get(slot.wid) is slot and self.accepts_respawn():
            self._spawn(slot)
            self.refresh_running_state()

    def _respawn_later(self, slot: Slot) -> None:
        slot.timer = None
        slot.pause_until = None
        if not (self.slots.get(slot.wid) is slot and self.accepts_respawn()):
            return
        if not self._has_spawn_hooks():
            self._respawn_now(slot)
            return
        self._background.run(self._respawn_with_hooks(slot))

    async def _respawn_with_hooks(self, slot: Slot) -> None:
        if not await self.spawn_with_hooks(slot):
            # A veto outside a start stops the watcher (docs/hooks.md#the-eleven-hooks).
            reason = self._status.reason
            self._host.note_failure(self.name, reason or "vetoed")
            self._stop_on_own(reason or Reason.COMMAND)
            return
        self.refresh_running_state()

    def accepts_respawn(self) -> bool:
        return self._status.state in SPAWNING_STATES and not self._host.quitting

    def _pause_slot(self, slot: Slot, retry_in: float, attempt: int) -> None:
        slot.cancel_timer()
        slot.pause_until = time.monotonic() + retry_in
        slot.timer = self._host.loop.call_later(retry_in, self._respawn_later, slot)
        self._bus.emit(
            Kind.FLAPPING, self.name, {"wid": slot.wid, "attempt": attempt, "retry_in": retry_in}
        )
        self._status.move(WatcherState.FLAPPING, Reason.FLAP_PAUSE)

    def _park_slot(self, slot: Slot) -> None:
        slot.cancel_timer()
        if all(s.history.parked for s in self.slots.values()):
            detail = f"gave up after {slot.history.pauses} flapping pauses"
            self._background.run(self._give_up(Reason.FLAP_EXHAUSTED, detail))
        else:
            self.refresh_running_state()

    def refresh_running_state(self) -> None:
        if self._status.state not in RUNNING_STATES:
            return
        pausing = any(s.pause_until is not None or s.history.probing for s in self.slots.values())
        new_state = WatcherState.FLAPPING if pausing else WatcherState.ACTIVE
        self._status.move(new_state, Reason.FLAP_PAUSE if pausing else Reason.COMMAND)

    # -- the watcher's commands ---------------------------------------------------------------
    async def remove_oldest(self, count: int) -> None:
        """Slots with no process first (waiting on a respawn or a group clear: dropping them
        kills nothing), then the oldest processes."""
        ordered = sorted(
            self.live(),
            key=lambda s: (1, s.process.started_monotonic) if s.process else (0, 0.0),
        )
        doomed = ordered[:count]
        for slot in doomed:
            slot.cancel_timer()
            self.slots.pop(slot.wid, None)
        # Newest of them first, one stop signal (with its hooks) after the other, as Circus.
        processes = [s.process for s in reversed(doomed) if s.process is not None]
        await self._ladder.stop_in_turn(processes)

    def cancel_all_timers(self) -> None:
        for slot in self.slots.values():
            slot.cancel_timer()

    @property
    def all_running(self) -> bool:
        """Every wanted process is up (none waiting on a respawn timer or a retry)."""
        running = sum(
            1 for slot in self.slots.values() if slot.process is not None and slot.process.alive
        )
        return running >= self.numprocesses and not self.pending_timers

    @property
    def pending_timers(self) -> bool:
        return any(slot.timer is not None for slot in self.slots.values())

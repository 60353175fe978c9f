"""A watcher: one program run as `numprocesses` slots, with its lifecycle and hooks (§3, §4)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuiman.core.config.expand import spawn_argv_env
from tuiman.core.config.model import WatcherConfig
from tuiman.core.events import Kind
from tuiman.core.processes.output import OutputBuffer, OutputFileSink, OutputLine
from tuiman.core.processes.process import ManagedProcess, SpawnSpec, spawn_error_text
from tuiman.core.processes.reaper import kill_marked, reap_group_zombies
from tuiman.core.secrets import masked_env
from tuiman.core.states import UNEXISTING, ProcessState, Reason, WatcherState
from tuiman.core.supervision.restart import Action, SlotHistory

if TYPE_CHECKING:
    from tuiman.core.supervision.arbiter import Arbiter

LEAK_GRACE = 5.0  # seconds a process may outlive SIGKILL before it is reported leaked
GROUP_POLL = 0.05
MARKER_ENV = "TUIMAN_INSTANCE"
WATCHER_ENV = "TUIMAN_WATCHER"  # with the marker: finds a watcher's setsid escapees
ESCAPEE_ROUNDS = 5  # sweeps, for escapees forked while the previous sweep ran
SPAWN_SLICE = 0.01  # seconds of back-to-back spawning before yielding to the loop


@dataclass(frozen=True, slots=True)
class CommandResult:
    ok: bool
    error: str | None = None

    @staticmethod
    def failure(error: str) -> CommandResult:
        return CommandResult(False, error)


OK = CommandResult(True)


class CommandAborted(Exception):
    """A hook vetoed or failed: the command stops here, with this reason."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


@dataclass
class Slot:
    wid: int
    history: SlotHistory
    process: ManagedProcess | None = None
    timer: asyncio.TimerHandle | None = None
    pause_until: float | None = None  # monotonic end of a flapping pause

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pause_until = None


class Watcher:
    def __init__(self, config: WatcherConfig, arbiter: Arbiter) -> None:
        self.config = config
        self.name = config.name
        self.arbiter = arbiter
        self.bus = arbiter.bus
        self.state = WatcherState.STOPPED
        self.reason: str | None = None  # why the last state change happened
        self.numprocesses = config.numprocesses
        self.slots: dict[int, Slot] = {}
        self.processes: dict[int, ManagedProcess] = {}  # pid -> process, until its reap event
        self.output = OutputBuffer(
            arbiter.config.arbiter.output_lines, arbiter.config.arbiter.output_bytes
        )
        self.file_sink = _make_sink(config, arbiter)
        self.restarts = 0
        self.last_exit_codes: dict[int, int] = {}  # wid -> exit code of its last process
        self.started_ever = False
        self.stopped_by_command = False
        self.command_epoch = 0
        self.commands_pending = 0  # queued or running commands
        self._executables: dict[tuple[str, str | None], str | None] = {}
        self._lock = asyncio.Lock()
        self._cancellable: set[asyncio.Task[CommandResult]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._reap_tail: asyncio.Future[None] | None = None
        # pid -> its signal step (signal, after_signal, kill event) in flight: the reap waits (§5)
        self._signal_steps: dict[int, asyncio.Future[None]] = {}
        # pids killed by an after_spawn veto: the veto decides the watcher's fate, not their exit
        self._veto_killed: set[int] = set()

    # -- commands (serialized per watcher) ----------------------------------------------------
    def submit(
        self,
        factory: Callable[[], Awaitable[CommandResult]],
        *,
        cancellable: bool = False,
        cancels: bool = False,
    ) -> asyncio.Task[CommandResult]:
        """Queue a command behind the others on this watcher; stop/quit cancel pending starts."""
        self.command_epoch += 1
        self.commands_pending += 1
        if cancels:
            for task in list(self._cancellable):
                task.cancel()
        task = asyncio.get_running_loop().create_task(self._serialized(factory))
        if cancellable:
            self._cancellable.add(task)
            task.add_done_callback(self._cancellable.discard)
        return task

    async def _serialized(self, factory: Callable[[], Awaitable[CommandResult]]) -> CommandResult:
        try:
            async with self._lock:
                try:
                    return await factory()
                except CommandAborted as aborted:
                    return CommandResult.failure(f"{aborted.reason}: {aborted.error}")
        finally:
            self.commands_pending -= 1
            # Done-on-its-own is only judged between commands (a restart's stop half is not).
            self.arbiter.watcher_settled(self)

    def start(self) -> asyncio.Task[CommandResult]:
        self.stopped_by_command = False
        return self.submit(self._start, cancellable=True)

    def stop(
        self, by_command: bool = True, reason: str = Reason.COMMAND
    ) -> asyncio.Task[CommandResult]:
        if by_command:
            self.stopped_by_command = True
        return self.submit(lambda: self._stop(reason), cancels=True)

    def restart(self) -> asyncio.Task[CommandResult]:

        async def restart() -> CommandResult:
            await self._stop(Reason.COMMAND)
            return await self._start()

        return self.submit(restart, cancellable=True)

    def set_numprocesses(self, target: int) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._scale(target), cancellable=True)

    def incr(self, count: int = 1) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._scale(self.numprocesses + count), cancellable=True)

    def decr(self, count: int = 1) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._scale(max(self.numprocesses - count, 0)), cancellable=True)

    def reload(self) -> asyncio.Task[CommandResult]:
        return self.submit(self._reload, cancellable=True)

    def kill_process(self, pid: int) -> asyncio.Task[CommandResult]:
        """The graceful stop procedure on one process; its slot respawns per policy."""
        return self.submit(lambda: self._kill_one(pid))

    def send_signal(
        self, signum: int, pid: int | None = None, group: bool = False
    ) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._signal_command(signum, pid, group))

    # -- start --------------------------------------------------------------------------------
    async def _start(self) -> CommandResult:
        if self.state in (WatcherState.ACTIVE, WatcherState.STARTING):
            return OK
        if self.state == WatcherState.STOPPING:
            return CommandResult.failure("watcher is stopping")
        self.started_ever = True
        self.stopped_by_command = False
        self._cancel_all_timers()
        for wid in [wid for wid, slot in self.slots.items() if slot.process is None]:
            del self.slots[wid]  # pausing, parked or failed slots start afresh
        if not await self._hook_allows("before_start"):
            self.arbiter.note_failure(self.name, self.reason or "")
            return CommandResult.failure(self.reason or "vetoed")
        self._set_state(WatcherState.STARTING, Reason.COMMAND)
        try:
            await self._fill_slots()
            if not await self._hook_allows("after_start"):
                raise CommandAborted(self.reason or "", "after_start")
        except CommandAborted as aborted:
            await self._stop_after_veto(aborted.reason)
            return CommandResult.failure(f"{aborted.reason}: {aborted.error}")
        self._set_state(WatcherState.ACTIVE, Reason.COMMAND)
        self.bus.publish(Kind.START, self.name)
        self._check_all_exited()  # one-shot processes that exited while the start ran its hooks
        return OK

    async def _fill_slots(self) -> None:
        """Spawn every missing slot up to numprocesses; a veto raises CommandAborted."""
        loop = self.arbiter.loop
        slice_started = loop.time()
        # Counted once: a respawn=false process that exits meanwhile frees its slot for good.
        for _ in range(self.numprocesses - len(self._live_slots())):
            if not self._accepts_respawn():
                break
            slot = self._new_slot()
            if not await self._spawn_with_hooks(slot):
                self.slots.pop(slot.wid, None)
                raise CommandAborted(self.reason or "spawn", "spawn vetoed")
            if self.config.warmup_delay:
                await asyncio.sleep(self.config.warmup_delay)
            elif loop.time() - slice_started >= SPAWN_SLICE:
                # Let reaping, the UI and the printers run; not after every spawn: each wake-up
                # of theirs (a watchdog write, a printer hand-off) costs about what a spawn does.
                await asyncio.sleep(0)
                slice_started = loop.time()

    def _live_slots(self) -> list[Slot]:
        return [slot for slot in self.slots.values() if not slot.history.parked]

    def _new_slot(self) -> Slot:
        wid = len(self.slots) + 1
        if wid - 1 and max(self.slots) != wid - 1:  # not dense 1..n: find the smallest free wid
            wid = 1
            while wid in self.slots:
                wid += 1
        slot = Slot(wid, SlotHistory(self.config.restart))
        self.slots[wid] = slot
        return slot

    async def _spawn_with_hooks(self, slot: Slot) -> bool:
        """before_spawn, spawn, after_spawn. False when a hook vetoed (reason set)."""
        if not await self._hook_allows("before_spawn"):
            return False
        if not self._accepts_respawn() or self.slots.get(slot.wid) is not slot:
            return True  # stopped (or the slot removed) while the hook ran: spawn nothing
        process = self._spawn(slot)
        if process is None:
            return True  # a spawn error is handled by the retry ladder, not a veto
        if not await self._hook_allows("after_spawn", pid=process.pid):
            self._veto_killed.add(process.pid)
            await self._stop_process(process)
            return False
        return True

    def _spawn(self, slot: Slot) -> ManagedProcess | None:
        argv, env = spawn_argv_env(self.config, slot.wid, self.numprocesses)
        env[MARKER_ENV] = self.arbiter.marker
        env[WATCHER_ENV] = self.name
        spec = SpawnSpec(
            argv,
            env,
            str(self.config.working_dir),
            self.config.uid,
            self.config.gid,
            self.config.rlimits or None,
            executable=self._resolve_executable(argv[0], env.get("PATH")),
        )
        try:
            process = ManagedProcess(
                spec, slot.wid, self.arbiter.loop, self._on_output, self._on_exit
            )
        except OSError as error:
            self._executables.clear()  # the program may have moved: look it up again next time
            self._on_spawn_error(slot, error)
            return None
        slot.history.spawn_failures = 0
        slot.process = process
        self.processes[process.pid] = process
        self.arbiter.track_group(process.pgid)
        self.bus.publish(
            Kind.SPAWN, self.name, process_pid=process.pid, pid=process.pid, wid=slot.wid
        )
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
            self._executables[key] = shutil.which(program, path=lookup_path)
        return self._executables[key]

    def _arm_timers(self, slot: Slot, process: ManagedProcess) -> None:
        loop = self.arbiter.loop
        if self.config.max_age > 0:
            lifetime = self.config.max_age + random.uniform(0, self.config.max_age_variance)
            loop.call_later(lifetime, self._recycle, process)
        if slot.history.probing or slot.history.consecutive_short:
            loop.call_later(self.config.restart.reset_after, self._mark_healthy, slot, process)

    def _mark_healthy(self, slot: Slot, process: ManagedProcess) -> None:
        if process.alive and slot.process is process:
            slot.history.record_healthy()
            self._refresh_running_state()

    def _on_spawn_error(self, slot: Slot, error: OSError) -> None:
        text, code = spawn_error_text(error)
        slot.history.spawn_failures += 1
        self.bus.publish(Kind.SPAWN_ERROR, self.name, wid=slot.wid, error=text, errno=code)
        max_retry = self.config.max_retry
        if max_retry != -1 and slot.history.spawn_failures > max_retry:
            self._background_task(self._give_up(Reason.SPAWN_ERROR, f"spawn failed: {text}"))
            return
        self._schedule_respawn(slot, slot.history.spawn_failure_delay())

    # -- exits and respawn --------------------------------------------------------------------
    def _on_output(
        self, process: ManagedProcess, stream: str, lines: list[tuple[str, bool]]
    ) -> None:
        now = time.time()
        redact = self.bus.redactor  # a child printing its secrets: masked everywhere (§12)
        for text, partial in lines:
            if redact is not None:
                text = redact(text)
            line = OutputLine(now, process.pid, process.wid, stream, text, partial)
            self.output.append(line)
            if self.file_sink is not None:
                self.file_sink.write(line)
            payload: dict[str, Any] = {
                "pid": process.pid,
                "wid": process.wid,
                "stream": stream,
                "line": text,
            }
            if partial:
                payload["partial"] = True
            self.bus.publish(Kind.OUTPUT, self.name, **payload)

    def _on_exit(self, process: ManagedProcess) -> None:
        caused = self._tuiman_caused(process)
        code = process.exit_code if process.exit_code is not None else 0
        self.last_exit_codes[process.wid] = code
        slot = self.slots.get(process.wid)
        if slot is not None and slot.process is process:
            slot.process = None
        if not caused and code != 0 and self.config.respawn is False:
            self.arbiter.note_failure(self.name, f"process {process.pid} exited with {code}")
        self._queue_reap(process, caused)
        if process.group_survivors:
            self._background_task(self._clear_group_then(process, slot, caused))
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
        # A group leader died with members alive: stop them before its slot respawns (§3.3).
        await self._stop_group(process)
        self._after_exit(process, slot, caused)

    def _after_exit(self, process: ManagedProcess, slot: Slot | None, caused: bool) -> None:
        self.arbiter.loop.call_later(1.0, process.close_streams)
        if (
            slot is None
            or self.slots.get(slot.wid) is not slot
            or (process.stop_requested and not process.replace)
        ):
            if process.pid in self._veto_killed:
                self._veto_killed.discard(process.pid)
                return  # not "exited": the veto's own stop follows (reason veto:after_spawn)
            self._check_all_exited()
            return
        if self.state in (WatcherState.STOPPING, WatcherState.STOPPED, WatcherState.FAILED):
            return
        if not self._should_replace(process, caused):
            self.slots.pop(slot.wid, None)
            self._check_all_exited()
            return
        decision = slot.history.record_exit(time.monotonic(), process.age(), caused)
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

    def _check_all_exited(self) -> None:
        """respawn=false / on-failure: when nothing is left, the watcher stops (reason exited)."""
        if self.state != WatcherState.ACTIVE:
            return  # a start in flight checks at its end (its stop would cancel the start)
        if any(slot.process is not None or slot.timer is not None for slot in self.slots.values()):
            return
        if self.numprocesses == 0:
            return
        self.stop(by_command=False, reason=Reason.EXITED)

    def _schedule_respawn(self, slot: Slot, delay: float) -> None:
        slot.cancel_timer()
        if delay <= 0 and not self._has_spawn_hooks():
            self._respawn_now(slot)
            return
        slot.timer = self.arbiter.loop.call_later(max(delay, 0), self._respawn_later, slot)

    def _has_spawn_hooks(self) -> bool:
        return "before_spawn" in self.config.hooks or "after_spawn" in self.config.hooks

    def _respawn_now(self, slot: Slot) -> None:
        slot.timer = None
        if self.slots.get(slot.wid) is slot and self._accepts_respawn():
            self._spawn(slot)
            self._refresh_running_state()

    def _respawn_later(self, slot: Slot) -> None:
        slot.timer = None
        slot.pause_until = None
        if not (self.slots.get(slot.wid) is slot and self._accepts_respawn()):
            return
        if not self._has_spawn_hooks():
            self._respawn_now(slot)
            return
        self._background_task(self._respawn_with_hooks(slot))

    async def _respawn_with_hooks(self, slot: Slot) -> None:
        if not await self._spawn_with_hooks(slot):
            # A veto outside a start stops the watcher (§4.3).
            self.arbiter.note_failure(self.name, self.reason or "vetoed")
            self.stop(by_command=False, reason=self.reason or Reason.COMMAND)
            return
        self._refresh_running_state()

    def _accepts_respawn(self) -> bool:
        return self.state in (WatcherState.ACTIVE, WatcherState.STARTING, WatcherState.FLAPPING)

    def _pause_slot(self, slot: Slot, retry_in: float, attempt: int) -> None:
        slot.cancel_timer()
        slot.pause_until = time.monotonic() + retry_in
        slot.timer = self.arbiter.loop.call_later(retry_in, self._respawn_later, slot)
        self.bus.publish(Kind.FLAPPING, self.name, wid=slot.wid, attempt=attempt, retry_in=retry_in)
        self._set_state(WatcherState.FLAPPING, Reason.FLAP_PAUSE)

    def _park_slot(self, slot: Slot) -> None:
        slot.cancel_timer()
        if all(s.history.parked for s in self.slots.values()):
            self._background_task(
                self._give_up(
                    Reason.FLAP_EXHAUSTED, f"gave up after {slot.history.pauses} flapping pauses"
                )
            )
        else:
            self._refresh_running_state()

    def _refresh_running_state(self) -> None:
        if self.state not in (WatcherState.ACTIVE, WatcherState.FLAPPING):
            return
        pausing = any(s.pause_until is not None or s.history.probing for s in self.slots.values())
        new_state = WatcherState.FLAPPING if pausing else WatcherState.ACTIVE
        self._set_state(new_state, Reason.FLAP_PAUSE if pausing else Reason.COMMAND)

    async def _give_up(self, reason: str, detail: str) -> None:
        self.arbiter.note_failure(self.name, detail)
        await self.submit(
            lambda: self._stop(reason, final_state=WatcherState.FAILED, detail=detail), cancels=True
        )

    def _recycle(self, process: ManagedProcess) -> None:
        if process.alive and not process.stop_requested and self._accepts_respawn():
            process.replace = True
            self._background_task(self._stop_process(process))

    # -- reaping ------------------------------------------------------------------------------
    def _queue_reap(self, process: ManagedProcess, caused: bool) -> None:
        """before_reap, reap event, after_reap: in exit order, never delaying the respawn."""
        status = None if caused else UNEXISTING
        if (
            not ("before_reap" in self.config.hooks or "after_reap" in self.config.hooks)
            and (self._reap_tail is None or self._reap_tail.done())
            and process.pid not in self._signal_steps
        ):
            self._publish_reap(process, status)
            return
        previous = self._reap_tail
        self._reap_tail = self._background_task(self._reap_with_hooks(process, status, previous))

    async def _reap_with_hooks(
        self, process: ManagedProcess, status: int | None, previous: asyncio.Future[None] | None
    ) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous
        step = self._signal_steps.get(process.pid)
        if step is not None:  # its kill/signal event comes before its reap (§5)
            await asyncio.shield(step)
        exit_time = time.time()
        await self._run_hook("before_reap", process_pid=process.pid, time=exit_time)
        self._publish_reap(process, status)
        await self._run_hook(
            "after_reap",
            process_pid=process.pid,
            time=exit_time,
            exit_code=process.exit_code,
            process_status=status,
        )

    def _publish_reap(self, process: ManagedProcess, status: int | None) -> None:
        self.processes.pop(process.pid, None)
        self.arbiter.untrack_group(process.pgid)
        self.bus.publish(
            Kind.REAP,
            self.name,
            process_pid=process.pid,
            pid=process.pid,
            wid=process.wid,
            exit_code=process.exit_code,
            process_status=status,
        )

    # -- stop ---------------------------------------------------------------------------------
    async def _stop(
        self,
        reason: str,
        *,
        final_state: WatcherState = WatcherState.STOPPED,
        detail: str | None = None,
    ) -> CommandResult:
        if (
            self.state == WatcherState.STOPPED
            and not self.processes
            and final_state == WatcherState.STOPPED
        ):
            self._cancel_all_timers()
            return OK
        await self._run_stop_sequence(reason, final_state=final_state, detail=detail)
        return OK

    async def _run_stop_sequence(
        self,
        reason: str,
        *,
        final_state: WatcherState = WatcherState.STOPPED,
        detail: str | None = None,
    ) -> None:
        self._cancel_all_timers()
        self._set_state(WatcherState.STOPPING, reason)
        await self._run_hook("before_stop")
        running = [p for p in self.processes.values() if p.alive]
        results = await asyncio.gather(*(self._stop_process(p) for p in running))
        leaked = [pid for pid, ok in zip((p.pid for p in running), results, strict=True) if not ok]
        await self._wait_reaps()
        await self._kill_escapees()
        self.slots.clear()
        payload: dict[str, Any] = {"reason": str(reason)}
        if leaked:
            payload["leaked_pids"] = leaked
        self.bus.publish(Kind.STOP, self.name, **payload)
        self._set_state(final_state, reason)
        if final_state == WatcherState.FAILED:
            self.bus.publish(
                Kind.FAILED, self.name, reason=str(reason), detail=detail or str(reason)
            )
        await self._run_hook("after_stop")
        self.arbiter.watcher_settled(self)

    async def _kill_escapees(self) -> None:
        """SIGKILL what left this watcher's groups with `setsid` (§3.5): it still carries the
        instance marker and the watcher's name in its environment."""
        entries = (f"{MARKER_ENV}={self.arbiter.marker}", f"{WATCHER_ENV}={self.name}")
        for _ in range(ESCAPEE_ROUNDS):
            if not await asyncio.to_thread(kill_marked, entries):
                return
            await asyncio.sleep(GROUP_POLL)

    async def _wait_reaps(self) -> None:
        if self._reap_tail is not None and not self._reap_tail.done():
            with contextlib.suppress(BaseException):
                await self._reap_tail

    async def _stop_after_veto(self, reason: str) -> None:
        self.arbiter.note_failure(self.name, reason)
        await self._run_stop_sequence(reason)

    async def _stop_process(self, process: ManagedProcess) -> bool:
        """stop_signal (with hooks), SIGCONT, wait graceful_timeout, SIGKILL. False if leaked."""
        if not process.alive:
            return True
        process.stop_requested = True
        process.state = ProcessState.STOPPING
        stop_signal = self.config.stop_signal
        if self.config.graceful_timeout > 0:
            await self._signal_process(
                process, stop_signal, kind=Kind.KILL, group=self.config.stop_children
            )
            process.signal_group(signal.SIGCONT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.exited), self.config.graceful_timeout)
        if process.alive:
            await self._signal_process(process, signal.SIGKILL, kind=Kind.KILL, group=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.exited), LEAK_GRACE)
        await self._stop_group(process, force=True)
        return not process.alive

    async def _stop_group(self, process: ManagedProcess, force: bool = False) -> None:
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

    async def _signal_process(
        self, process: ManagedProcess, signum: int, *, kind: Kind, group: bool
    ) -> bool:
        """before_signal, the signal, after_signal, then a kill/signal event. False if vetoed."""
        is_kill = signum == signal.SIGKILL
        allowed = await self._hook_allows(
            "before_signal",
            pid=process.pid,
            signum=signum,
            result_ignored=is_kill,
            timeout=1.0 if is_kill else None,
        )
        if not allowed and not is_kill:
            await self._run_hook("after_signal", pid=process.pid, signum=signum)
            return False
        process.tuiman_signal_at = time.monotonic()
        step = self._signal_steps[process.pid] = self.arbiter.loop.create_future()
        try:
            sent = process.signal_group(signum) if group else process.send_signal(signum)
            await self._run_hook("after_signal", pid=process.pid, signum=signum)
            if sent:
                self.bus.publish(
                    kind, self.name, process_pid=process.pid, pid=process.pid, signum=signum
                )
        finally:
            if self._signal_steps.get(process.pid) is step:
                del self._signal_steps[process.pid]
            step.set_result(None)
        return sent

    # -- other commands -----------------------------------------------------------------------
    async def _scale(self, target: int) -> CommandResult:
        if target < 0:
            return CommandResult.failure("numprocesses must be >= 0")
        if self.config.singleton and target > 1:
            return CommandResult.failure("singleton watcher: numprocesses may only be 0 or 1")
        previous = self.numprocesses
        self.numprocesses = target
        self.bus.publish(Kind.UPDATED, self.name, numprocesses=target)
        if self.state not in (WatcherState.ACTIVE, WatcherState.FLAPPING):
            return OK
        if target < previous:
            await self._remove_oldest(len(self._live_slots()) - target)
            return OK
        try:
            await self._fill_slots()
        except CommandAborted as aborted:
            # A veto during incr aborts only this command and keeps what runs (§4.3).
            self.numprocesses = len(self._live_slots())
            self.bus.publish(Kind.UPDATED, self.name, numprocesses=self.numprocesses)
            return CommandResult.failure(aborted.reason)
        return OK

    async def _remove_oldest(self, count: int) -> None:
        ordered = sorted(
            self._live_slots(),
            key=lambda s: s.process.started_monotonic if s.process else float("inf"),
        )
        doomed = ordered[:count]
        for slot in doomed:
            slot.cancel_timer()
            self.slots.pop(slot.wid, None)
        await asyncio.gather(*(self._stop_process(s.process) for s in doomed if s.process))

    async def _reload(self) -> CommandResult:
        if self.state not in (WatcherState.ACTIVE, WatcherState.FLAPPING):
            return await self._start()
        old_slots = list(self._live_slots())
        self.bus.publish(Kind.RELOAD, self.name)
        new_slots: list[Slot] = []
        for _ in range(self.numprocesses):
            slot = self._new_slot()
            if not await self._spawn_with_hooks(slot):
                self.slots.pop(slot.wid, None)
                for new_slot in new_slots:
                    self.slots.pop(new_slot.wid, None)
                await asyncio.gather(
                    *(self._stop_process(s.process) for s in new_slots if s.process)
                )
                return CommandResult.failure(self.reason or "vetoed")
            new_slots.append(slot)
        for slot in old_slots:
            slot.cancel_timer()
            self.slots.pop(slot.wid, None)
        await asyncio.gather(*(self._stop_process(s.process) for s in old_slots if s.process))
        return OK

    async def _kill_one(self, pid: int) -> CommandResult:
        process = self.processes.get(pid)
        if process is None or not process.alive:
            return CommandResult.failure(f"no process {pid} in watcher {self.name}")
        process.replace = True
        await self._stop_process(process)
        return OK

    async def _signal_command(self, signum: int, pid: int | None, group: bool) -> CommandResult:
        if pid is not None:
            process = self.processes.get(pid)
            if process is None or not process.alive:
                return CommandResult.failure(f"no process {pid} in watcher {self.name}")
            targets = [process]
        else:
            targets = [p for p in self.processes.values() if p.alive]
        results = await asyncio.gather(
            *(self._signal_process(p, signum, kind=Kind.SIGNAL, group=group) for p in targets)
        )
        if targets and not any(results):
            return CommandResult.failure(self.reason or "signal not sent")
        return OK

    # -- hooks --------------------------------------------------------------------------------
    async def _hook_allows(
        self,
        hook_name: str,
        *,
        result_ignored: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> bool:
        spec = self.config.hooks.get(hook_name)
        if spec is None or self.arbiter.forced:
            return True  # after a second quit, hooks that have not started are skipped
        outcome = await self.arbiter.hooks.call(
            spec,
            self.name,
            self.arbiter.facades_for(self),
            kwargs,
            timeout=timeout,
            result_ignored=result_ignored,
        )
        if not outcome.proceed:
            self.reason = (
                Reason.hook_failure(hook_name) if outcome.failed else Reason.veto(hook_name)
            )
        return outcome.proceed

    async def _run_hook(self, hook_name: str, **kwargs: Any) -> None:
        spec = self.config.hooks.get(hook_name)
        if spec is not None and not self.arbiter.forced:
            await self.arbiter.hooks.call(
                spec, self.name, self.arbiter.facades_for(self), kwargs, result_ignored=True
            )

    # -- helpers ------------------------------------------------------------------------------
    def _set_state(self, new_state: WatcherState, reason: str) -> None:
        if new_state == self.state:
            return
        old_state, self.state = self.state, new_state
        self.reason = str(reason)
        self.bus.publish(
            Kind.STATE, self.name, old=str(old_state), new=str(new_state), reason=self.reason
        )
        self.arbiter.watcher_state_changed(self)

    def _cancel_all_timers(self) -> None:
        for slot in self.slots.values():
            slot.cancel_timer()

    def _background_task(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _own_env(self) -> dict[str, str]:
        """The variables the config sets for this watcher (not the whole inherited environment)."""
        inherited = os.environ if self.config.copy_env else {}
        return {k: v for k, v in self.config.env.items() if inherited.get(k) != v}

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

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "name": self.name,
            "state": str(self.state),
            "reason": self.reason,
            "numprocesses": self.numprocesses,
            "priority": self.config.priority,
            "graceful_timeout": self.config.graceful_timeout,
            "autostart": self.config.autostart,
            "cmd": " ".join(self.config.cmd),
            "env": masked_env(self._own_env()),
            "hooks": sorted(self.config.hooks),
            "restarts": self.restarts,
            "processes": [process_snapshot(p) for p in self.processes.values()],
            "slots": [
                {
                    "wid": slot.wid,
                    "pid": slot.process.pid if slot.process else None,
                    "parked": slot.history.parked,
                    "pauses": slot.history.pauses,
                    "retry_in": round(slot.pause_until - now, 3) if slot.pause_until else None,
                }
                for slot in self.slots.values()
            ],
            "last_exit_codes": {str(wid): code for wid, code in self.last_exit_codes.items()},
        }


def process_snapshot(process: ManagedProcess) -> dict[str, Any]:
    return {
        "pid": process.pid,
        "wid": process.wid,
        "state": str(process.state),
        "started": process.started,
        "exit_code": process.exit_code,
    }


def _make_sink(config: WatcherConfig, arbiter: Arbiter) -> OutputFileSink | None:
    output = config.output
    if output.file is None and output.stdout_file is None and output.stderr_file is None:
        return None
    return arbiter.make_file_sink(config)

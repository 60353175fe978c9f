"""A watcher: one program run as `numprocesses` slots, with its lifecycle and hooks
(docs/supervision.md, docs/hooks.md).

The Watcher holds the public commands and the snapshot; its parts do the work: the command
queue (`command_queue`), the checked state (`watcher_state`), the slots and their respawns
(`slots`), the per-process stop ladder (`stop_ladder`) and ordered reaping (`reaping`). All it
needs of its owner is a `WatcherHost`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from operator import itemgetter

from tuiman.core.config.model import RespawnPolicy, WatcherConfig
from tuiman.core.config.sockets import socket_names_used_by
from tuiman.core.events import Kind
from tuiman.core.payloads import OutputPayload, ProcessSnapshot, StopPayload, WatcherSnapshot
from tuiman.core.processes.log_files import OutputFileSink
from tuiman.core.processes.output import OutputChunk, mask_lines
from tuiman.core.processes.process import ManagedProcess
from tuiman.core.secrets import masked_env
from tuiman.core.states import Reason, WatcherState
from tuiman.core.supervision.command_queue import (
    OK,
    QUITTING,
    CommandAborted,
    CommandFactory,
    CommandQueue,
    CommandResult,
    TaskKeeper,
)
from tuiman.core.supervision.hook_calls import WatcherHooks
from tuiman.core.supervision.hook_env import effective_env
from tuiman.core.supervision.readiness import WatcherProbes
from tuiman.core.supervision.reaping import ReapQueue
from tuiman.core.supervision.slots import Slot, SlotTable
from tuiman.core.supervision.start_check import check_environment, reload_with_hup
from tuiman.core.supervision.stop_ladder import StopLadder
from tuiman.core.supervision.terminals import input_kind
from tuiman.core.supervision.watcher_host import WatcherHost
from tuiman.core.supervision.watcher_state import RUNNING_STATES, WatcherStatus

__all__ = [
    "OK",
    "QUITTING",
    "CommandAborted",
    "CommandResult",
    "Slot",
    "Watcher",
    "process_snapshot",
]


class Watcher:
    def __init__(self, config: WatcherConfig, host: WatcherHost) -> None:
        self._config = config
        self.name = config.name
        self.host = host
        self.bus = host.bus
        self.output = host.make_output_buffer()
        self.file_sink = _make_sink(config, host)
        if self.file_sink is not None:
            self.file_sink.on_error = self._log_file_failed
        self.started_ever = False
        self.stopped_by_command = False
        self.processes: dict[int, ManagedProcess] = {}  # pid -> process, until its reap event
        self._status = WatcherStatus(self.name, self.bus, self._state_changed)
        self._commands = CommandQueue(self._settled)
        background = TaskKeeper()
        self._hooks = WatcherHooks(config, host, self._status, host.facades_for(self))
        self._ladder = StopLadder(config, host, self.bus, self._hooks)
        self._reaper = ReapQueue(
            self.name,
            host,
            self.bus,
            self._hooks,
            self.processes,
            self._ladder.signal_steps,
            background,
        )
        self._slot_table = SlotTable(
            config,
            host,
            self._status,
            self._hooks,
            self._ladder,
            self._reaper,
            self.processes,
            background,
            self._on_output,
            self._stop_on_own,
            self._give_up,
        )
        self._slot_table.on_terminal = self._on_terminal
        self.slots = self._slot_table.slots  # wid -> slot (the same dict, never replaced)
        self.probes = WatcherProbes(config, host, self._running_fully, self._liveness_restart)
        self._slot_table.probes = self.probes
        self._background = background
        # set by the arbiter's start order (docs/readiness.md#dependencies)
        self.waiting_for: list[str] = []
        self.blocked: str | None = None
        self.last_exit_codes = self._slot_table.last_exit_codes  # wid -> last exit code
        self.env_changes = self._slot_table.env_changes  # set by hooks (the same dict)

    # -- what the rest of tuiman reads --------------------------------------------------------
    @property
    def config(self) -> WatcherConfig:
        """Replaced in place by a config reload that changes only numprocesses: the parts too."""
        return self._config

    @config.setter
    def config(self, config: WatcherConfig) -> None:
        self._config = config
        self._hooks.config = config
        self._ladder.config = config
        self._slot_table.config = config
        self.probes.config = config

    @property
    def state(self) -> WatcherState:
        return self._status.state

    @property
    def reason(self) -> str | None:
        """Why the last state change happened (or the last veto)."""
        return self._status.reason

    @property
    def numprocesses(self) -> int:
        return self._slot_table.numprocesses

    @property
    def restarts(self) -> int:
        return self._slot_table.restarts

    @property
    def command_epoch(self) -> int:
        return self._commands.epoch

    @property
    def commands_pending(self) -> int:
        """Queued or running commands."""
        return self._commands.pending

    @property
    def all_running(self) -> bool:
        """Every wanted process is up (none waiting on a respawn timer or a retry)."""
        return self._slot_table.all_running

    @property
    def slot_table(self) -> SlotTable:
        return self._slot_table

    @property
    def base_env(self) -> dict[str, str]:
        """The environment before hooks change it: with what the last start resolved
        (virtualenv, copy_path)."""
        launch = self._slot_table.launch
        return self.config.env if launch is None else launch.env

    @property
    def status(self) -> WatcherStatus:
        return self._status

    @property
    def pending_timers(self) -> bool:
        return self._slot_table.pending_timers

    @property
    def ready(self) -> bool:
        """Passed its readiness probe (every process); without a probe: active, all up."""
        if self.config.ready is None:
            return self._running_fully()
        return self.probes.watcher_ready

    def _running_fully(self) -> bool:
        return self.state == WatcherState.ACTIVE and self.all_running

    def _liveness_restart(self, process: ManagedProcess, detail: str) -> None:
        process.replace = True
        self._background.run(self._ladder.stop_process(process))

    # -- commands (serialized per watcher) ----------------------------------------------------
    def submit(
        self, factory: CommandFactory, *, cancellable: bool = False, cancels: bool = False
    ) -> asyncio.Task[CommandResult]:
        """Queue a command behind the others on this watcher; stop/quit cancel pending starts."""
        return self._commands.submit(factory, cancellable=cancellable, cancels=cancels)

    def start(self) -> asyncio.Task[CommandResult]:
        self.stopped_by_command = False
        return self.submit(self._start, cancellable=True)

    def stop(
        self, by_command: bool = True, reason: str = Reason.COMMAND
    ) -> asyncio.Task[CommandResult]:
        if by_command:
            self.stopped_by_command = True
        return self.submit(lambda: self._stop(reason), cancels=True)

    def restart(self, reason: str = Reason.COMMAND) -> asyncio.Task[CommandResult]:

        async def restart() -> CommandResult:
            await self._stop(reason)
            return await self._start(reason)

        return self.submit(restart, cancellable=True)

    def set_numprocesses(self, target: int) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._scale(target), cancellable=True)

    def incr(self, count: int = 1) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._scale(self.numprocesses + count), cancellable=True)

    def decr(self, count: int = 1) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._scale(max(self.numprocesses - count, 0)), cancellable=True)

    def reload(self) -> asyncio.Task[CommandResult]:
        return self.submit(self._reload, cancellable=True)

    def kill_process(
        self, pid: int, *, stop_signal: int | None = None, graceful_timeout: float | None = None
    ) -> asyncio.Task[CommandResult]:
        """The graceful stop procedure on one process; its slot respawns per policy. The
        watcher's stop signal and graceful timeout unless given (Circus' `kill` options)."""
        return self.submit(lambda: self._kill_one(pid, stop_signal, graceful_timeout))

    def send_signal(
        self, signum: int, pid: int | None = None, group: bool = False
    ) -> asyncio.Task[CommandResult]:
        return self.submit(lambda: self._signal_command(signum, pid, group))

    # -- start --------------------------------------------------------------------------------
    async def _start(self, reason: str = Reason.COMMAND) -> CommandResult:
        status, table = self._status, self._slot_table
        if status.state in (WatcherState.ACTIVE, WatcherState.STARTING):
            return OK
        if status.state == WatcherState.STOPPING:
            return CommandResult.failure("watcher is stopping")
        if self.host.quitting:
            return CommandResult.failure(QUITTING)
        self.started_ever = True
        self.stopped_by_command = False
        self.blocked, self.waiting_for = None, []
        table.cancel_all_timers()
        for wid in [wid for wid, slot in self.slots.items() if slot.process is None]:
            del self.slots[wid]  # pausing, parked or failed slots start afresh
        if (problem := await check_environment(self)) is not None:
            return CommandResult.failure(problem)
        if not await self._hooks.allows("before_start"):
            self.host.note_failure(self.name, status.reason or "")
            return CommandResult.failure(status.reason or "vetoed")
        status.move(WatcherState.STARTING, reason)
        try:
            await table.fill()
            if not await self._hooks.allows("after_start"):
                raise CommandAborted(status.reason or "", "after_start")
        except CommandAborted as aborted:
            await self._stop_after_veto(aborted.reason)
            return CommandResult.failure(f"{aborted.reason}: {aborted.error}")
        status.move(WatcherState.ACTIVE, reason)
        self.bus.emit(Kind.START, self.name, {})
        table.check_all_exited()  # one-shot processes that exited while the start ran its hooks
        return OK

    # -- stop ---------------------------------------------------------------------------------
    async def _stop(
        self,
        reason: str,
        *,
        final_state: WatcherState = WatcherState.STOPPED,
        detail: str | None = None,
    ) -> CommandResult:
        if (
            self._status.state == WatcherState.STOPPED
            and not self.processes
            and final_state == WatcherState.STOPPED
        ):
            self._slot_table.cancel_all_timers()
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
        ladder = self._ladder
        self._slot_table.cancel_all_timers()
        self._status.move(WatcherState.STOPPING, reason)
        await self._hooks.run("before_stop")
        running = [p for p in self.processes.values() if p.alive]
        # One process after the other, in spawn order, as Circus: with signal hooks, at most one
        # runs at a time (never more than hook_threads); without, nothing waits in between.
        results = await ladder.stop_in_turn(running)
        leaked = [pid for pid, ok in zip((p.pid for p in running), results, strict=True) if not ok]
        await self._reaper.wait()
        await ladder.kill_escapees()
        self.slots.clear()
        payload: StopPayload = {"reason": str(reason)}
        if leaked:
            payload["leaked_pids"] = leaked
        self.bus.emit(Kind.STOP, self.name, payload)
        self._status.move(final_state, reason)
        if final_state == WatcherState.FAILED:
            self.bus.emit(
                Kind.FAILED, self.name, {"reason": str(reason), "detail": detail or str(reason)}
            )
        await self._hooks.run("after_stop")
        self.host.watcher_settled(self)

    async def _stop_after_veto(self, reason: str) -> None:
        self.host.note_failure(self.name, reason)
        await self._run_stop_sequence(reason)

    def _stop_on_own(self, reason: str) -> None:
        """Nothing left to run, or a respawn was vetoed: not a user's stop."""
        self.stop(by_command=False, reason=reason)

    async def _give_up(self, reason: str, detail: str) -> None:
        self.host.note_failure(self.name, detail)
        await self.submit(
            lambda: self._stop(reason, final_state=WatcherState.FAILED, detail=detail), cancels=True
        )

    # -- other commands -----------------------------------------------------------------------
    async def _scale(self, target: int) -> CommandResult:
        if target < 0:
            return CommandResult.failure("numprocesses must be >= 0")
        if self.config.singleton and target > 1:
            return CommandResult.failure("singleton watcher: numprocesses may only be 0 or 1")
        table = self._slot_table
        previous = table.numprocesses
        if target > previous and self.host.quitting:
            return CommandResult.failure(QUITTING)
        table.numprocesses = target
        self.bus.emit(Kind.UPDATED, self.name, {"numprocesses": target})
        if self._status.state not in RUNNING_STATES:
            return OK
        if target < previous:
            await table.remove_oldest(len(table.live()) - target)
            return OK
        try:
            await table.fill()
        except CommandAborted as aborted:
            # A veto during incr aborts only this command and keeps what runs
            # (docs/hooks.md#the-eleven-hooks).
            table.numprocesses = len(table.live())
            self.bus.emit(Kind.UPDATED, self.name, {"numprocesses": table.numprocesses})
            return CommandResult.failure(aborted.reason)
        return OK

    async def _reload(self) -> CommandResult:
        if self.host.quitting:
            return CommandResult.failure(QUITTING)
        if self._status.state not in RUNNING_STATES:
            return await self._start()
        if self.config.send_hup:
            return await reload_with_hup(self)
        table, stop_process = self._slot_table, self._ladder.stop_process
        old_slots = list(table.live())
        self.bus.emit(Kind.RELOAD, self.name, {})
        new_slots: list[Slot] = []
        for _ in range(table.numprocesses):
            slot = table.new_slot()
            if not await table.spawn_with_hooks(slot):
                self.slots.pop(slot.wid, None)
                for new_slot in new_slots:
                    self.slots.pop(new_slot.wid, None)
                await asyncio.gather(*(stop_process(s.process) for s in new_slots if s.process))
                return CommandResult.failure(self._status.reason or "vetoed")
            new_slots.append(slot)
        for slot in old_slots:
            slot.cancel_timer()
            self.slots.pop(slot.wid, None)
        # Newest first, each one's stop signal (with its hooks) after the previous one's, as
        # Circus (its uWSGI lossless-reload recipe drains each worker in before_signal).
        old_processes = sorted(
            (s.process for s in old_slots if s.process is not None),
            key=lambda process: process.started_monotonic,
            reverse=True,
        )
        await self._ladder.stop_in_turn(old_processes)
        return OK

    async def _kill_one(
        self, pid: int, stop_signal: int | None, graceful_timeout: float | None
    ) -> CommandResult:
        process = self.processes.get(pid)
        if process is None or not process.alive:
            return CommandResult.failure(f"no process {pid} in watcher {self.name}")
        process.replace = True
        await self._ladder.stop_process(
            process, stop_signal=stop_signal, graceful_timeout=graceful_timeout
        )
        return OK

    async def _signal_command(self, signum: int, pid: int | None, group: bool) -> CommandResult:
        if pid is not None:
            process = self.processes.get(pid)
            if process is None or not process.alive:
                return CommandResult.failure(f"no process {pid} in watcher {self.name}")
            targets = [process]
        else:
            targets = [p for p in self.processes.values() if p.alive]
        # One process after the other, as Circus: a "rolling" before_signal spaces them out.
        results = [
            await self._ladder.signal_process(p, signum, kind=Kind.SIGNAL, group=group)
            for p in targets
            if p.alive  # it may have exited while the previous one's hooks ran
        ]
        if targets and not any(results):
            return CommandResult.failure(self._status.reason or "signal not sent")
        return OK

    # -- output and host notices --------------------------------------------------------------
    def _on_output(
        self, process: ManagedProcess, stream: str, lines: list[tuple[str, bool]]
    ) -> None:
        pid, wid = process.pid, process.wid
        if self.bus.wanted(Kind.OUTPUT):
            texts = [self._emit_output(pid, wid, stream, text, partial) for text, partial in lines]
        else:  # nobody subscribed to output: no event per line, the same masking
            texts = mask_lines([text for text, _ in lines], self.bus.redactor)
        partials = list(map(itemgetter(1), lines))
        chunk = OutputChunk(
            time.time(), pid, wid, stream, texts, partials if True in partials else None
        )
        self.output.add(chunk)
        if self.file_sink is not None:
            self.file_sink.write_chunk(chunk)
            if self.file_sink.behind():
                process.hold_output(self.file_sink.behind)  # backpressure, not lost lines
        if self.config.ready is not None and self.config.ready.kind == "log":
            for text in texts:
                self.probes.output_line(process, text)

    def _emit_output(self, pid: int, wid: int, stream: str, text: str, partial: bool) -> str:
        payload: OutputPayload = {"pid": pid, "wid": wid, "stream": stream, "line": text}
        if partial:
            payload["partial"] = True
        # The bus masks a child printing its secrets (docs/reliability.md#secrets-stay-masked);
        # the buffer and the log file take the masked text from the event.
        return self.bus.emit(Kind.OUTPUT, self.name, payload).payload["line"]  # type: ignore[no-any-return]

    def _on_terminal(self, process: ManagedProcess, data: str) -> None:
        end = process.terminal.written if process.terminal is not None else 0
        self.bus.emit(
            Kind.TERMINAL,
            self.name,
            {"pid": process.pid, "wid": process.wid, "data": data, "end": end},
        )

    @property
    def terminal_size(self) -> tuple[int, int]:
        """(rows, cols) the next pty process starts with: the last size a front end set."""
        return self._slot_table.terminal_size

    @terminal_size.setter
    def terminal_size(self, size: tuple[int, int]) -> None:
        self._slot_table.terminal_size = size

    def _log_file_failed(self, message: str) -> None:
        """On the writer thread: the first failure of a burst on one of the log files."""
        self.host.call_on_loop(lambda: self._emit_log_error(message))

    def _emit_log_error(self, message: str) -> None:
        dropped = self.file_sink.dropped if self.file_sink is not None else 0
        self.bus.emit(Kind.LOG_ERROR, self.name, {"error": message, "dropped": dropped})

    def _state_changed(self) -> None:
        self.probes.refresh(f"watcher {self.state}")
        self.host.watcher_state_changed(self)

    def _settled(self) -> None:
        self.host.watcher_settled(self)

    # -- snapshot -----------------------------------------------------------------------------
    def _own_env(self) -> dict[str, str]:
        """The variables the config sets for this watcher (not the whole inherited environment)."""
        inherited = os.environ if self.config.copy_env else {}
        env = (  # with what hooks set
            effective_env(self.base_env, self.env_changes) if self.env_changes else self.base_env
        )
        return {k: v for k, v in env.items() if inherited.get(k) != v}

    def snapshot(self) -> WatcherSnapshot:
        now = time.monotonic()
        # Command replies do not go through the bus: mask here what the bus would
        # (docs/reliability.md#secrets-stay-masked).
        redact, cmd = self.bus.redactor, " ".join(self.config.cmd)
        snapshot: WatcherSnapshot = {
            "name": self.name,
            "state": str(self.state),
            "reason": self.reason,
            "numprocesses": self.numprocesses,
            "priority": self.config.priority,
            "graceful_timeout": self.config.graceful_timeout,
            "autostart": self.config.autostart,
            "cmd": redact(cmd) if redact is not None else cmd,
            "env": masked_env(self._own_env(), redact),
            "hooks": sorted(self.config.hooks),
            "working_dir": str(self.config.working_dir),
            "respawn": respawn_text(self.config.respawn),
            "stop_signal": self.config.stop_signal,
            "max_retry": self.config.max_retry,
            "restart": {k: float(v) for k, v in dataclasses.asdict(self.config.restart).items()},
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
        if (kind := input_kind(self.config)) is not None:
            snapshot["input"] = kind
        if self.config.ready or self.config.alive or self.config.depends_on:
            snapshot["readiness"] = self.probes.snapshot(self.waiting_for, self.blocked)
        if self.file_sink is not None and (errors := self.file_sink.errors):
            snapshot["log_files"] = {"error": errors[-1], "dropped": self.file_sink.dropped}
        if self.config.use_sockets or self.config.stdin_socket:
            # The ones it uses by name (its processes inherit them all): what the UI shows.
            bound = self.host.socket_snapshots()
            used = socket_names_used_by(self.config, [item["name"] for item in bound])
            snapshot["sockets"] = [item for item in bound if item["name"] in used]
        if self.config.on_demand:
            snapshot["on_demand"] = True
        return snapshot


def process_snapshot(process: ManagedProcess) -> ProcessSnapshot:
    return {
        "pid": process.pid,
        "wid": process.wid,
        "state": str(process.state),
        "started": process.started,
        "exit_code": process.exit_code,
    }


def _make_sink(config: WatcherConfig, host: WatcherHost) -> OutputFileSink | None:
    output = config.output
    if output.file is None and output.stdout_file is None and output.stderr_file is None:
        return None
    return host.make_file_sink(config)


def respawn_text(policy: RespawnPolicy) -> str:
    """The respawn policy in words: always (`true`), on-failure, or never (`false`)."""
    if policy == "on-failure":
        return "on-failure"
    return "always" if policy else "never"

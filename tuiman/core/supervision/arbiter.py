"""The arbiter: owns the watchers, the hook runner and the bus (docs/supervision.md)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from tuiman.core.bus import SKIP_OUTPUT, Bus
from tuiman.core.config.model import Config, WatcherConfig
from tuiman.core.events import Event, Kind
from tuiman.core.payloads import ArbiterSnapshot, SocketSnapshot
from tuiman.core.processes.cgroups import CgroupTree, WatcherCgroup
from tuiman.core.processes.log_files import OutputFileSink, OutputWriterThread
from tuiman.core.processes.output import OutputBuffer
from tuiman.core.processes.reaper import OrphanReaper
from tuiman.core.processes.watchdog import Watchdog, new_marker
from tuiman.core.secrets import MIN_SECRET_LENGTH, make_redactor, secret_values
from tuiman.core.states import Reason, WatcherState
from tuiman.core.supervision.config_reload import reload_config_file, settings_of
from tuiman.core.supervision.dependencies import Changes, start_after_dependencies, stop_ranks
from tuiman.core.supervision.file_watch import FileWatchService
from tuiman.core.supervision.hooks import HookCallToken, HookRunner
from tuiman.core.supervision.notify_socket import remove_instance_directory
from tuiman.core.supervision.on_demand import OnDemandStarts
from tuiman.core.supervision.plugins import Plugins
from tuiman.core.supervision.sockets import SocketTable
from tuiman.core.supervision.stats_service import StatsService
from tuiman.core.supervision.watchdog_guard import WatchdogGuard
from tuiman.core.supervision.watcher import QUITTING, CommandResult, Watcher

if TYPE_CHECKING:
    from tuiman.core.supervision.facade import HookArbiter, HookWatcher

RECENT_HOOK_EVENTS = 1000


class UnknownWatcher(KeyError):
    pass


HOOK_HISTORY_KINDS = frozenset(
    {Kind.HOOK_STARTED, Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE, Kind.HOOK_OUTPUT}
)


class Arbiter:
    def __init__(
        self,
        config: Config,
        *,
        watchdog: Watchdog | None = None,
        marker: str | None = None,
        cgroups: CgroupTree | str = "off: not set up",
        sockets: SocketTable | None = None,
    ) -> None:
        self.config = config
        # Bound before the loop by the launcher (a port in use is exit 2), else by `start`.
        self.sockets = sockets if sockets is not None else SocketTable()
        self.on_demand: OnDemandStarts | None = None
        self.bus = Bus()
        self.bus.set_snapshot_provider(self.snapshot)
        self.hooks = HookRunner(self.bus, config.arbiter.hook_threads)
        self.marker = marker or new_marker()
        self.watchdog = watchdog
        # cgroup v2 behind each watcher's stop, or why not (docs/reliability.md)
        self.cgroup_tree = cgroups if isinstance(cgroups, CgroupTree) else None
        cgroups_text = f"on {cgroups.root}" if isinstance(cgroups, CgroupTree) else cgroups
        self.guard = WatchdogGuard(watchdog, self.bus, cgroups_text)
        self._watchdog_changes: list[tuple[bool, int]] = []
        self.started_at = time.time()
        # sticky: any entry makes headless exit 1 (docs/headless.md#exit-codes)
        self.failures: list[str] = []
        self.forced = False  # a second quit: SIGKILL everything, skip hooks not yet started
        self.quit_requested = asyncio.Event()
        # every watcher done on its own (docs/headless.md#when-it-ends)
        self.all_done = asyncio.Event()
        self.stopped = asyncio.Event()
        self._writer: OutputWriterThread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_all_finished = False
        self._stopping_all = False
        self._quitting = False  # from the quit request on: nothing may start any more
        self._quit_task: asyncio.Future[None] | None = None
        self.stats = StatsService(self)
        self.plugins = Plugins(self)
        self.recent_hook_events: deque[Event] = deque(maxlen=RECENT_HOOK_EVENTS)
        self.bus.add_tap(self._remember_hook_event, SKIP_OUTPUT)
        self.dependency_changes = Changes(self.bus)
        self.watchers: dict[str, Watcher] = {}
        self._on_demand_tasks: set[asyncio.Future[CommandResult]] = set()
        self.reaper: OrphanReaper | None = None
        for watcher_config in config.watchers:
            self.watchers[watcher_config.name] = Watcher(watcher_config, self)
        self._hook_secrets: set[str] = set()  # values hooks put in secret-looking variables
        self.bus.redactor = redactor_for(config)
        self.file_watch = FileWatchService(self.bus, self.watchers.get, lambda: self._quitting)

    # -- wiring -------------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("arbiter not started")
        return self._loop

    def bind(self) -> None:
        """Attach to the running loop (called by `run`/`start`)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.bus.bind_loop(self._loop)
        self.hooks.loop_thread_id = threading.get_ident()
        self.reaper = OrphanReaper(self._loop, self.managed_pids)
        self.reaper.install()
        self.guard.start(self._loop)
        self.on_demand = OnDemandStarts(self._loop, self._start_on_demand)

    def call_on_loop(self, callback: Callable[[], None]) -> None:
        if threading.get_ident() == self.hooks.loop_thread_id:
            callback()
        else:
            self.loop.call_soon_threadsafe(callback)

    def facades_for(
        self, watcher: Watcher
    ) -> Callable[[HookCallToken], tuple[HookWatcher, HookArbiter]]:
        def make(token: HookCallToken) -> tuple[HookWatcher, HookArbiter]:
            # Imported at the first hook call: a config without hooks never needs it.
            from tuiman.core.supervision.facade import HookArbiter, HookWatcher

            return HookWatcher(watcher, token), HookArbiter(self, token)

        return make

    def make_output_buffer(self) -> OutputBuffer:
        return OutputBuffer(self.config.arbiter.output_lines, self.config.arbiter.output_bytes)

    def make_file_sink(self, config: WatcherConfig) -> OutputFileSink:
        if self._writer is None:
            self._writer = OutputWriterThread()
        return OutputFileSink(config.output, writer=self._writer)

    def track_group(self, pgid: int) -> None:
        self._queue_watchdog_change(True, pgid)

    def untrack_group(self, pgid: int) -> None:
        self._queue_watchdog_change(False, pgid)

    def _queue_watchdog_change(self, add: bool, pgid: int) -> None:
        # One pipe write per loop iteration, not per spawn: a burst of 500 spawns wakes the
        # watchdog once. The flush runs before the loop next waits, microseconds later.
        if self.watchdog is None:
            return
        if not self._watchdog_changes:
            self.loop.call_soon(self._flush_watchdog)
        self._watchdog_changes.append((add, pgid))

    def _flush_watchdog(self) -> None:
        changes, self._watchdog_changes = self._watchdog_changes, []
        if self.watchdog is not None:
            self.watchdog.update(changes)

    def cgroup_for(self, watcher_name: str) -> WatcherCgroup | None:
        if self.cgroup_tree is None:
            return None
        return self.cgroup_tree.for_watcher(watcher_name)

    def managed_pids(self) -> set[int]:
        pids = {pid for watcher in self.watchers.values() for pid in watcher.processes}
        if self.watchdog is not None:
            pids.add(self.watchdog.pid)
        return pids

    def reopen_logs(self) -> None:
        """SIGUSR1 / `ctl reopen-logs`: reopen output files after an external logrotate."""
        for watcher in self.watchers.values():
            if watcher.file_sink is not None:
                watcher.file_sink.reopen()

    def _remember_hook_event(self, event: Event) -> None:
        if event.kind in HOOK_HISTORY_KINDS:
            self.recent_hook_events.append(event)

    # -- sockets (docs/configuration.md#sockets) ---------------------------------------------
    def socket_fds(self) -> dict[str, int]:
        return self.sockets.fds()

    def socket_snapshots(self) -> list[SocketSnapshot]:
        return self.sockets.snapshot()

    def _announce_sockets(self) -> None:
        """Sockets bound after the first snapshot: the watchers that inherit them say so."""
        for watcher in self.start_order():
            if watcher.config.use_sockets or watcher.config.stdin_socket:
                self.bus.emit(
                    Kind.UPDATED,
                    watcher.name,
                    {
                        "numprocesses": watcher.numprocesses,
                        "settings": settings_of(watcher.snapshot()),
                    },
                )

    def arm_on_demand(self, watcher: Watcher) -> None:
        """An on_demand watcher that is stopped waits for a connection (not while quitting)."""
        if (
            self.on_demand is None
            or self._quitting
            or self.watchers.get(watcher.name) is not watcher
        ):
            return
        if not watcher.config.on_demand or watcher.state != WatcherState.STOPPED:
            return
        crashed = any(
            code not in watcher.config.success_exit_codes
            for code in watcher.last_exit_codes.values()
        )
        if crashed and not watcher.stopped_by_command:
            # Its processes failed on their own: the connection that started them may still be
            # waiting, and would start them again at once, for ever. A start command re-arms.
            return
        self.on_demand.arm(watcher.config, self.sockets.configs, self.sockets.fds())

    def waiting_for_connection(self, watcher: Watcher) -> bool:
        """An on_demand watcher, stopped, that the next connection to its sockets starts."""
        return self.on_demand is not None and self.on_demand.waiting(watcher.name)

    def _start_on_demand(self, name: str) -> None:
        watcher = self.watchers.get(name)
        if watcher is not None and not self._quitting:
            self._background_start(watcher)

    def _background_start(self, watcher: Watcher) -> None:
        self._track_start(watcher.start())

    def start_after_its_dependencies(self, watcher: Watcher) -> None:
        """Start a watcher a config reload added or replaced once its `depends_on` conditions
        hold, as at start-up; the reload itself does not wait for them."""
        self._track_start(start_after_dependencies(watcher, self.watchers, self.dependency_changes))

    def _track_start(self, start: Awaitable[CommandResult]) -> None:
        task = asyncio.ensure_future(start)
        self._on_demand_tasks.add(task)
        task.add_done_callback(self._on_demand_tasks.discard)

    # -- lookups ------------------------------------------------------------------------------
    def get(self, name: str) -> Watcher:
        watcher = self.watchers.get(name)
        if watcher is None:
            raise UnknownWatcher(name)
        return watcher

    def start_order(self) -> list[Watcher]:
        return sorted(self.watchers.values(), key=lambda w: (-w.config.priority, w.name))

    def stop_levels(self) -> list[list[Watcher]]:
        """Dependents before their dependencies, then ascending priority (docs/readiness.md)."""
        ranks = stop_ranks(self.watchers.values())

        def level(watcher: Watcher) -> tuple[int, int]:
            return ranks[watcher.name], watcher.config.priority

        ordered = sorted(self.watchers.values(), key=lambda w: (*level(w), w.name))
        return [list(group) for _, group in itertools.groupby(ordered, key=level)]

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start every autostart watcher by priority, highest first (docs/supervision.md#start)."""
        self.bind()
        self.file_watch.sync(self.config.watchers)
        if self.config.sockets and not self.sockets.bound:
            await asyncio.to_thread(self.sockets.bind_all, self.config.sockets)
            self._announce_sockets()
        await self.plugins.start(self.config.plugins)  # before any process may spawn
        for watcher in self.start_order():
            self.arm_on_demand(watcher)
        await self.start_all(autostart_only=True)
        self._start_all_finished = True
        self._check_all_done()

    async def start_all(self, autostart_only: bool = False) -> list[CommandResult]:
        results: list[CommandResult] = []
        # Watchers with dependencies wait side by side; the others start in priority order
        # without waiting for them (docs/readiness.md#dependencies).
        dependents: list[asyncio.Task[CommandResult]] = []
        for watcher in self.start_order():
            if autostart_only and (not watcher.config.autostart or watcher.config.on_demand):
                continue
            if self._stopping_all:
                break
            if watcher.config.depends_on:
                gate = start_after_dependencies(watcher, self.watchers, self.dependency_changes)
                dependents.append(asyncio.ensure_future(gate))
                continue
            epoch = watcher.command_epoch
            await asyncio.sleep(0)
            if watcher.command_epoch != epoch:
                continue  # a per-watcher command took it out of this start-all
            try:
                results.append(await watcher.start())
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # this start-all itself is cancelled
                # a stop (e.g. queued by a hook) cancelled that watcher's start: go on
                # (docs/supervision.md#start)
                results.append(CommandResult.failure(f"{watcher.name}: start cancelled by a stop"))
            if self.config.arbiter.warmup_delay:
                await asyncio.sleep(self.config.arbiter.warmup_delay)
        try:
            results.extend(await asyncio.gather(*dependents))
        finally:
            for task in dependents:
                task.cancel()
        return results

    async def stop_all(self, reason: str = Reason.COMMAND, by_command: bool = True) -> None:
        """Ascending priority, one level at a time; watchers of one level concurrently
        (docs/supervision.md#stop)."""
        for level in self.stop_levels():
            await asyncio.gather(*(w.stop(by_command=by_command, reason=reason) for w in level))

    async def quit(self) -> None:
        """Stop everything gracefully (or as forced), then release resources."""
        if self._stopping_all:
            await self.stopped.wait()
            return
        self._stopping_all = True
        self._quitting = True
        self.quit_requested.set()
        self.file_watch.stop_all()
        try:
            await self.stop_all(Reason.QUIT)
        finally:
            await self.shutdown()

    def request_quit(self) -> None:
        """Thread-safe-by-loop entry point used by hooks and signal handlers."""
        if not self._stopping_all and self._quit_task is None:
            self._quitting = True
            self._quit_task = asyncio.ensure_future(self.quit())

    @property
    def quitting(self) -> bool:
        """A quit was asked for: no process may be spawned from then on, whoever asks
        (docs/reliability.md#nothing-starts-once-tuiman-is-quitting)."""
        return self._quitting

    def force(self) -> None:
        """Second quit: SIGKILL every process and group at once."""
        self.forced = True
        self.hooks.abandon_all()
        for watcher in self.watchers.values():
            for process in list(watcher.processes.values()):
                if process.alive:
                    process.stop_requested = True
                    process.signal_group(signal.SIGKILL)
                    process.send_signal(signal.SIGKILL)

    async def shutdown(self) -> None:
        self.guard.stop()  # the launcher closes the watchdog next: that exit is no death
        self.stats.stop()
        await self.plugins.stop()
        await self.file_watch.close()
        self.hooks.isolated.close()
        for watcher in self.watchers.values():
            watcher.probes.close()
            for process in list(watcher.processes.values()):
                process.close_streams()
            if watcher.file_sink is not None:
                await asyncio.to_thread(watcher.file_sink.close, 2.0)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop, 2.0)
        if self.reaper is not None:
            self.reaper.uninstall()
        if self.on_demand is not None:
            self.on_demand.close()
        self.sockets.close_all()
        await asyncio.to_thread(remove_instance_directory, self.marker)
        self.stopped.set()

    # -- commands (the one API for UI, ctl and hooks) -----------------------------------------
    async def start_watchers(self, name: str | None = None) -> list[CommandResult]:
        if name is None:
            return await self.start_all()
        return [await self.get(name).start()]

    async def stop_watchers(self, name: str | None = None) -> list[CommandResult]:
        if name is None:
            await self.stop_all()
            results = [CommandResult(True)]
        else:
            results = [await self.get(name).stop()]
        for watcher in self.watchers.values() if name is None else [self.get(name)]:
            self.arm_on_demand(watcher)  # already stopped by itself: a stop re-arms it too
        return results

    async def restart_watchers(self, name: str | None = None) -> list[CommandResult]:
        if name is None:
            await self.stop_all()
            return await self.start_all()
        return [await self.get(name).restart()]

    async def reload_config(self) -> tuple[bool, list[str]]:
        """Apply the config file's difference: see `config_reload`."""
        if self._quitting:
            return False, [QUITTING]
        return await reload_config_file(self)

    def use_config(self, config: Config) -> None:
        """Take a reloaded config as the arbiter's own (its settings and the secrets it masks)."""
        self.config = config
        self.bus.redactor = redactor_for(config, self._hook_secrets)
        if self._loop is not None:
            self.file_watch.sync(config.watchers)

    # -- observers ----------------------------------------------------------------------------
    def mask_secret(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH and value not in self._hook_secrets:
            self._hook_secrets.add(value)
            self.bus.redactor = redactor_for(self.config, self._hook_secrets)

    def note_failure(self, watcher_name: str, detail: str) -> None:
        self.failures.append(f"{watcher_name}: {detail}")

    def watcher_state_changed(self, watcher: Watcher) -> None:
        if watcher.config.on_demand and self.on_demand is not None:
            if watcher.state == WatcherState.STOPPED:
                self.arm_on_demand(watcher)
            else:
                self.on_demand.disarm(watcher.name)
        if watcher.state in (WatcherState.STOPPED, WatcherState.FAILED):
            self._check_all_done()

    def watcher_settled(self, watcher: Watcher) -> None:
        self.dependency_changes.wake()
        self._check_all_done()

    def is_done(self, watcher: Watcher) -> bool:
        if watcher.commands_pending:
            return False
        if self.waiting_for_connection(watcher):
            return False  # a connection will start it
        if not watcher.started_ever:
            return not watcher.config.autostart or watcher.blocked is not None
        if watcher.state not in (WatcherState.STOPPED, WatcherState.FAILED):
            return False
        return not watcher.stopped_by_command and not watcher.pending_timers

    def _check_all_done(self) -> None:
        settled = self._start_all_finished and not self._stopping_all
        if settled and all(self.is_done(w) for w in self.watchers.values()):
            self.all_done.set()

    def snapshot(self) -> ArbiterSnapshot:
        snapshot: ArbiterSnapshot = {
            "config": self.config.source,
            "started": self.started_at,
            "pid": os.getpid(),
            "watchers": [w.snapshot() for w in self.start_order()],
            "protection": self.guard.status(),
        }
        if self.sockets.bound:
            snapshot["sockets"] = self.sockets.snapshot()
        if self.config.warnings:
            snapshot["warnings"] = list(self.config.warnings)
        return snapshot


def redactor_for(config: Config, more: Iterable[str] = ()) -> Callable[[str], str] | None:
    """Masks the watchers' secret-looking env values (and `more`: those hooks set) wherever
    they show up in events (docs/reliability.md#secrets-stay-masked)."""
    return make_redactor((*secret_values(w.env for w in config.watchers), *more))


def raise_nofile_limit() -> None:
    """Each process costs ~3 fds; 500 processes exceed the usual soft limit of 1024
    (docs/supervision.md#spawn)."""
    import resource

    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

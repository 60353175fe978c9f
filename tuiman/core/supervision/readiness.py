"""A watcher's readiness and liveness probes, one set of tasks per process
(docs/readiness.md).

Each process starts `waiting`; after `initial_delay` it is `probing` until its readiness probe
passes (a connect, a 2xx/3xx answer, exit 0, a matching output line, READY=1), then `ready`.
A respawned process starts over: readiness is earned by each process. The watcher is ready
when it is active with every wanted process up and ready. Liveness checks start once the
process is ready (at once without a readiness probe); `failures` failed tries in a row restart
it — a tuiman-caused exit whose reason is `liveness`, which counts toward the restart policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tuiman.core.config.expand import expand_spawn_tokens
from tuiman.core.config.model import WatcherConfig
from tuiman.core.config.probe_model import AliveSpec, ProbeSpec
from tuiman.core.events import Kind
from tuiman.core.payloads import ReadinessSnapshot
from tuiman.core.processes.process import ManagedProcess
from tuiman.core.supervision.notify_socket import NOTIFY_ENV, NotifySocket
from tuiman.core.supervision.probe_checks import (
    TreeUsage,
    check,
    cpu_percent,
    format_bytes,
    tree_usage,
)
from tuiman.core.supervision.watcher_host import WatcherHost

LIVENESS = "liveness"
STATUS_LIMIT = 500  # characters of a STATUS= kept and published
WAITING, PROBING, READY, UNREADY = "waiting", "probing", "ready", "unready"

Restart = Callable[[ManagedProcess, str], None]


@dataclass
class ProcessProbes:
    process: ManagedProcess
    env: dict[str, str]
    state: str = WAITING
    error: str | None = None  # the last failed try, shown next to the state
    status: str | None = None  # the last STATUS= of a notify process
    notify: NotifySocket | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    ready_event: asyncio.Event = field(default_factory=asyncio.Event)
    last_results: dict[tuple[str, str], str | None] = field(default_factory=dict)
    log_pattern: re.Pattern[str] | None = None
    watchdog_ping: float = 0.0


class WatcherProbes:
    """The probes of one watcher's processes; the watcher calls in on spawn, output and exit."""

    def __init__(
        self,
        config: WatcherConfig,
        host: WatcherHost,
        running: Callable[[], bool],
        restart: Restart,
    ) -> None:
        self.config = config
        self._host = host
        self._bus = host.bus
        self._running = running  # the watcher is active with every wanted process up
        self._restart = restart
        self._by_pid: dict[int, ProcessProbes] = {}
        self._pending_notify: dict[int, NotifySocket] = {}  # wid -> socket made for its spawn
        self.watcher_ready = False
        self.liveness_pids: set[int] = set()  # restarted for liveness: counted as crashes

    # -- what the slot table calls --------------------------------------------------------------
    @property
    def wanted(self) -> bool:
        return self.config.ready is not None or self.config.alive is not None

    def spawn_env(self, wid: int) -> dict[str, str]:
        """Variables for the child about to be spawned in slot `wid` (NOTIFY_SOCKET)."""
        uses_notify = self.config.ready is not None and self.config.ready.kind == "notify"
        alive = self.config.alive
        if alive is not None and alive.notify_watchdog is not None:
            uses_notify = True
        if not uses_notify:
            return {}
        self._drop_pending(wid)
        uid, gid = self.config.uid, self.config.gid
        owner = (uid, -1 if gid is None else gid) if uid is not None else None
        label = f"{self.config.name}-{wid}"
        notify = NotifySocket(self._host.loop, self._host.marker, label, owner)
        self._pending_notify[wid] = notify
        env = {NOTIFY_ENV: notify.path}
        if alive is not None and alive.notify_watchdog is not None:
            env["WATCHDOG_USEC"] = str(int(alive.notify_watchdog * 1_000_000))
        return env

    def spawn_failed(self, wid: int) -> None:
        self._drop_pending(wid)

    def _drop_pending(self, wid: int) -> None:
        pending = self._pending_notify.pop(wid, None)
        if pending is not None:
            pending.close()

    def spawned(self, process: ManagedProcess, env: dict[str, str]) -> None:
        self.liveness_pids.discard(process.pid)  # a reused pid: not the one stopped for liveness
        probes = ProcessProbes(process, env)
        probes.notify = self._pending_notify.pop(process.wid, None)
        self._by_pid[process.pid] = probes
        if probes.notify is not None:
            probes.notify.listen(lambda message: self._on_notify(probes, message))
        ready = self.config.ready
        if ready is not None:
            self._task(probes, self._ready_loop(probes, ready))
        else:
            probes.ready_event.set()
        alive = self.config.alive
        if alive is not None:
            self._task(probes, self._alive_loop(probes, alive))
            if alive.notify_watchdog is not None:
                probes.watchdog_ping = time.monotonic()
                self._task(probes, self._watchdog_loop(probes, alive.notify_watchdog))
        self.refresh()

    def exited(self, process: ManagedProcess) -> None:
        probes = self._by_pid.pop(process.pid, None)
        if probes is None:
            return
        self._close(probes)
        if probes.state == READY:
            self._bus.emit(
                Kind.UNREADY,
                self.config.name,
                {"pid": process.pid, "wid": process.wid, "reason": "exited"},
            )
        self.refresh()

    def restarted_for_liveness(self, pid: int) -> bool:
        """Whether tuiman stopped `pid` for liveness (asked once, when its exit is judged)."""
        if pid in self.liveness_pids:
            self.liveness_pids.discard(pid)
            return True
        return False

    def output_line(self, process: ManagedProcess, text: str) -> None:
        probes = self._by_pid.get(process.pid)
        if probes is None or probes.log_pattern is None:
            return
        if probes.log_pattern.search(text):
            probes.log_pattern = None  # a line during initial_delay counts too
            self._result(probes, "ready", "log", None)
            self._mark_ready(probes)

    def close(self) -> None:
        for probes in self._by_pid.values():
            self._close(probes)
        self._by_pid.clear()
        for wid in list(self._pending_notify):
            self._drop_pending(wid)

    def _close(self, probes: ProcessProbes) -> None:
        for task in probes.tasks:
            task.cancel()
        if probes.notify is not None:
            probes.notify.close()
            probes.notify = None

    # -- the watcher's readiness ----------------------------------------------------------------
    def refresh(self, reason: str = "a process is not ready") -> None:
        """Publish the watcher's ready/unready when it changes."""
        ready = self.config.ready is not None and self._running()
        if ready:
            ready = all(
                p.state == READY for p in self._by_pid.values() if not p.process.stop_requested
            )
        if ready == self.watcher_ready:
            return
        self.watcher_ready = ready
        if ready:
            self._bus.emit(Kind.READY, self.config.name, {})
        else:
            self._bus.emit(Kind.UNREADY, self.config.name, {"reason": reason})

    def snapshot(self, waiting_for: list[str], blocked: str | None) -> ReadinessSnapshot:
        ready_probe = self.config.ready
        return {
            "ready": self.watcher_ready if ready_probe is not None else self._running(),
            "probe": ready_probe.kind if ready_probe is not None else None,
            "waiting_for": waiting_for,
            "blocked": blocked,
            "processes": {str(pid): p.state for pid, p in self._by_pid.items()},
            "errors": {str(pid): p.error for pid, p in self._by_pid.items() if p.error},
            "status": {str(pid): p.status for pid, p in self._by_pid.items() if p.status},
            "depends_on": dict(self.config.depends_on),
        }

    def process_state(self, pid: int) -> str | None:
        probes = self._by_pid.get(pid)
        return probes.state if probes is not None else None

    # -- readiness ------------------------------------------------------------------------------
    def _task(self, probes: ProcessProbes, work: Coroutine[Any, Any, None]) -> None:
        probes.tasks.append(self._host.loop.create_task(self._guarded(probes, work)))

    async def _guarded(self, probes: ProcessProbes, work: Coroutine[Any, Any, None]) -> None:
        """A probe that cannot go on (a log pattern that expanded to a bad regex, say) is a
        failed check, shown on the process, never a task dying unseen."""
        try:
            await work
        except Exception as error:
            self._result(probes, "ready", "probe", f"{type(error).__name__}: {error}")

    def _target(self, probes: ProcessProbes, spec: ProbeSpec) -> str:
        fields = {
            "wid": str(probes.process.wid),
            "name": self.config.name,
            "numprocesses": str(self.config.numprocesses),
        }
        return expand_spawn_tokens(spec.target, fields, probes.env)

    async def _ready_loop(self, probes: ProcessProbes, spec: ProbeSpec) -> None:
        if spec.kind == "log":
            # Armed before the delay: a line printed at once must not be missed.
            probes.log_pattern = re.compile(self._target(probes, spec))
        if spec.initial_delay:
            await asyncio.sleep(spec.initial_delay)
        if probes.state != WAITING:
            return  # READY=1 or the log line came during the delay
        probes.state = PROBING
        if spec.kind in ("log", "notify"):
            return  # the output or the socket marks it ready
        target = self._target(probes, spec)
        while True:
            error = await check(spec.kind, target, spec.timeout, probes.env)
            self._result(probes, "ready", spec.kind, error)
            if error is None:
                self._mark_ready(probes)
                return
            await asyncio.sleep(spec.interval)

    def _mark_ready(self, probes: ProcessProbes) -> None:
        if probes.state == READY or probes.process.pid not in self._by_pid:
            return
        probes.state, probes.error = READY, None
        probes.ready_event.set()
        process = probes.process
        self._bus.emit(Kind.READY, self.config.name, {"pid": process.pid, "wid": process.wid})
        self.refresh()

    def _mark_unready(self, probes: ProcessProbes, reason: str) -> None:
        if probes.state != READY:
            return
        probes.state = UNREADY
        process = probes.process
        self._bus.emit(
            Kind.UNREADY,
            self.config.name,
            {"pid": process.pid, "wid": process.wid, "reason": reason},
        )
        self.refresh(f"process {process.pid}: {reason}")

    def _result(
        self, probes: ProcessProbes, probe: str, check_name: str, error: str | None
    ) -> None:
        """A `probe` event, only when the outcome of that check changed (coalesced)."""
        if error is not None:
            probes.error = f"{check_name}: {error}"
        elif probe == "ready":
            probes.error = None
        key = (probe, check_name)
        if key in probes.last_results and probes.last_results[key] == error:
            return
        probes.last_results[key] = error
        process = probes.process
        self._bus.emit(
            Kind.PROBE,
            self.config.name,
            {
                "pid": process.pid,
                "wid": process.wid,
                "probe": probe,
                "check": check_name,
                "ok": error is None,
                "error": error,
            },
        )

    # -- sd_notify ------------------------------------------------------------------------------
    def _on_notify(self, probes: ProcessProbes, message: dict[str, str]) -> None:
        if probes.process.pid not in self._by_pid:
            return
        process = probes.process
        if "STATUS" in message and message["STATUS"][:STATUS_LIMIT] != probes.status:
            probes.status = message["STATUS"][:STATUS_LIMIT]
            self._bus.emit(
                Kind.NOTIFY,
                self.config.name,
                {"pid": process.pid, "wid": process.wid, "status": probes.status},
            )
        ready = self.config.ready
        if message.get("READY") == "1" and ready is not None and ready.kind == "notify":
            self._result(probes, "ready", "notify", None)
            self._mark_ready(probes)
        if message.get("STOPPING") == "1":
            self._mark_unready(probes, "stopping (STOPPING=1)")
        watchdog = message.get("WATCHDOG")
        if watchdog == "1":
            probes.watchdog_ping = time.monotonic()
        elif watchdog == "trigger":
            self._liveness_failed(probes, "watchdog", "the process sent WATCHDOG=trigger")

    async def _watchdog_loop(self, probes: ProcessProbes, every: float) -> None:
        while True:
            await asyncio.sleep(max(probes.watchdog_ping + every - time.monotonic(), 0.01))
            silent = time.monotonic() - probes.watchdog_ping
            if silent >= every:
                self._liveness_failed(probes, "watchdog", f"no WATCHDOG=1 for {silent:.1f}s")
                return

    # -- liveness -------------------------------------------------------------------------------
    async def _alive_loop(self, probes: ProcessProbes, alive: AliveSpec) -> None:
        await probes.ready_event.wait()
        spec, interval = alive.probe, alive.interval
        if alive.initial_delay:
            await asyncio.sleep(alive.initial_delay)
        target = self._target(probes, spec) if spec is not None else ""
        failures = 0
        previous: tuple[TreeUsage, float] | None = None
        while True:
            await asyncio.sleep(interval)
            problems: list[tuple[str, str]] = []
            if spec is not None:
                error = await check(spec.kind, target, spec.timeout, probes.env)
                self._result(probes, "alive", spec.kind, error)
                if error is not None:
                    problems.append((spec.kind, error))
            if alive.max_memory is not None or alive.max_cpu is not None:
                usage = await asyncio.to_thread(tree_usage, probes.process.pid)
                if usage is None:
                    return  # gone: its exit is on the way
                now = time.monotonic()
                problems.extend(self._limits(probes, alive, usage, now, previous))
                previous = (usage, now)
            failures = failures + 1 if problems else 0
            if failures >= alive.failures:
                check_name, error = problems[0]
                detail = f"{error} ({failures} failed tries in a row)"
                self._liveness_failed(probes, check_name, detail)
                return

    def _limits(
        self,
        probes: ProcessProbes,
        alive: AliveSpec,
        usage: TreeUsage,
        now: float,
        previous: tuple[TreeUsage, float] | None,
    ) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if alive.max_memory is not None:
            error = None
            if usage.rss > alive.max_memory:
                error = (
                    f"RSS {format_bytes(usage.rss)} above max_memory "
                    f"{format_bytes(alive.max_memory)}"
                )
                problems.append(("memory", error))
            self._result(probes, "alive", "memory", error)
        if alive.max_cpu is not None and previous is not None:
            cpu = cpu_percent(previous[0], usage, now - previous[1])
            error = None
            if cpu > alive.max_cpu:
                error = f"CPU {cpu:.0f}% above max_cpu {alive.max_cpu:g}%"
                problems.append(("cpu", error))
            self._result(probes, "alive", "cpu", error)
        return problems

    def _liveness_failed(self, probes: ProcessProbes, check_name: str, detail: str) -> None:
        process = probes.process
        if not process.alive or process.stop_requested:
            return
        self._mark_unready(probes, f"{LIVENESS}: {detail}")
        self.liveness_pids.add(process.pid)
        self._bus.emit(
            Kind.LIVENESS,
            self.config.name,
            {"pid": process.pid, "wid": process.wid, "reason": LIVENESS, "detail": detail},
        )
        with contextlib.suppress(RuntimeError):
            self._restart(process, detail)

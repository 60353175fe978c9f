"""The `watcher` and `arbiter` objects handed to hooks (docs/hooks.md#what-a-hook-can-see), with
Circus' names.

Hooks run on other threads: everything here is safe to call from a hook thread. Commands are
queued on the core loop and return at once; `send_signal` runs its nested signal hooks inline
in the calling thread (the uWSGI lossless-reload pattern) and never waits on the core loop,
so it cannot deadlock. Once a call is abandoned (timed out), its facades stop acting.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuiman.core.events import Kind, PayloadRefused, check_custom_kind, plain_payload
from tuiman.core.secrets import looks_secret
from tuiman.core.states import RUNNING, UNEXISTING, WatcherState
from tuiman.core.supervision.hook_env import HookEnv
from tuiman.core.supervision.hooks import HookCallToken

if TYPE_CHECKING:
    from tuiman.core.processes.process import ManagedProcess
    from tuiman.core.supervision.arbiter import Arbiter
    from tuiman.core.supervision.watcher import Watcher


@dataclass(frozen=True, slots=True)
class HookProcess:
    """A read-only view of one process, as Circus' Process offers it."""

    pid: int
    wid: int
    started: float
    status: int  # circus.process constants
    state: str
    _started_monotonic: float

    def age(self) -> float:
        return time.monotonic() - self._started_monotonic


def _view(process: ManagedProcess) -> HookProcess:
    return HookProcess(
        pid=process.pid,
        wid=process.wid,
        started=process.started,
        # Its exit status is collected as soon as it exits: from then on it no longer exists,
        # which is what Circus reports in before_reap.
        status=RUNNING if process.alive else UNEXISTING,
        state=str(process.state),
        _started_monotonic=process.started_monotonic,
    )


class HookWatcher:
    def __init__(self, watcher: Watcher, token: HookCallToken) -> None:
        self._watcher = watcher
        self._token = token

    @property
    def name(self) -> str:
        return self._watcher.name

    @property
    def numprocesses(self) -> int:
        return self._watcher.numprocesses

    @property
    def priority(self) -> int:
        return self._watcher.config.priority

    @property
    def env(self) -> HookEnv:
        """Live: what a hook writes here is used by the watcher's following spawns."""
        watcher, token = self._watcher, self._token
        host = watcher.host

        def on_write(name: str, value: str) -> None:
            if looks_secret(name):  # masked before any spawn can print it: the loop runs
                host.call_on_loop(lambda: host.mask_secret(value))  # callbacks in order

        return HookEnv(
            lambda: watcher.base_env, watcher.env_changes, lambda: not token.revoked, on_write
        )

    @env.setter
    def env(self, new_env: Mapping[str, str]) -> None:
        self.env.replace_all(new_env)

    def __setattr__(self, name: str, value: object) -> None:
        # A write Circus would take but tuiman ignores must not pass silently: only `env` is
        # writable (docs/hooks.md#what-a-hook-can-see).
        if name.startswith("_") or name == "env":
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"watcher.{name} cannot be set from a hook (only watcher.env is writable)"
        )

    @property
    def cmd(self) -> str:
        return " ".join(self._watcher.config.cmd)

    def status(self) -> str:
        return str(self._watcher.state)

    @property
    def processes(self) -> dict[int, HookProcess]:
        return {pid: _view(process) for pid, process in dict(self._watcher.processes).items()}

    @property
    def pids(self) -> list[int]:
        return list(dict(self._watcher.processes))

    def send_signal(self, pid: int, signum: int) -> bool:
        """Signal one process now, running before_signal/after_signal inline. True if sent."""
        if self._token.revoked:
            return False
        process = self._watcher.processes.get(pid)
        if process is None or not process.alive:
            return False
        host = self._watcher.host
        facades = host.facades_for(self._watcher)
        before = self._watcher.config.hooks.get("before_signal")
        is_kill = signum == signal.SIGKILL
        if before is not None:
            outcome = host.hooks.call_inline(
                before, self.name, facades, {"pid": pid, "signum": signum}
            )
            if not outcome.proceed and not is_kill:
                return False
        process.tuiman_signal_at = time.monotonic()
        sent = process.send_signal(signum)
        after = self._watcher.config.hooks.get("after_signal")
        if after is not None:
            host.hooks.call_inline(after, self.name, facades, {"pid": pid, "signum": signum})
        if sent:
            bus, name = host.bus, self.name
            bus.call_soon_threadsafe(
                lambda: bus.emit(
                    Kind.SIGNAL, name, {"process_pid": pid, "pid": pid, "signum": signum}
                )
            )
        return sent

    def _queue(self, action: str, *args: int) -> None:
        if self._token.revoked:
            return
        watcher = self._watcher

        def run() -> None:
            if action == "stop":
                watcher.stop(by_command=False)
            elif action == "start":
                watcher.start()
            elif action == "restart":
                watcher.restart()
            elif action == "incr":
                watcher.incr(args[0])
            elif action == "decr":
                watcher.decr(args[0])

        watcher.host.call_on_loop(run)

    def stop(self) -> None:
        self._queue("stop")

    def start(self) -> None:
        self._queue("start")

    def restart(self) -> None:
        self._queue("restart")

    def incr(self, nb: int = 1, n: int | None = None) -> int:
        count = n if n is not None else nb
        self._queue("incr", count)
        return self._watcher.numprocesses + count

    def decr(self, nb: int = 1, n: int | None = None) -> int:
        count = n if n is not None else nb
        self._queue("decr", count)
        return max(self._watcher.numprocesses - count, 0)

    def is_active(self) -> bool:
        return self._watcher.state in (WatcherState.ACTIVE, WatcherState.FLAPPING)

    def __repr__(self) -> str:
        return f"<watcher {self.name} {self.status()}>"


class HookArbiter:
    def __init__(self, arbiter: Arbiter, token: HookCallToken) -> None:
        self._arbiter = arbiter
        self._token = token

    @property
    def watchers(self) -> list[HookWatcher]:
        return [HookWatcher(w, self._token) for w in list(self._arbiter.watchers.values())]

    def get_watcher(self, name: str) -> HookWatcher | None:
        watcher = self._arbiter.watchers.get(name)
        return HookWatcher(watcher, self._token) if watcher is not None else None

    def stop(self) -> None:
        if not self._token.revoked:
            self._arbiter.call_on_loop(self._arbiter.request_quit)

    def publish(self, kind: str, **payload: Any) -> None:
        """Publish a custom event (`arbiter.<kind>` unless `watcher=` names one).

        Checked and copied here, in the hook's thread: a payload no stream could carry raises
        `PayloadRefused` into the hook (so its call is reported as a hook failure), and a kind
        of tuiman's own is refused (docs/hooks.md#what-a-hook-can-see).
        """
        if self._token.revoked:
            return
        watcher_name = payload.pop("watcher", None)
        if watcher_name is not None and not isinstance(watcher_name, str):
            raise PayloadRefused(f"watcher= must be a watcher's name, not {watcher_name!r}")
        custom_kind = check_custom_kind(kind)
        safe_payload = plain_payload(
            {k: v for k, v in payload.items() if k not in ("seq", "time", "topic", "kind")}
        )
        bus = self._arbiter.bus
        if threading.get_ident() == self._arbiter.hooks.loop_thread_id:
            bus.emit_custom(custom_kind, watcher_name, safe_payload)
        else:
            bus.call_soon_threadsafe(
                lambda: bus.emit_custom(custom_kind, watcher_name, safe_payload)
            )

"""The UI's view of one watcher and its processes, and how a core snapshot refreshes it.

Plain dataclasses (no Textual here): `CoreModel` keeps one `WatcherView` per watcher and
updates it from bus events; `load_watcher` merges a watcher's snapshot into an existing view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuiman.core.payloads import WatcherSettings, WatcherSnapshot
from tuiman.core.states import ProcessState, WatcherState
from tuiman.ui.readiness_view import WatcherReadiness, load_readiness


@dataclass(slots=True)
class ProcessView:
    pid: int
    wid: int
    state: ProcessState
    started: float  # wall clock
    cpu: float | None = None
    rss: int | None = None
    extended: dict[str, Any] = field(default_factory=dict)
    status: str = ""  # the kernel's state letter from the last stats sample ("T": stopped)
    # Its last table row and what it was made from (tuiman.ui.rows): rebuilt only when that
    # changes, not for each of 5 000 processes every second.
    row: tuple[tuple[Any, ...], tuple[str, tuple[tuple[str, str], ...]]] | None = field(
        default=None, compare=False, repr=False
    )


@dataclass(slots=True)
class SlotPause:
    wid: int
    retry_at: float  # wall clock of the probe spawn
    attempt: int


@dataclass(frozen=True, slots=True)
class RunningHook:
    """A hook call under way (between its hook_started and its outcome)."""

    name: str
    pid: int | None
    started: float  # wall clock
    timeout: float


@dataclass
class WatcherView:
    name: str
    state: WatcherState = WatcherState.STOPPED
    reason: str | None = None
    numprocesses: int = 0
    priority: int = 0
    graceful_timeout: float = 30.0
    autostart: bool = True
    cmd: str = ""
    hooks: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # what the config sets, secrets masked
    working_dir: str = ""
    respawn: str = ""
    stop_signal: int | None = None
    max_retry: int | None = None
    restart_policy: dict[str, float] = field(default_factory=dict)
    restarts: int = 0
    processes: dict[int, ProcessView] = field(default_factory=dict)
    # wid -> exit code of its last process (None: unknown, collected by someone else)
    last_exit: dict[int, int | None] = field(default_factory=dict)
    pauses: dict[int, SlotPause] = field(default_factory=dict)
    cpu: float | None = None
    rss: int | None = None
    failure: str | None = None  # why it is `failed`
    veto: str | None = None  # the last hook veto or failure that stopped an action
    stopping_since: float | None = None  # wall clock the current stop began
    leaked: list[int] = field(default_factory=list)
    running_hooks: list[RunningHook] = field(default_factory=list)  # oldest first
    input: str | None = None  # "pty" or "pipe": its processes take input (docs/terminals.md)
    sockets: tuple[str, ...] = ()  # what its processes inherit: `web 127.0.0.1:8080 fd 5`
    on_demand: bool = False  # it starts on the first connection to its sockets
    readiness: WatcherReadiness | None = None  # with probes or dependencies (docs/readiness.md)

    @property
    def running(self) -> int:
        return len(self.processes)

    @property
    def start_pending(self) -> bool:
        """Its before_start runs: the start can still be cancelled (by a stop)."""
        hook = self.watcher_hook()
        return hook is not None and hook.name == "before_start"

    def watcher_hook(self) -> RunningHook | None:
        """The oldest running hook about the watcher as a whole (before_start, before_stop…)."""
        return next((hook for hook in self.running_hooks if hook.pid is None), None)

    def next_retry(self) -> SlotPause | None:
        return min(self.pauses.values(), key=lambda pause: pause.retry_at, default=None)


def load_watcher(view: WatcherView, data: WatcherSnapshot, at: float) -> None:
    """Refresh `view` from a snapshot taken at wall clock `at`; known processes keep their
    stats."""
    view.state = WatcherState(data["state"])
    view.reason = data["reason"]
    view.numprocesses = data["numprocesses"]
    load_settings(view, data)
    view.restarts = data["restarts"]
    known = view.processes
    view.processes = {}
    for item in data["processes"]:
        pid = item["pid"]
        process = known.get(pid) or ProcessView(pid, item["wid"], ProcessState.RUNNING, 0.0)
        process.wid = item["wid"]
        process.state = ProcessState(item["state"])
        process.started = item["started"] or at
        view.processes[pid] = process
    view.last_exit = {int(wid): code for wid, code in data["last_exit_codes"].items()}
    view.pauses = {}
    for slot in data["slots"]:
        retry_in = slot["retry_in"]
        if retry_in is not None:
            view.pauses[slot["wid"]] = SlotPause(slot["wid"], at + retry_in, slot["pauses"])
    if view.state != WatcherState.STOPPING:
        view.stopping_since = None
    load_readiness(view, data)


def load_settings(view: WatcherView, settings: WatcherSettings) -> None:
    view.priority = settings["priority"]
    view.graceful_timeout = settings["graceful_timeout"]
    view.autostart = settings["autostart"]
    view.cmd = settings["cmd"]
    view.hooks = tuple(settings["hooks"])
    view.input = settings.get("input")
    view.sockets = tuple(
        f"{item['name']} {item['location']} fd {item['fd']}" for item in settings.get("sockets", [])
    )
    view.on_demand = settings.get("on_demand", False)
    view.env = dict(settings.get("env", {}))
    view.working_dir = settings.get("working_dir", "")
    view.respawn = settings.get("respawn", "")
    view.stop_signal = settings.get("stop_signal")
    view.max_retry = settings.get("max_retry")
    view.restart_policy = dict(settings.get("restart", {}))

"""The payload of every event kind, and the snapshots, as TypedDicts: the core↔UI contract.

A leaf: it imports only `events` and `states`, so the UI, headless and the control client may
import it. TypedDicts are plain dicts at run time: publishing one costs nothing more, and the
JSON of an event is the dict as it is. Readers dispatch on `Event.kind`, `cast` the payload to
its kind's TypedDict once, then read required keys with `payload["key"]`. Publishers use the
typed `Bus.emit`, whose overloads pair each kind with its TypedDict.

Watcher and process states travel as their `WatcherState` / `ProcessState` values (`str`: a
remote reader gets them back from JSON as plain strings); compare them to the enum members.
"""

# No `from __future__ import annotations`: on Python 3.11 TypedDict only sees NotRequired in
# evaluated annotations, and __required_keys__ / __optional_keys__ must be right.
from typing import Any, Final, NotRequired, TypedDict

from tuiman.core.events import Kind

# -- processes ----------------------------------------------------------------------------------


class SpawnPayload(TypedDict):
    process_pid: int  # Circus' name; `pid` is the same number
    pid: int
    wid: int


class ReapPayload(TypedDict):
    process_pid: int
    pid: int
    wid: int
    exit_code: int | None
    process_status: int | None  # None: tuiman stopped it; a circus status: it exited on its own


class SignalPayload(TypedDict):
    """`kill` (a stop signal or SIGKILL tuiman sent) and `signal` (a signal command)."""

    process_pid: int
    pid: int
    signum: int


KillPayload = SignalPayload


class SpawnErrorPayload(TypedDict):
    wid: int
    error: str
    errno: int  # 0 when the OSError carried none


class FlappingPayload(TypedDict):
    wid: int
    attempt: int  # the how-many-th pause of this slot
    retry_in: float  # seconds until the probe spawn


# -- watchers -----------------------------------------------------------------------------------


class StartPayload(TypedDict):
    pass


class StopPayload(TypedDict):
    reason: str  # a Reason value, or veto:<hook> / hook_failure:<hook>
    leaked_pids: NotRequired[list[int]]  # processes that survived SIGKILL


class StatePayload(TypedDict):
    old: str  # a WatcherState value
    new: str  # a WatcherState value
    reason: str


class FailedPayload(TypedDict):
    reason: str
    detail: str


class WatcherReloadPayload(TypedDict):
    """`reload` of one watcher (new processes replace the old ones)."""


class ArbiterReloadPayload(TypedDict):
    """`reload` of the config file (an arbiter event): what it added, removed or changed."""

    changes: list[str]


class SocketSnapshot(TypedDict):
    """A socket tuiman bound (docs/configuration.md#sockets)."""

    name: str
    location: str  # `127.0.0.1:8080`, `[::1]:8080` or a Unix socket's path
    fd: int  # tuiman's fd, the same number in the processes that inherit it
    family: str  # AF_INET, AF_INET6 or AF_UNIX
    type: str  # SOCK_STREAM, SOCK_DGRAM, ...


class WatcherSettings(TypedDict):
    """The configured parts of a watcher that a view shows; a config reload may change them."""

    priority: int
    graceful_timeout: float
    autostart: bool
    cmd: str
    env: dict[str, str]  # only what the config sets, secrets masked
    hooks: list[str]
    input: NotRequired[str]  # "pty" or "pipe": its processes take input (docs/terminals.md)
    # with use_sockets: the sockets it names in $(tuiman.sockets.NAME), else all (its processes
    # inherit them all)
    sockets: NotRequired[list[SocketSnapshot]]
    on_demand: NotRequired[bool]  # present (True): it starts on a connection to its sockets
    # For the UI's info dialog; absent from an older instance's snapshots.
    working_dir: NotRequired[str]
    respawn: NotRequired[str]  # always | on-failure | never
    stop_signal: NotRequired[int]
    max_retry: NotRequired[int]
    restart: NotRequired[dict[str, float]]  # the [watchers.X.restart] numbers


class UpdatedPayload(TypedDict):
    """A watcher's target or configuration changed; `numprocesses` is always its new target.

    A scale carries only `numprocesses`. A config reload that replaced the watcher also
    carries `restarted` (it was running and starts again with the new config) and the new
    `settings`.
    """

    numprocesses: int
    restarted: NotRequired[bool]
    settings: NotRequired[WatcherSettings]


class AddPayload(TypedDict):
    """What a new watcher's row needs: its target and its settings."""

    numprocesses: int
    settings: WatcherSettings


class RemovePayload(TypedDict):
    pass


# -- hooks --------------------------------------------------------------------------------------


class HookSuccessPayload(TypedDict):
    name: str  # the hook's name, e.g. before_start
    duration: float  # seconds
    vetoed: bool
    pid: NotRequired[int]  # hooks about one process
    signum: NotRequired[int]  # before_signal / after_signal


class HookFailurePayload(HookSuccessPayload):
    error: str
    abandoned: NotRequired[bool]  # True: its command was cancelled, its result is ignored


class HookStartedPayload(TypedDict):
    """A hook call began; its `hook_success` or `hook_failure` follows."""

    name: str
    timeout: float  # seconds it may take
    pid: NotRequired[int]
    signum: NotRequired[int]


class HookOutputPayload(TypedDict):
    """A line a hook wrote to sys.stdout or sys.stderr (never to tuiman's own stdout)."""

    name: str  # the hook's name
    stream: str  # stdout | stderr
    line: str  # without its newline
    pid: NotRequired[int]  # hooks about one process


# -- output, stats and the bus' own events ------------------------------------------------------


class OutputPayload(TypedDict):
    pid: int
    wid: int
    stream: str  # stdout | stderr
    line: str
    partial: NotRequired[bool]  # present (True) when the line had no newline yet


class TerminalPayload(TypedDict):
    """Raw text from a pty process' terminal: escape sequences kept, cut anywhere (a sequence
    may straddle two events). The readable lines come as `output` events too."""

    pid: int
    wid: int
    data: str
    end: int  # characters the terminal has written so far, this data included


class OutputLineRecord(TypedDict):
    """One line of a watcher's output ring, as the `logs` command replies it."""

    time: float  # wall clock
    pid: int
    wid: int
    stream: str
    line: str
    partial: bool


class ProcessStatsEntry(TypedDict):
    """One process' stats in Circus' extended-stats shape, plus tuiman's keys.

    An `extended_stats` hook may add keys of its own (not typed here).
    """

    pid: int
    cpu: float  # percent of one core
    mem: float  # percent of RAM
    mem_info1: str  # RSS, human readable
    mem_info2: str  # VMS, human readable
    age: float  # seconds
    children: list["ProcessStatsEntry"]  # direct children (their own `children` stay empty)
    rss: int
    vms: int
    num_threads: int
    wid: NotRequired[int]  # absent from children
    status: NotRequired[str]  # the state letter of /proc/PID/stat: R, S, D, T (stopped), …


class StatsPayload(TypedDict):
    cpu: float  # the watcher's processes summed
    rss: int
    processes: dict[str, ProcessStatsEntry]  # by pid, as text (a JSON key)


class ProcessSnapshot(TypedDict):
    pid: int
    wid: int
    state: str  # a ProcessState value
    started: float  # wall clock
    exit_code: int | None


class SlotSnapshot(TypedDict):
    wid: int
    pid: int | None
    parked: bool  # gave up after its flapping pauses
    pauses: int
    retry_in: float | None  # seconds until a paused slot's probe spawn


class LogFilesStatus(TypedDict):
    """In a watcher's snapshot once one of its log files has failed."""

    error: str  # the newest failure
    dropped: int


class ReadinessSnapshot(TypedDict):
    """In a watcher's snapshot: `ready` is None while it has no readiness probe and is not
    running; `processes` maps pid (as text) to waiting | probing | ready | unready."""

    ready: bool
    probe: str | None  # the readiness probe's kind, None without one
    waiting_for: list[str]
    blocked: str | None
    processes: dict[str, str]
    errors: dict[str, str]  # pid (as text) -> the last failed probe's error
    status: dict[str, str]  # pid (as text) -> the last STATUS= of a notify process
    depends_on: dict[str, str]  # dependency -> condition


class WatcherSnapshot(WatcherSettings):
    name: str
    state: str  # a WatcherState value
    reason: str | None
    numprocesses: int
    restarts: int
    processes: list[ProcessSnapshot]
    slots: list[SlotSnapshot]
    # wid (as text) -> exit code of its last process; None: unknown (collected by someone else)
    last_exit_codes: dict[str, int | None]
    log_files: NotRequired[LogFilesStatus]  # only once a log file has failed
    readiness: NotRequired[ReadinessSnapshot]


class WatchdogStatus(TypedDict):
    """What protects the processes if tuiman dies (docs/reliability.md)."""

    pid: int | None  # the watchdog's pid; None without one
    state: str  # running | lost | off
    restarts: int  # how often it died and was started again
    cgroups: str  # "on <path>" or "off: <why>": whether cgroup.kill backs the stop


class ArbiterSnapshot(TypedDict):
    """The `snapshot` event: everything a fresh subscriber needs to draw the state."""

    config: str  # the config source
    started: float  # wall clock
    pid: int  # the core's pid
    watchers: list[WatcherSnapshot]  # in start order
    protection: NotRequired[WatchdogStatus]
    sockets: NotRequired[list[SocketSnapshot]]  # present when the config has sockets
    warnings: NotRequired[list[str]]  # the config's warnings (ignored options), one line each


class WatchdogPayload(TypedDict):
    """The watchdog died while tuiman ran (an arbiter event)."""

    state: str  # restarted | lost
    previous_pid: int
    pid: int | None  # the new watchdog; None when it could not be restarted
    detail: str


class SweepFailedPayload(TypedDict):
    """A watcher's escapees could not be looked for (its stop may have left some running)."""

    error: str
    errno: int


class PluginPayload(TypedDict):
    """A plugin of the config (docs/circus.md#plugins): started, failed to start, or acted
    (an arbiter event; a kill is an event of the process' watcher)."""

    name: str  # the plugin's name in the config
    use: str  # statsd, full_stats, watchdog
    action: str  # started, failed, kill
    detail: str  # its address; why it failed; why it killed
    pid: NotRequired[int]  # kill: the process


class ResyncPayload(TypedDict):
    """A slow subscriber's backlog was replaced: a fresh `snapshot` follows."""


class DroppedPayload(TypedDict):
    count: int  # droppable events (output, stats) this subscriber lost


# -- events that are not a Kind -----------------------------------------------------------------

CONTROL_REJECTED: Final = "control_rejected"  # the control socket turned a peer of another uid away


class LogErrorPayload(TypedDict):
    """The first failure of a burst on one of a watcher's log files (then none until a write
    to it succeeds again)."""

    error: str  # one line: the file, what failed, the system's reason
    dropped: int  # lines the watcher's log files have lost so far


class ControlRejectedPayload(TypedDict):
    uid: int | None
    peer_pid: int | None


class FilesChangedPayload(TypedDict):
    """Files matching a watcher's `watch` patterns changed
    (docs/configuration.md#restart-on-change)."""

    paths: list[str]  # the first 10 changed paths, relative to the config's directory
    count: int  # how many distinct paths changed in this burst
    restart: bool  # whether the watcher restarts for it
    skipped: NotRequired[str]  # why not, when it does not


class WatchErrorPayload(TypedDict):
    error: str  # one line: which directory, what failed


# -- readiness (docs/readiness.md) --------------------------------------------------------------


class ProbePayload(TypedDict):
    pid: int
    wid: int
    probe: str  # ready | alive
    check: str  # tcp | http | exec | log | notify | memory | cpu | watchdog
    ok: bool
    error: str | None  # one line: why the try failed


class ReadyPayload(TypedDict):
    """Without pid and wid: the whole watcher is ready (every process of it)."""

    pid: NotRequired[int]
    wid: NotRequired[int]


class UnreadyPayload(ReadyPayload):
    reason: str


class LivenessPayload(TypedDict):
    pid: int
    wid: int
    reason: str  # "liveness"
    detail: str  # which check failed, how often


class NotifyPayload(TypedDict):
    pid: int
    wid: int
    status: str  # what the process sent as STATUS=


class WaitingPayload(TypedDict):
    waiting_for: list[str]  # "db (ready)": each dependency not yet there, with its condition


class BlockedPayload(TypedDict):
    dependency: str
    condition: str
    reason: str  # one line: "migrate exited with 1"


CustomPayload = dict[str, Any]
"""What a hook publishes with `arbiter.publish(kind, **payload)`: its own keys, untyped."""


# Which TypedDict describes each kind's payload (for checks and tests; readers `cast`).
PAYLOAD_TYPES: dict[str, type] = {
    Kind.SPAWN: SpawnPayload,
    Kind.REAP: ReapPayload,
    Kind.KILL: KillPayload,
    Kind.SIGNAL: SignalPayload,
    Kind.START: StartPayload,
    Kind.STOP: StopPayload,
    Kind.STATE: StatePayload,
    Kind.FLAPPING: FlappingPayload,
    Kind.FAILED: FailedPayload,
    Kind.SPAWN_ERROR: SpawnErrorPayload,
    Kind.LOG_ERROR: LogErrorPayload,
    Kind.UPDATED: UpdatedPayload,
    Kind.ADD: AddPayload,
    Kind.REMOVE: RemovePayload,
    Kind.HOOK_SUCCESS: HookSuccessPayload,
    Kind.HOOK_FAILURE: HookFailurePayload,
    Kind.HOOK_OUTPUT: HookOutputPayload,
    Kind.HOOK_STARTED: HookStartedPayload,
    Kind.OUTPUT: OutputPayload,
    Kind.STATS: StatsPayload,
    Kind.TERMINAL: TerminalPayload,
    Kind.SNAPSHOT: ArbiterSnapshot,
    Kind.RESYNC: ResyncPayload,
    Kind.WATCHDOG: WatchdogPayload,
    Kind.SWEEP_FAILED: SweepFailedPayload,
    Kind.PLUGIN: PluginPayload,
    Kind.DROPPED: DroppedPayload,
    CONTROL_REJECTED: ControlRejectedPayload,
    Kind.FILES_CHANGED: FilesChangedPayload,
    Kind.WATCH_ERROR: WatchErrorPayload,
    Kind.PROBE: ProbePayload,
    Kind.READY: ReadyPayload,
    Kind.UNREADY: UnreadyPayload,
    Kind.LIVENESS: LivenessPayload,
    Kind.NOTIFY: NotifyPayload,
    Kind.WAITING: WaitingPayload,
    Kind.BLOCKED: BlockedPayload,
}


def payload_type(kind: str, watcher: str | None) -> type | None:
    """The TypedDict of an event's payload; None for a custom kind (a hook's own keys)."""
    if kind == Kind.RELOAD:
        return ArbiterReloadPayload if watcher is None else WatcherReloadPayload
    return PAYLOAD_TYPES.get(kind)

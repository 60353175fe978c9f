"""The validated, immutable configuration the core runs from.

The loader (`tuiman.core.config.loader`) builds these from TOML (or Circus INI); everything here is
already checked, expanded where it can be at load time, and resolved (hook callables, absolute
paths). The core never re-validates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tuiman.core.config.load_options import LoadOptions
from tuiman.core.config.plugin_model import PluginConfig
from tuiman.core.config.probe_model import AliveSpec, Condition, ProbeSpec
from tuiman.core.config.watch_paths import FileWatch

HOOK_NAMES: tuple[str, ...] = (
    "before_start",
    "after_start",
    "before_spawn",
    "after_spawn",
    "before_stop",
    "after_stop",
    "before_signal",
    "after_signal",
    "before_reap",
    "after_reap",
    "extended_stats",
)

# Hooks whose failures are ignored unless the config says otherwise (as Circus).
IGNORED_FAILURE_HOOKS: frozenset[str] = frozenset(
    {"before_stop", "after_stop", "before_signal", "after_signal", "extended_stats"}
)

RespawnPolicy = bool | Literal["on-failure"]

MAX_NUMPROCESSES = 10_000  # per watcher, from a config or a command: a typo must not fork-bomb


@dataclass(frozen=True)
class HookSpec:
    name: str  # one of HOOK_NAMES
    path: str  # dotted path as written in the config
    func: Callable[..., Any]  # resolved at load time
    ignore_failure: bool
    timeout: float  # seconds
    isolated: bool = False  # run in the watcher's hook worker process (docs/hooks.md)


@dataclass(frozen=True)
class RestartConfig:
    backoff_initial: float = 0.1
    backoff_max: float = 10.0
    reset_after: float = 10.0
    flap_attempts: int = 5
    flap_window: float = 10.0
    retry_in: float = 7.0
    flap_max_retry: int = 5  # -1 = forever


@dataclass(frozen=True)
class OutputConfig:
    file: Path | None = None  # stdout+stderr together
    stdout_file: Path | None = None
    stderr_file: Path | None = None
    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5
    # "tuiman": `2025-01-31 14:05:09.123 [pid stream] line`; "raw": the line as written
    line_format: str = "tuiman"
    time_format: str | None = None  # set: `TIME [pid] | line`, Circus' FileStream prefix
    rotate_when: str | None = None  # time-based rotation (S, M, H, D, MIDNIGHT, W0-W6)
    rotate_interval: int = 1
    rotate_utc: bool = False
    reopen_moved: bool = False  # reopen the file when it is moved away (logrotate)


@dataclass(frozen=True)
class WatcherConfig:
    name: str
    cmd: tuple[str, ...]  # argv before per-spawn expansion; cmd + args already joined
    numprocesses: int = 1
    priority: int = 0
    working_dir: Path = Path(".")
    # Final environment template: copy_env + [env] + watcher env, with $VAR expanded.
    # Values may still contain $(tuiman.wid) which is expanded per spawn.
    env: dict[str, str] = field(default_factory=dict)
    copy_env: bool = True
    stop_signal: int = 15
    graceful_timeout: float = 30.0
    stop_children: bool = True
    respawn: RespawnPolicy = True
    success_exit_codes: frozenset[int] = frozenset({0})
    autostart: bool = True
    warmup_delay: float = 0.0
    max_retry: int = 5
    singleton: bool = False
    shell: bool = False
    uid: int | None = None
    gid: int | None = None
    rlimits: dict[str, int] = field(default_factory=dict)
    max_age: float = 0.0
    max_age_variance: float = 30.0
    restart: RestartConfig = field(default_factory=RestartConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    hooks: dict[str, HookSpec] = field(default_factory=dict)
    pty: bool = False  # its own pseudo-terminal as stdin/stdout/stderr (docs/terminals.md)
    stdin: Literal["null", "pipe"] = "null"  # without a pty: /dev/null or a writable pipe
    port: int | None = None  # PORT of the process in slot 1; slot N gets port + N - 1
    use_sockets: bool = False  # its processes inherit every [sockets.NAME] (docs/configuration.md)
    on_demand: bool = False  # started on the first connection to one of its sockets
    stdin_socket: str | None = None  # a [sockets] name: the processes' stdin (inetd style)
    watch: FileWatch | None = None  # restart on change (docs/configuration.md#restart-on-change)
    # readiness, liveness and start order (docs/readiness.md)
    ready: ProbeSpec | None = None
    alive: AliveSpec | None = None
    depends_on: dict[str, Condition] = field(default_factory=dict)

    # Checked again at each start (docs/configuration.md#environment-problems).
    virtualenv: Path | None = None
    virtualenv_py_ver: str | None = None
    copy_path: bool = False  # PYTHONPATH = tuiman's own sys.path, unless already set
    send_hup: bool = False  # a graceful reload sends SIGHUP instead of replacing processes
    umask: int | None = None  # None: the children inherit tuiman's
    user: str | None = None  # a user name not found at load: looked up again at start
    group: str | None = None  # the same for a group name


@dataclass(frozen=True)
class SocketConfig:
    """One `[sockets.NAME]`: bound by the arbiter, inherited by `use_sockets` watchers.

    Defaults are Circus' (circus.sockets.CircusSocket.load_from_config).
    """

    name: str  # lowercase: `$(tuiman.sockets.NAME)` is matched ignoring case
    host: str = "localhost"
    port: int = 8080
    path: Path | None = None  # a Unix socket (family AF_UNIX)
    family: str = "AF_INET"  # AF_INET, AF_INET6 or AF_UNIX
    type: str = "SOCK_STREAM"  # SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM or SOCK_SEQPACKET
    proto: str | None = None  # a protocol name (socket.getprotobyname)
    backlog: int = 2048
    so_reuseport: bool = False
    umask: int = 8  # for a Unix socket's file while it is bound (Circus' default, 0o010)
    replace: bool = False  # remove an existing file at `path` first
    blocking: bool = False
    interface: str | None = None  # SO_BINDTODEVICE


@dataclass(frozen=True)
class ArbiterConfig:
    hook_timeout: float = 30.0
    hook_threads: int = 8
    hook_import_timeout: float = 10.0  # seconds a hook module's import may take
    stats_interval: float = 1.0
    output_lines: int = 5000
    output_bytes: int = 4 * 1024 * 1024
    warmup_delay: float = 0.0
    control_socket: Path | None = None
    umask: int | None = None  # every watcher's, unless it sets its own


@dataclass(frozen=True)
class Config:
    source: str  # the config file's real path, or "demo:<cwd>" for the embedded demo
    arbiter: ArbiterConfig
    watchers: tuple[WatcherConfig, ...]
    warnings: tuple[str, ...] = ()  # one line each (e.g. ignored Circus options)
    plugins: tuple[PluginConfig, ...] = ()  # run in the core (docs/circus.md#plugins)
    load_options: LoadOptions = field(default_factory=LoadOptions)
    sockets: tuple[SocketConfig, ...] = ()

    def watcher(self, name: str) -> WatcherConfig:
        for watcher_config in self.watchers:
            if watcher_config.name == name:
                return watcher_config
        raise KeyError(name)

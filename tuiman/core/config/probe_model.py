"""The probe and dependency settings of a watcher, as the core runs them (docs/readiness.md).

A leaf of the config package: `model` holds these in `WatcherConfig`, `probes` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProbeKind = Literal["tcp", "http", "exec", "log", "notify"]
Condition = Literal["started", "ready", "completed", "succeeded"]

READY_KINDS: tuple[ProbeKind, ...] = ("tcp", "http", "exec", "log", "notify")
ALIVE_KINDS: tuple[ProbeKind, ...] = ("tcp", "http", "exec")
CONDITIONS: tuple[Condition, ...] = ("started", "ready", "completed", "succeeded")


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: what to try, and how often. `target` may hold `$(tuiman.*)` tokens, expanded
    per process."""

    kind: ProbeKind
    target: str  # host:port, a URL, a command line, a regex; "" for notify
    interval: float = 1.0
    timeout: float = 2.0
    initial_delay: float = 0.0


@dataclass(frozen=True)
class AliveSpec:
    """Liveness: restart a process after `failures` failed tries in a row."""

    probe: ProbeSpec | None  # None: only the limits (or the watchdog) are checked
    interval: float = 5.0  # seconds between checks (the probe's and the limits')
    initial_delay: float = 0.0
    failures: int = 3
    max_memory: int | None = None  # bytes of RSS, the process with its children
    max_cpu: float | None = None  # percent of one CPU
    notify_watchdog: float | None = None  # seconds between WATCHDOG=1 pings, at most

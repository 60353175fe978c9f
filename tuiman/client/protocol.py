"""What the UI talks to an instance through: typed commands in, bus events out.

Every command method returns once the command is done (the core's `wait`), with an `Outcome`
saying whether it worked (some with data: an `Outcome` subclass); a command does not raise for a
refusal, though a remote connection may fail with an exception. Only the core's leaf modules are
imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tuiman.core.events import Event
from tuiman.core.payloads import WatcherSnapshot

WatcherStatus = WatcherSnapshot  # one watcher's `status` entry: name, state, processes, counters
ProcessStats = dict[str, object]  # one process's extended stats: column name -> value


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a command worked, and why not."""

    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class ConfigReload(Outcome):
    """The config file re-read: what changed, or why it was refused (nothing changed then)."""

    changes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExtendedStats(Outcome):
    """Extended stats of one watcher's processes, by pid (through its stats hook, if any)."""

    processes: dict[int, ProcessStats] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line from a watcher's output ring."""

    time: float
    pid: int
    wid: int
    stream: str
    text: str
    partial: bool = False


@dataclass(frozen=True, slots=True)
class TerminalTail(Outcome):
    """The recent raw text of a pty process' terminal, its size, and how many characters it has
    written in all (`end`: a `terminal` event whose `end` is not past it is already in `data`)."""

    data: str = ""
    end: int = 0
    rows: int = 24
    cols: int = 80


class EventStream(Protocol):
    async def get(self) -> Event:
        """The next event; raises EOFError when the stream ends."""
        ...

    def close(self) -> None: ...


class CoreClient(Protocol):
    is_remote: bool
    source: str  # the config path (or demo:...) of the instance

    def subscribe(self) -> EventStream:
        """The bus, starting with a snapshot."""
        ...

    def set_stats(self, enabled: bool) -> None:
        """Ask for periodic `stats` events (sampling runs only while someone asks)."""
        ...

    async def quit_instance(self) -> None:
        """Stop every watcher and end the instance."""
        ...

    def force_quit(self) -> None:
        """Second quit: SIGKILL everything now."""
        ...

    async def start(self, watcher: str | None = None) -> Outcome:
        """Start one watcher, or all by priority."""
        ...

    async def stop(self, watcher: str | None = None) -> Outcome:
        """Stop one watcher, or all (lowest priority first)."""
        ...

    async def restart(self, watcher: str | None = None) -> Outcome:
        """Restart one watcher, or all."""
        ...

    async def reload(self, watcher: str | None = None) -> Outcome:
        """Graceful reload: new processes first, then stop the old ones."""
        ...

    async def kill(self, watcher: str, pid: int) -> Outcome:
        """Graceful stop of one process (its slot respawns)."""
        ...

    async def incr(self, watcher: str, count: int = 1) -> Outcome:
        """Add processes."""
        ...

    async def decr(self, watcher: str, count: int = 1) -> Outcome:
        """Remove the oldest processes."""
        ...

    async def scale_to(self, watcher: str, count: int) -> Outcome:
        """Set the watcher's number of processes (spawning or stopping the difference)."""
        ...

    async def signal(self, watcher: str, signum: int, pid: int | None = None) -> Outcome:
        """Send a signal to one process, or to every process of the watcher."""
        ...

    async def reopen_logs(self) -> Outcome:
        """Reopen output files (after an external logrotate)."""
        ...

    async def reload_config(self) -> ConfigReload:
        """Re-read the config file and apply its changes."""
        ...

    async def status(self, watcher: str) -> list[WatcherStatus]:
        """The watcher's state, processes and counters (empty if it cannot be had)."""
        ...

    async def extended_stats(self, watcher: str) -> ExtendedStats:
        """Extended stats of the watcher's processes."""
        ...

    async def hook_events(self, last: int) -> list[Event]:
        """The most recent hook events (empty if they cannot be had)."""
        ...

    async def recent_output(self, watcher: str, last: int) -> list[OutputLine]:
        """The last lines of the watcher's output ring (empty if they cannot be had)."""
        ...

    async def send_input(
        self,
        watcher: str,
        pid: int | None,
        text: str | None = None,
        keys: list[str] | None = None,
    ) -> Outcome:
        """Write text, then named keys, to a process' terminal or stdin pipe."""
        ...

    async def resize_terminal(
        self, watcher: str, rows: int, cols: int, pid: int | None = None
    ) -> Outcome:
        """Set the size of the watcher's pty terminals (one process' with `pid`)."""
        ...

    async def terminal_tail(self, watcher: str, pid: int) -> TerminalTail:
        """A pty process' recent raw text, to replay into an emulator."""
        ...

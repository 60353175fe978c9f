"""What a watcher needs of the arbiter that owns it, and nothing more.

The Arbiter satisfies this protocol (mypy checks it where it builds its watchers); tests drive
a real Watcher with a small host of their own. The hook facades reach the host through the
watcher too (`HookWatcher.send_signal` runs signal hooks inline, its commands go to the loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from tuiman.core.bus import Bus
from tuiman.core.config.model import WatcherConfig
from tuiman.core.payloads import SocketSnapshot
from tuiman.core.processes.cgroups import WatcherCgroup
from tuiman.core.processes.log_files import OutputFileSink
from tuiman.core.processes.output import OutputBuffer
from tuiman.core.supervision.hooks import FacadeFactory, HookRunner

if TYPE_CHECKING:
    from tuiman.core.supervision.watcher import Watcher


class WatcherHost(Protocol):
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The core loop: timers, futures and process pipes live on it."""

    @property
    def bus(self) -> Bus: ...

    @property
    def hooks(self) -> HookRunner: ...

    @property
    def marker(self) -> str:
        """This instance's marker, set in every child's environment (finds setsid escapees)."""

    @property
    def forced(self) -> bool:
        """A second quit: hooks that have not started are skipped."""

    @property
    def quitting(self) -> bool:
        """tuiman is quitting: nothing may be spawned any more, whoever asks."""

    def facades_for(self, watcher: Watcher) -> FacadeFactory:
        """The `watcher` and `arbiter` objects a hook of this watcher is handed."""

    def call_on_loop(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the core loop (now when already on it): for hook threads."""

    def make_output_buffer(self) -> OutputBuffer: ...

    def make_file_sink(self, config: WatcherConfig) -> OutputFileSink: ...

    def track_group(self, pgid: int) -> None:
        """A process group was spawned: the watchdog kills it if tuiman dies."""

    def untrack_group(self, pgid: int) -> None: ...

    def cgroup_for(self, watcher_name: str) -> WatcherCgroup | None:
        """The watcher's own cgroup, where the machine offers cgroup v2; else None."""

    def socket_fds(self) -> Mapping[str, int]:
        """The bound sockets' fds by name: `$(tuiman.sockets.NAME)`, and what `use_sockets`
        processes inherit."""

    def socket_snapshots(self) -> list[SocketSnapshot]:
        """The bound sockets, for the snapshot of a `use_sockets` watcher."""

    def mask_secret(self, value: str) -> None:
        """A hook set a secret-looking variable: mask its value in every event from now on."""

    def note_failure(self, watcher_name: str, detail: str) -> None:
        """Something failed for good (a veto, a respawn=false crash): headless exits 1."""

    def watcher_state_changed(self, watcher: Watcher) -> None: ...

    def watcher_settled(self, watcher: Watcher) -> None:
        """A command or a stop sequence finished: the host may judge whether all is done."""

"""Restart on change: watch each watcher's `watch` patterns and restart it when a matching file
changes (docs/configuration.md#restart-on-change).

The kernel's notifications come through `watchfiles` (the Rust `notify` crate: inotify here,
with its own reader thread) in one daemon thread per watcher and kind of root (recursive or
not), named `tuiman-watch-NAME`; each batch it yields goes to the loop with
`call_soon_threadsafe`. On the loop, a burst is gathered until `watch_debounce` seconds pass
with no matching change, then the watcher gets one graceful restart (hooks and all) through its
command queue. A restart asked for while one runs is done once more after it, never more.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tuiman.core.bus import Bus
from tuiman.core.config.model import WatcherConfig
from tuiman.core.config.watch_paths import FileWatch
from tuiman.core.events import Kind
from tuiman.core.payloads import FilesChangedPayload
from tuiman.core.states import Reason
from tuiman.core.supervision.watcher import CommandResult, Watcher

if TYPE_CHECKING:
    import watchfiles

_ROTATED = re.compile(r"\.\d+$")  # a rotated log file: app.log.1
MAX_SHOWN_PATHS = 10  # paths carried by one files_changed event; `count` has the total
_STEP_MS = 50  # watchfiles yields a batch after this much quiet (the debounce is ours)
_MAX_BATCH_MS = 1000  # and at the latest this long after a batch's first change
_IDLE_MS = 5000  # an idle wait returns this often (the stop event is checked every step too)
_JOIN_TIMEOUT = 2.0


@dataclass
class _Watched:
    """The file watch of one watcher: its threads and the burst being gathered."""

    name: str
    spec: FileWatch
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    pending: set[str] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None
    restart_task: asyncio.Task[CommandResult] | None = None
    again: bool = False
    ready_threads: int = 0


class FileWatchService:
    """Every watcher's file watch, kept in step with the config (started, reloaded, stopped)."""

    def __init__(
        self,
        bus: Bus,
        find_watcher: Callable[[str], Watcher | None],
        quitting: Callable[[], bool],
    ) -> None:
        self._bus = bus
        self._find_watcher = find_watcher
        self._quitting = quitting
        self._watched: dict[str, _Watched] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped_threads: list[threading.Thread] = []
        # tuiman's own log files (their rotated copies, their directories) never count: a
        # restart writes to them, and `watch = ["**"]` would otherwise restart forever.
        self._log_files: frozenset[str] = frozenset()

    def sync(self, configs: Iterable[WatcherConfig]) -> None:
        """Watch what `configs` ask for: new specs start, changed ones restart, gone ones stop."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        configs = list(configs)
        log_paths = [
            path
            for config in configs
            for path in (config.output.file, config.output.stdout_file, config.output.stderr_file)
            if path is not None
        ]
        # The directories too: the output writer creates them when it first writes.
        self._log_files = frozenset(str(p) for path in log_paths for p in (path, path.parent))
        wanted = {config.name: config.watch for config in configs if config.watch is not None}
        for name in list(self._watched):
            if wanted.get(name) != self._watched[name].spec:
                self._stop(self._watched.pop(name))
        for name, spec in wanted.items():
            if name not in self._watched:
                self._watched[name] = self._start(name, spec)

    def watching(self, name: str) -> bool:
        """Whether every directory of `name`'s patterns is watched: changes from now on count."""
        watched = self._watched.get(name)
        return watched is not None and watched.ready_threads == len(watched.threads)

    def stop_all(self) -> None:
        for watched in self._watched.values():
            self._stop(watched)
        self._watched.clear()

    async def close(self) -> None:
        """Stop watching and wait (briefly) for the threads to notice."""
        self.stop_all()
        threads, self._stopped_threads = self._stopped_threads, []
        for thread in threads:
            await asyncio.to_thread(thread.join, _JOIN_TIMEOUT)

    # -- threads ----------------------------------------------------------------------------------
    def _start(self, name: str, spec: FileWatch) -> _Watched:
        watched = _Watched(name, spec)
        roots = spec.roots()
        # Named files get the non-recursive thread even inside a recursive root: the files
        # their symlinks point to may lie anywhere.
        kinds = [False] if spec.named() or any(not r.recursive for r in roots) else []
        kinds += [True] if any(root.recursive for root in roots) else []
        for recursive in kinds:
            thread = threading.Thread(
                target=self._watch_roots,
                args=(watched, recursive),
                name=f"tuiman-watch-{name}",
                daemon=True,
            )
            watched.threads.append(thread)
            thread.start()
        return watched

    def _stop(self, watched: _Watched) -> None:
        watched.stop.set()
        if watched.timer is not None:
            watched.timer.cancel()
        alive = [thread for thread in self._stopped_threads if thread.is_alive()]
        self._stopped_threads = [*alive, *watched.threads]

    def _watch_roots(self, watched: _Watched, recursive: bool) -> None:
        """In the watch thread: hand each batch of matching changes to the loop. A change of a
        named file starts the watch afresh, so that a switched symlink's new target counts."""
        roots: list[Path] = []
        first = True
        try:
            while not watched.stop.is_set():
                spec = watched.spec.following_links()
                roots = [root.path for root in spec.roots() if root.recursive == recursive]
                missing = [root for root in roots if not root.is_dir()]
                if missing:
                    # RustNotify would watch nothing, silently, with ignore_permission_denied.
                    raise FileNotFoundError(f"{missing[0]} is not a directory any more")
                if not roots:
                    self._to_loop(functools.partial(self._on_ready, watched))
                    watched.stop.wait()  # everything is in the other thread's directories
                    return
                self._watch_until_relink(watched, spec, roots, recursive, first)
                first = False
        except Exception as error:  # the notify backend's errors: a vanished root, no watches
            if not watched.stop.is_set():
                message = f"watching {', '.join(map(str, roots))} failed: {error}"
                self._to_loop(functools.partial(self._on_error, watched, message))

    def _watch_until_relink(
        self, watched: _Watched, spec: FileWatch, roots: list[Path], recursive: bool, first: bool
    ) -> None:
        # Imported here, in the watch thread: most configs watch nothing, and watchfiles (with
        # anyio and multiprocessing) is a sizeable part of tuiman's start-up.
        import watchfiles
        from watchfiles._rust_notify import RustNotify

        matcher, named = spec.matcher(), spec.named()
        default_filter = watchfiles.DefaultFilter()

        def wanted(change: watchfiles.Change, path: str) -> bool:
            if not matcher.matches(path) or _ROTATED.sub("", path) in self._log_files:
                return False
            return not matcher.by_glob_only(path) or default_filter(change, path)

        # RustNotify rather than watchfiles.watch: its watches are in place when it returns,
        # so the watcher can say from when on a change is seen (`watching`).
        with RustNotify(
            [str(root) for root in roots], False, False, 300, recursive, True
        ) as notify:
            if first:
                self._to_loop(functools.partial(self._on_ready, watched))
            while not watched.stop.is_set():
                result = notify.watch(_MAX_BATCH_MS, _STEP_MS, _IDLE_MS, watched.stop)
                if isinstance(result, str):
                    continue  # 'timeout' (an idle wait ended), 'stop', 'signal'
                paths = sorted(
                    {path for raw, path in result if wanted(watchfiles.Change(raw), path)}
                )
                if paths:
                    self._to_loop(functools.partial(self._on_changes, watched, paths))
                if named.intersection(paths):
                    return  # a named file changed: it may point elsewhere now

    def _to_loop(self, callback: Callable[[], None]) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: tuiman is gone
            self._loop.call_soon_threadsafe(callback)

    # -- on the loop ------------------------------------------------------------------------------
    def _on_changes(self, watched: _Watched, paths: list[str]) -> None:
        if watched.stop.is_set():
            return
        watched.pending.update(paths)
        if watched.timer is not None:
            watched.timer.cancel()
        loop = asyncio.get_running_loop()
        watched.timer = loop.call_later(watched.spec.debounce, self._settled, watched)

    def _on_ready(self, watched: _Watched) -> None:
        watched.ready_threads += 1

    def _on_error(self, watched: _Watched, message: str) -> None:
        if not watched.stop.is_set():
            self._bus.emit(Kind.WATCH_ERROR, watched.name, {"error": message})

    def _settled(self, watched: _Watched) -> None:
        """A burst is over: one files_changed event, and one restart."""
        watched.timer = None
        paths, watched.pending = sorted(watched.pending), set()
        watcher = self._find_watcher(watched.name)
        if watched.stop.is_set() or watcher is None or self._quitting():
            return
        payload: FilesChangedPayload = {
            "paths": [watched.spec.shown(path) for path in paths[:MAX_SHOWN_PATHS]],
            "count": len(paths),
            "restart": False,
        }
        skipped = _why_not(watcher)
        if skipped is not None:
            payload["skipped"] = skipped
            self._bus.emit(Kind.FILES_CHANGED, watched.name, payload)
            return
        payload["restart"] = True
        self._bus.emit(Kind.FILES_CHANGED, watched.name, payload)
        if watched.restart_task is not None and not watched.restart_task.done():
            watched.again = True  # this restart may have read the old files: once more after it
            return
        self._restart(watched, watcher)

    def _restart(self, watched: _Watched, watcher: Watcher) -> None:
        task = watcher.restart(Reason.FILE_CHANGE)
        watched.restart_task = task
        task.add_done_callback(lambda _task: self._restart_done(watched))

    def _restart_done(self, watched: _Watched) -> None:
        if not watched.again or watched.stop.is_set() or self._quitting():
            return
        watched.again = False
        watcher = self._find_watcher(watched.name)
        if watcher is not None and _why_not(watcher) is None:
            self._restart(watched, watcher)


def _why_not(watcher: Watcher) -> str | None:
    """Why a change does not restart this watcher, or None when it does."""
    if watcher.stopped_by_command:
        return "stopped by a command"
    if not watcher.started_ever:
        return "not started yet"
    return None

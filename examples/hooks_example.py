"""One example of each of tuiman's eleven hooks (docs/hooks.md).

Use them from a config next to this file (tuiman appends the config's directory to `sys.path`),
or from anywhere with the watcher's `env = { PYTHONPATH = "$PYTHONPATH:/path/to/examples" }`:

    [watchers.web.hooks]
    before_start = "hooks_example.check_free_disk"
    after_start = "hooks_example.announce"
    before_spawn = "hooks_example.limit_spawn_rate"          # an async hook
    after_spawn = "hooks_example.check_alive"
    before_stop = "hooks_example.announce"
    after_stop = "hooks_example.announce"
    before_signal = "hooks_example.protect_young_from_hup"   # or hooks_example.pause_then_stop
    after_signal = "hooks_example.count_signals"
    before_reap = "hooks_example.note_exit"
    after_reap = "hooks_example.alert_on_crash"
    extended_stats = "hooks_example.add_open_files"

Every hook is called with keyword arguments only, so keep the parameter names. The `watcher`
and `arbiter` objects are tuiman's Circus-compatible views (docs/hooks.md, "What a hook can
see"); anything Circus hook code uses from them works unchanged.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections import Counter, deque
from typing import Any

from tuiman.core.states import UNEXISTING

MIN_FREE_BYTES = 100 * 1024 * 1024
MAX_SPAWNS_PER_MINUTE = 120
YOUNG_SECONDS = 5.0

_spawn_times: dict[str, deque[float]] = {}
signal_counts: Counter[tuple[str, int]] = Counter()


def check_free_disk(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_start: refuse to start without 100 MiB free where the watcher runs.

    Returning False (or None, or raising) vetoes the start: the watcher stays `stopped`.
    """
    free = shutil.disk_usage(watcher.env.get("DATA_DIR", os.getcwd())).free
    if free < MIN_FREE_BYTES:
        arbiter.publish("low_disk", watcher=watcher.name, free=free)
        return False
    return True


def announce(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """after_start / before_stop / after_stop: publish a custom event on tuiman's bus.

    The event is shown in the UI's hook log and in headless output (`watcher.<name>.note`).
    """
    arbiter.publish("note", watcher=watcher.name, text=f"{hook_name}: {len(watcher.pids)} running")
    return True


async def limit_spawn_rate(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_spawn, as an async hook (awaited on tuiman's hook loop, never on its core loop).

    A falsy result vetoes the spawn: during a start or a respawn the watcher is stopped, during
    `incr` only that command is aborted.
    """
    await asyncio.sleep(0)  # e.g. await an HTTP health check of a dependency here
    now = time.monotonic()
    recent = _spawn_times.setdefault(watcher.name, deque())
    while recent and now - recent[0] > 60:
        recent.popleft()
    if len(recent) >= MAX_SPAWNS_PER_MINUTE:
        return False
    recent.append(now)
    return True


def check_alive(watcher: Any, arbiter: Any, hook_name: str, pid: int, **kwargs: Any) -> bool:
    """after_spawn: `pid` is the new process. A falsy result kills it and stops the watcher."""
    process = watcher.processes.get(pid)
    return process is not None and process.state == "running"


def protect_young_from_hup(
    watcher: Any, arbiter: Any, hook_name: str, pid: int, signum: int, **kwargs: Any
) -> bool:
    """before_signal: refuse SIGHUP to a process younger than 5 s (it is still loading).

    A falsy result skips the signal (after_signal still runs); SIGKILL is always sent.
    """
    process = watcher.processes.get(pid)
    return not (signum == signal.SIGHUP and process is not None and process.age() < YOUNG_SECONDS)


def pause_then_stop(
    watcher: Any, arbiter: Any, hook_name: str, pid: int, signum: int, **kwargs: Any
) -> bool:
    """before_signal, Circus' uWSGI lossless-reload pattern: before the stop signal, send the
    process SIGTSTP first. The nested `send_signal` runs this watcher's signal hooks inline (so
    this hook sees signum=SIGTSTP too) and cannot deadlock.
    """
    if signum == signal.SIGTERM:
        watcher.send_signal(pid, signal.SIGTSTP)
    return True


def count_signals(
    watcher: Any, arbiter: Any, hook_name: str, pid: int, signum: int, **kwargs: Any
) -> None:
    """after_signal: called after the signal was sent, or skipped by a veto. Result ignored."""
    signal_counts[(watcher.name, signum)] += 1


def note_exit(watcher: Any, arbiter: Any, hook_name: str, process_pid: int, **kwargs: Any) -> None:
    """before_reap: the process has exited; it is still in `watcher.processes`."""
    process = watcher.processes.get(process_pid)
    age = round(process.age(), 3) if process is not None else None
    arbiter.publish("exited", watcher=watcher.name, pid=process_pid, age=age, at=kwargs["time"])


def alert_on_crash(
    watcher: Any,
    arbiter: Any,
    hook_name: str,
    process_pid: int,
    exit_code: int,
    process_status: int | None,
    **kwargs: Any,
) -> None:
    """after_reap: `process_status` is UNEXISTING for an exit of its own, None when tuiman
    caused it (stop, kill, decr, max_age, reload, a signal sent through tuiman)."""
    if process_status == UNEXISTING and exit_code != 0:
        arbiter.publish("crash", watcher=watcher.name, pid=process_pid, exit_code=exit_code)


def add_open_files(
    watcher: Any, arbiter: Any, hook_name: str, pid: int, stats: dict[str, Any], **kwargs: Any
) -> None:
    """extended_stats: add keys to `stats` (Circus' shape: pid, cpu, mem, mem_info1, mem_info2,
    age, wid, children, plus tuiman's rss, vms, num_threads). Called only for extended stats."""
    try:
        stats["open_files"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        stats["open_files"] = None

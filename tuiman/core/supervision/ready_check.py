"""When an instance is ready (docs/readiness.md#when-is-tuiman-ready): every autostart watcher
(or the watchers named) has passed its readiness probe, or, without a probe, is active with
all its processes up, or has finished on its own with exit codes 0. `--run`, `ctl wait` and
tuiman's own READY=1 all ask here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from tuiman.core.states import Reason, WatcherState
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.watcher import Watcher


def _chosen(arbiter: Arbiter, names: Sequence[str] | None) -> list[Watcher]:
    if names:
        return [arbiter.get(name) for name in names]
    return [
        watcher
        for watcher in arbiter.watchers.values()
        # on_demand: its socket listens, the first connection starts it
        if watcher.config.autostart and not arbiter.waiting_for_connection(watcher)
    ]


def ready_problem(arbiter: Arbiter, names: Sequence[str] | None = None) -> str | None:
    """None when ready; a reason when it never will be; '' to wait."""
    if arbiter.failures and not names:
        return arbiter.failures[0]
    for watcher in _chosen(arbiter, names):
        if watcher.blocked is not None:
            return f"{watcher.name}: blocked: {watcher.blocked}"
        if watcher.ready:
            continue
        if watcher.state == WatcherState.FAILED:
            return f"{watcher.name}: failed ({watcher.reason})"
        if arbiter.is_done(watcher):
            codes = set(watcher.last_exit_codes.values())
            if codes - {0}:
                known = sorted(code for code in codes if code is not None)
                shown = [str(code) for code in known] + (["unknown"] if None in codes else [])
                return f"{watcher.name}: exited with [{', '.join(shown)}]"
            if not names or watcher.reason == Reason.EXITED:
                continue  # done on its own, all well (a named, stopped one may still start)
        return ""
    return None


def not_ready_reasons(arbiter: Arbiter, names: Sequence[str] | None = None) -> list[str]:
    """One line per watcher that is not ready yet: what it waits for."""
    reasons: list[str] = []
    for watcher in _chosen(arbiter, names):
        if watcher.ready:
            continue
        if watcher.waiting_for:
            reasons.append(f"{watcher.name}: waiting for {', '.join(watcher.waiting_for)}")
            continue
        if watcher.state != WatcherState.ACTIVE or not watcher.all_running:
            reasons.append(f"{watcher.name}: {watcher.state}")
            continue
        if watcher.config.ready is None:
            continue
        snapshot = watcher.probes.snapshot([], None)
        errors = sorted(set(snapshot["errors"].values()))
        detail = f" (last try: {errors[-1]})" if errors else ""
        reasons.append(f"{watcher.name}: not ready{detail}")
    return reasons


async def wait_ready(
    arbiter: Arbiter, timeout: float, names: Sequence[str] | None = None
) -> str | None:
    """Wait until ready (None), or for the reason it never will be, or `timeout` seconds."""
    subscription = arbiter.bus.subscribe(name="ready", snapshot=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            problem = ready_problem(arbiter, names)
            if problem is None:
                return None
            if problem:
                return problem
            if arbiter.quit_requested.is_set():
                return "stopped before the services were ready"
            remaining = deadline - loop.time()
            if remaining <= 0:
                waiting = "; ".join(not_ready_reasons(arbiter, names))
                return f"not ready after {timeout:g}s" + (f": {waiting}" if waiting else "")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscription.get(), min(remaining, 0.5))
            subscription.drain()
    finally:
        subscription.close()

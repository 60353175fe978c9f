"""Waiting on a condition of the real system (process table, core state, screen, files).

One poller in two forms: `await wait_until(...)` on an event loop, `wait_until_sync(...)` in
plain threads. Both return the predicate's first truthy value and, on timeout, raise an
AssertionError naming what was awaited and the last value the predicate returned.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 15.0
DEFAULT_INTERVAL = 0.02


def describe(predicate: Callable[[], object]) -> str:
    """The predicate's source when it is a lambda (what a reader recognises), else its name."""
    name = getattr(predicate, "__qualname__", repr(predicate))
    if getattr(predicate, "__name__", "") != "<lambda>":
        return name
    try:
        source = inspect.getsource(predicate)
    except (OSError, TypeError):
        return name
    start = source.find("lambda")
    text = " ".join(source[start:].split()) if start >= 0 else name
    return text if len(text) <= 160 else text[:157] + "..."


def _timed_out(
    predicate: Callable[[], object], what: str | None, timeout: float, last: object
) -> AssertionError:
    awaited = what or describe(predicate)
    return AssertionError(f"timed out after {timeout}s waiting for {awaited}; last value: {last!r}")


async def wait_until(
    predicate: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    interval: float = DEFAULT_INTERVAL,
    what: str | None = None,
    pause: Callable[[float], Awaitable[Any]] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    `pause` replaces `asyncio.sleep` between polls (a Textual pilot's `pause` lets the app
    process its messages meanwhile).
    """
    sleep = pause or asyncio.sleep
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise _timed_out(predicate, what, timeout, value)
        await sleep(interval)


def wait_until_sync(
    predicate: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    interval: float = DEFAULT_INTERVAL,
    what: str | None = None,
) -> T:
    """`wait_until` for code without an event loop (tests driving subprocesses)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(predicate, what, timeout, value)
        time.sleep(interval)

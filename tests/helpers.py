"""Helpers shared by the test suites: real processes, waiting on conditions."""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path

from tuiman.core.bus import Subscription
from tuiman.core.config.loader import load_config_text
from tuiman.core.config.model import Config
from tuiman.core.events import Event


def make_config(tmp_path: Path, toml: str) -> Config:
    path = tmp_path / "tuiman.toml"
    path.write_text(textwrap.dedent(toml))
    return load_config_text(path.read_text(), path, cwd=tmp_path)


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02
) -> None:
    """Poll a condition on the real system (process table, core state) up to a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)


async def next_event(
    subscription: Subscription,
    kind: str,
    watcher: str | None = None,
    timeout: float = 10.0,
    where: Callable[[Event], bool] | None = None,
) -> Event:
    async def find() -> Event:
        while True:
            event = await subscription.get()
            if event.kind == kind and (watcher is None or event.watcher == watcher):
                if where is None or where(event):
                    return event

    return await asyncio.wait_for(find(), timeout)


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            stat = stat_file.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def kill_quietly(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def tagged_pids(tag: str) -> list[int]:
    """Live processes whose environment carries TEST_TAG=tag (never matched by name)."""
    needle = f"TEST_TAG={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0") and pid_alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found

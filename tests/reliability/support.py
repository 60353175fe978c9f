"""Tools for the fault-injection suite: subreaping, loop lag, hook modules, headless runs.

Processes are always found by an environment tag (`TEST_TAG=...`) or by pid, never by name, and
every process a test starts is killed by pid / pgid / tag in a finally block.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

from tests.support.procs import kill_quietly, kill_tagged, zombie_children

PY = sys.executable
TUIMAN = [PY, "-m", "tuiman"]
REPO = Path(__file__).resolve().parents[2]
MAX_LOOP_LAG = 0.5  # seconds: the core loop must never be blocked longer than this
_PR_SET_CHILD_SUBREAPER = 36


# -- process table ------------------------------------------------------------------------------
def set_child_subreaper(on: bool) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)) == 0


def reap_new_zombies(baseline: Iterable[int]) -> None:
    """Collect zombie children that appeared since `baseline` (orphans a test left behind)."""
    known = set(baseline)
    for pid in zombie_children() - known:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


# -- loop lag -----------------------------------------------------------------------------------
class LagProbe:
    """A ticker on the core's loop: how late its wake-ups come is how long the loop was blocked."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.max_lag = 0.0
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last: float | None = None  # loop time the pending tick went to sleep

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._last = loop.time()
            await asyncio.sleep(self.interval)
            self.max_lag = max(self.max_lag, loop.time() - self._last - self.interval)
            self.ticks += 1

    def start(self) -> LagProbe:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())
        return self

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return self.max_lag

    async def __aenter__(self) -> LagProbe:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def worst(self) -> float:
        """The largest lag so far, counting the tick that is late right now."""
        pending = 0.0
        if self._loop is not None and self._last is not None:
            pending = self._loop.time() - self._last - self.interval
        return max(self.max_lag, pending)

    def check(self) -> None:
        assert self._loop is not None, "the lag probe was never started"
        worst = self.worst()
        assert worst < MAX_LOOP_LAG, f"event loop blocked for {worst:.3f}s"


# -- hook modules -------------------------------------------------------------------------------
def write_hook_module(directory: Path, source: str) -> str:
    """Write hook code to a module with a unique name (sys.modules caches by name)."""
    name = f"relhooks_{uuid.uuid4().hex[:10]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return name


# -- a headless tuiman subprocess ---------------------------------------------------------------
class Headless:
    """`python -m tuiman --headless` in its own session; stdout/stderr collected by threads."""

    def __init__(
        self, config: Path, *extra: str, env: dict[str, str] | None = None, json: bool = False
    ) -> None:
        args = [*TUIMAN, "--headless", "-c", str(config), *(["--json"] if json else []), *extra]
        self.proc = subprocess.Popen(
            args,
            cwd=config.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1", **(env or {})},
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: Iterable[bytes] | None, into: list[str]) -> None:
        assert stream is not None
        for raw in stream:
            with self._changed:
                into.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_line(
        self, predicate: Callable[[str], bool], timeout: float = 15.0, stream: str = "out"
    ) -> str:
        lines = self.out if stream == "out" else self.err
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and seen == len(lines)):
                    tail = "\n".join([*self.out[-20:], "-- stderr --", *self.err[-20:]])
                    raise AssertionError(f"no matching {stream} line in time:\n{tail}")
                self._changed.wait(min(remaining, 0.1))

    def send(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = 20.0) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            kill_quietly(self.proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@contextlib.contextmanager
def headless(
    config: Path, *extra: str, tag: str, json: bool = False, env: dict[str, str] | None = None
) -> Iterator[Headless]:
    run = Headless(config, *extra, json=json, env=env)
    try:
        yield run
    finally:
        run.close()
        kill_tagged(tag)

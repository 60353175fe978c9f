"""Running real headless tuimans and `tuiman ctl` as subprocesses, for the control tests.

Every instance gets its own directory, config and socket (`[tuiman] control_socket`), runs in
its own session, and is stopped (then killed by pid, never by name) when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped, unused-ignore]

from tests.support.waiting import wait_until_sync
from tuiman.control.client import ControlConnection, Unreachable
from tuiman.control.paths import default_socket_path

TUIMAN = [sys.executable, "-m", "tuiman"]
BASE_ENV = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
BASE_ENV.pop("TUIMAN_SOCKET", None)


def run_ctl(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUIMAN, "ctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**BASE_ENV, **(env or {})},
        user=user,
    )


@dataclass
class Instance:
    directory: Path
    config: Path
    socket: Path
    process: subprocess.Popen[bytes]
    seen_pids: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_ctl("--socket", str(self.socket), *args, cwd=self.directory, timeout=timeout)

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        with ControlConnection(self.socket) as connection:
            return connection.request(command, **arguments)

    def watcher(self, name: str) -> dict[str, Any]:
        reply = self.request("status", watcher=name)
        assert reply["ok"], reply
        watcher: dict[str, Any] = reply["watchers"][0]
        self.seen_pids.update(p["pid"] for p in watcher["processes"])
        return watcher

    def pids(self, name: str) -> list[int]:
        return sorted(p["pid"] for p in self.watcher(name)["processes"])

    def answers(self) -> bool:
        try:
            return bool(self.request("hello").get("ok"))
        except Unreachable:
            return False

    def stderr(self) -> str:
        return (self.directory / "stderr.txt").read_text(errors="replace")

    def stdout(self) -> str:
        return (self.directory / "stdout.txt").read_text(errors="replace")

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def stop(self) -> None:
        """SIGTERM (twice if need be), then SIGKILL; then every process it ever ran, by pid."""
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.pid).children(recursive=True):
                self.seen_pids.add(child.pid)
        for grace in (3, 10):  # a second SIGTERM makes tuiman kill everything at once
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(5)
        for pid in self.seen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def write_config(directory: Path, toml: str, name: str = "cfg.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(toml))
    return path


def launch(
    directory: Path,
    toml: str,
    *,
    socket_name: str | None = "ctl.sock",
    env: dict[str, str] | None = None,
    wait: bool = True,
) -> Instance:
    """Start `tuiman --headless --json -c cfg.toml` in `directory`, wait until it answers."""
    header = f'[tuiman]\ncontrol_socket = "{socket_name}"\n' if socket_name else ""
    config = write_config(directory, header + textwrap.dedent(toml))
    with open(directory / "stdout.txt", "wb") as out, open(directory / "stderr.txt", "wb") as err:
        process = subprocess.Popen(
            [*TUIMAN, "--headless", "--json", "-c", str(config)],
            cwd=directory,
            stdout=out,
            stderr=err,
            env={**BASE_ENV, **(env or {})},
            start_new_session=True,
        )
    if socket_name:
        socket_path = directory / socket_name
    else:
        socket_path = default_socket_path(str(config.resolve()), {**BASE_ENV, **(env or {})})
    instance = Instance(directory, config, socket_path, process)
    if wait:
        wait_ready(instance)
    return instance


def wait_ready(instance: Instance, timeout: float = 20.0) -> None:
    def ready() -> bool:
        if instance.process.poll() is not None:
            raise AssertionError(
                f"tuiman exited {instance.process.returncode}: {instance.stderr()}"
            )
        return instance.answers()

    wait_until_sync(ready, timeout, what="the instance answering on its socket")


@contextlib.contextmanager
def instances() -> Iterator[Callable[..., Instance]]:
    started: list[Instance] = []

    def start(directory: Path, toml: str, **options: Any) -> Instance:
        instance = launch(directory, toml, **options)
        started.append(instance)
        return instance

    try:
        yield start
    finally:
        for instance in started:
            instance.stop()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]

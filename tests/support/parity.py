"""The same Circus INI and hook module run under real circusd and under tuiman, side by side.

Each daemon runs in a directory of its own (a copy of the same files), with `PARITY_TRACE`
naming the file its hooks append JSON lines to. Both are driven by their own control client
(`circusctl`, `tuiman ctl`) and stopped by pid; the children carry a `TEST_TAG` in their
environment so that whatever a failed test leaves behind is killed by tag, never by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from tests.support.circusd import circus_bin
from tests.support.procs import kill_quietly, kill_tagged
from tests.support.waiting import wait_until_sync

DaemonKind = Literal["circus", "tuiman"]
TRACE_ENV = "PARITY_TRACE"
STARTUP_TIMEOUT = 30.0


class Daemon:
    def __init__(self, kind: DaemonKind, directory: Path, process: subprocess.Popen[bytes]):
        self.kind = kind
        self.directory = directory
        self.process = process
        self.trace_file = directory / "trace.jsonl"
        self.log_file = directory / "daemon.log"  # its stdout and stderr

    def ctl(self, *args: str) -> str:
        if self.kind == "circus":
            endpoint = f"ipc://{self.directory}/ctl.sock"
            argv = [str(circus_bin() / "circusctl"), "--endpoint", endpoint, *args]
        else:
            argv = [sys.executable, "-m", "tuiman", "ctl", "-c", "circus.ini", *args]
        done = subprocess.run(
            argv, cwd=self.directory, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"{self.kind} {args}: {done.stdout}{done.stderr}"
        return done.stdout

    def signal(self, watcher: str, signal_name: str) -> None:
        self.ctl("signal", watcher, signal_name)

    def reload(self, watcher: str) -> None:
        self.ctl("reload", watcher)

    def extended_stats(self, watcher: str) -> None:
        if self.kind == "circus":
            self.ctl("stats", "--extended", watcher)
        else:
            self.ctl("stats", watcher, "--extended")

    def trace(self) -> list[dict[str, Any]]:
        if not self.trace_file.exists():
            return []
        lines = self.trace_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def wait_trace(self, count: int, timeout: float = STARTUP_TIMEOUT) -> list[dict[str, Any]]:
        """The trace once it has at least `count` records."""
        return wait_until_sync(
            lambda: records if len(records := self.trace()) >= count else [],
            timeout=timeout,
        )


def circus_header(directory: Path) -> str:
    """A `[circus]` section with endpoints of this directory (tuiman warns and ignores them)."""
    return (
        "[circus]\n"
        f"endpoint = ipc://{directory}/ctl.sock\n"
        f"pubsub_endpoint = ipc://{directory}/pub.sock\n"
        f"stats_endpoint = ipc://{directory}/stats.sock\n"
    )


@contextlib.contextmanager
def running(
    kind: DaemonKind,
    root: Path,
    ini_body: str,
    files: dict[str, str],
    tag: str,
    *,
    show_output: bool = False,
) -> Iterator[Daemon]:
    """Run `ini_body` under `kind`: `{dir}` in it is the daemon's directory, `{tag}` the tag to
    put in the children's environment (Circus copies no environment by default)."""
    directory = root / kind
    directory.mkdir()
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    ini = circus_header(directory) + ini_body.replace("{dir}", str(directory)).replace("{tag}", tag)
    (directory / "circus.ini").write_text(ini)
    env = {
        **os.environ,
        TRACE_ENV: str(directory / "trace.jsonl"),
        "PYTHONPATH": str(directory),
        "NO_COLOR": "1",
        "TEST_TAG": tag,
    }
    if kind == "circus":
        argv = [str(circus_bin() / "circusd"), "circus.ini"]
    else:
        output = [] if show_output else ["--no-output"]
        argv = [sys.executable, "-m", "tuiman", "--headless", *output, "-c", "circus.ini"]
    with open(directory / "daemon.log", "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    daemon = Daemon(kind, directory, process)
    try:
        yield daemon
    finally:
        if kind == "circus" and process.poll() is None:
            # circusd can sit on a SIGTERM for the whole wait below once a test has stopped its
            # watcher; its own quit command ends it at once.
            endpoint = f"ipc://{directory}/ctl.sock"
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    [str(circus_bin() / "circusctl"), "--endpoint", endpoint, "quit"],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            kill_quietly(process.pid)
            process.wait(5)
        kill_tagged(tag)


def pid_labels(records: list[dict[str, Any]]) -> dict[int, str]:
    """pid -> p1, p2, … in the order the pids first appear in `records` (pids differ between
    the two daemons; their order does not)."""
    labels: dict[int, str] = {}
    for record in records:
        pid = record.get("pid")
        if isinstance(pid, int) and pid not in labels:
            labels[pid] = f"p{len(labels) + 1}"
    return labels


def calls(records: list[dict[str, Any]]) -> list[str]:
    """`hook pN` per record, pids labelled by first appearance."""
    labels = pid_labels(records)
    shown = []
    for record in records:
        pid = record.get("pid")
        shown.append(f"{record['hook']} {labels[pid]}" if isinstance(pid, int) else record["hook"])
    return shown

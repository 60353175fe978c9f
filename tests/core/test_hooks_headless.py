"""Hooks seen from the outside: `python -m tuiman --headless [--json]` as a real subprocess.

Hook events in both output formats (docs/hooks.md#events, docs/headless.md); a slow hook never holds
up another watcher's output; a hook that never returns does not stop tuiman from exiting on SIGTERM
(docs/hooks.md#timeouts-and-threads).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hookkit import HookLab, new_lab
from tests.support.procs import alive, kill_quietly, tagged_pids
from tests.support.waiting import wait_until_sync

TUIMAN = [sys.executable, "-m", "tuiman"]


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> HookLab:
    return new_lab(tmp_path, request.node.name)


class Headless:
    """A running `tuiman --headless`, its stdout read line by line as it comes."""

    def __init__(self, config: Path, tag: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [*TUIMAN, "--headless", "-c", str(config), *extra],
            cwd=config.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1", "TEST_TAG": tag},
            start_new_session=True,
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.time(), line.rstrip("\n")))

    def wait_json(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> tuple[float, dict[str, Any]]:
        """The first JSON event (not yet returned) matching predicate, with its arrival time."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching event within {timeout}s; seen: {self.seen[-20:]}"
                )
            try:
                arrived, line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append((arrived, line))
            event = json.loads(line)
            if predicate(event):
                return arrived, event

    def finish(self, timeout: float) -> tuple[int, list[str], str]:
        code = self.process.wait(timeout)
        self._reader.join(5)  # stdout closed: every line is in the queue
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        assert self.process.stderr is not None
        return code, [line for _, line in self.seen], self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            kill_quietly(self.process.pid)
            self.process.wait(5)


def write_config(directory: Path, toml: str) -> Path:
    path = directory / "tuiman.toml"
    path.write_text(textwrap.dedent(toml))
    return path


def is_hook(event: dict[str, Any], watcher: str, name: str) -> bool:
    return (
        event.get("watcher") == watcher
        and event.get("name") == name
        and event["kind"] in ("hook_success", "hook_failure")
    )


HOOK_EVENTS_CONFIG = """
    [watchers.good]
    cmd = "true"
    respawn = false
    priority = 3
    [watchers.good.hooks]
    before_start = "{m}.ok"
    after_spawn = "{m}.ok"
    [watchers.veto]
    cmd = "sleep 300"
    priority = 2
    [watchers.veto.hooks]
    before_start = "{m}.no"
    [watchers.bad]
    cmd = "sleep 300"
    priority = 1
    [watchers.bad.hooks]
    before_start = "{m}.boom"
    """

HOOK_EVENTS_MODULE = """
def ok(watcher, arbiter, hook_name, **kwargs):
    return True

def no(watcher, arbiter, hook_name, **kwargs):
    return False

def boom(watcher, arbiter, hook_name, **kwargs):
    raise RuntimeError("boom")
"""


@pytest.mark.timeout(40)
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_hook_events_in_headless_output(lab: HookLab, tag: str, fmt: str) -> None:
    lab.write(HOOK_EVENTS_MODULE)
    config = write_config(lab.directory, HOOK_EVENTS_CONFIG.format(m=lab.module))
    args = ["--no-output", *(["--json"] if fmt == "json" else [])]
    run = Headless(config, tag, *args)
    try:
        code, lines, stderr = run.finish(30)  # every watcher ends on its own
    finally:
        run.kill()
    # a vetoed start and a hook failure make the run fail (docs/headless.md#exit-codes)
    assert code == 1, stderr
    if fmt == "text":
        text = "\n".join(lines)
        good_spawn = next(ln for ln in lines if " good spawn pid=" in ln)
        pid = good_spawn.split("pid=")[1].split()[0]
        assert any(ln.split(" ", 1)[1].startswith("good hook before_start ok ") for ln in lines), (
            text
        )
        assert any(f"good hook after_spawn pid={pid} ok " in ln for ln in lines), text
        assert any("veto hook before_start VETOED after " in ln for ln in lines), text
        assert any(
            "bad hook before_start FAILED, vetoed after " in ln
            and ln.endswith(": RuntimeError: boom")
            for ln in lines
        ), text
        return
    events = [json.loads(line) for line in lines]
    hooks = [e for e in events if e["kind"] in ("hook_success", "hook_failure")]
    [spawn] = [e for e in events if e["kind"] == "spawn"]
    for event in hooks:
        assert event["topic"] == f"watcher.{event['watcher']}.{event['kind']}"
        assert isinstance(event["seq"], int) and isinstance(event["time"], float)
        assert isinstance(event["duration"], float) and event["duration"] >= 0
    simplified = [
        {k: v for k, v in e.items() if k not in ("seq", "time", "topic", "duration")} for e in hooks
    ]
    assert simplified == [
        {"kind": "hook_success", "watcher": "good", "name": "before_start", "vetoed": False},
        {
            "kind": "hook_success",
            "watcher": "good",
            "name": "after_spawn",
            "vetoed": False,
            "pid": spawn["pid"],
        },
        {"kind": "hook_success", "watcher": "veto", "name": "before_start", "vetoed": True},
        {
            "kind": "hook_failure",
            "watcher": "bad",
            "name": "before_start",
            "vetoed": True,
            "error": "RuntimeError: boom",
        },
    ]
    # the hook events sit in the real order of calls, between the lifecycle events
    kinds = [
        (e["kind"], e.get("watcher"), e.get("name")) for e in events if e.get("watcher") == "good"
    ]
    assert kinds.index(("hook_success", "good", "before_start")) < kinds.index(
        ("spawn", "good", None)
    )
    assert kinds.index(("spawn", "good", None)) < kinds.index(
        ("hook_success", "good", "after_spawn")
    )


@pytest.mark.timeout(40)
def test_slow_hook_never_holds_up_another_watchers_output(lab: HookLab, tag: str) -> None:
    lab.write(
        """
        def slow(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            time.sleep(5)
            return True
        """
    )
    config = write_config(
        lab.directory,
        f"""
        [watchers.a]
        cmd = "sleep 300"
        priority = 1
        [watchers.a.hooks]
        before_start = {{ path = "{lab.path("slow")}", timeout = 10 }}
        [watchers.b]
        cmd = "sleep 300"
        priority = 2
        """,
    )
    run = Headless(config, tag, "--json")
    try:
        _, spawn = run.wait_json(lambda e: e["kind"] == "spawn" and e["watcher"] == "b")
        wait_until_sync(lab.calls, what="a's before_start running")
        killed_at = time.time()
        os.kill(spawn["pid"], signal.SIGKILL)
        reap_seen, reap = run.wait_json(lambda e: e["kind"] == "reap" and e["watcher"] == "b", 2)
        respawn_seen, respawn = run.wait_json(
            lambda e: e["kind"] == "spawn" and e["watcher"] == "b", 2
        )
        assert reap["pid"] == spawn["pid"] and respawn["wid"] == spawn["wid"]
        # reaped and respawned, and printed, well under a second after the kill
        assert reap["time"] - killed_at < 0.5 and respawn["time"] - killed_at < 0.5
        assert reap_seen - killed_at < 1.0 and respawn_seen - killed_at < 1.0
        assert not any(is_hook(json.loads(line), "a", "before_start") for _, line in run.seen)
        assert alive(respawn["pid"])
        run.process.send_signal(signal.SIGTERM)  # a's start is cancelled, its hook abandoned
        began = time.monotonic()
        code, _, stderr = run.finish(10)
        assert time.monotonic() - began < 3.0
        assert code == 0, stderr
        assert not alive(respawn["pid"])
    finally:
        run.kill()
    assert tagged_pids(tag) == []


@pytest.mark.timeout(40)
def test_hook_that_never_returns_then_sigterm(lab: HookLab, tag: str) -> None:
    lab.write(
        """
        def hang(watcher, arbiter, hook_name, **kwargs):
            record(hook_name, watcher)
            threading.Event().wait()
        """
    )
    config = write_config(
        lab.directory,
        f"""
        [watchers.stuck]
        cmd = "sleep 300"
        priority = 3
        [watchers.stuck.hooks]
        before_start = {{ path = "{lab.path("hang")}", timeout = 1.0 }}
        [watchers.svc]
        cmd = "sleep 300"
        priority = 2
        [watchers.hang]
        cmd = "sleep 300"
        priority = 1
        [watchers.hang.hooks]
        before_start = "{lab.path("hang")}"
        """,
    )
    run = Headless(config, tag, "--json")
    try:
        _, failure = run.wait_json(lambda e: is_hook(e, "stuck", "before_start"))
        assert failure["kind"] == "hook_failure" and failure["vetoed"] is True
        assert failure["error"] == "timed out after 1.0s" and failure["duration"] >= 1.0
        _, svc = run.wait_json(lambda e: e["kind"] == "spawn" and e["watcher"] == "svc")
        wait_until_sync(lambda: len(lab.calls()) >= 2, what="both hanging hooks called")
        assert [c["hook"] for c in lab.calls()] == [
            "before_start",
            "before_start",
        ]  # hang's hook in flight
        run.process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        code, lines, stderr = run.finish(10)
        assert time.monotonic() - began < 3.0  # two stuck hook threads do not hold up the exit
        # stuck's failed hook vetoed its start (sticky, docs/headless.md#exit-codes)
        assert code == 1, stderr
        assert any(
            json.loads(ln)["kind"] == "stop" and json.loads(ln)["watcher"] == "svc" for ln in lines
        )
        assert not alive(svc["pid"])
    finally:
        run.kill()
    assert tagged_pids(tag) == []

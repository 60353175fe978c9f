"""examples/redis end to end: a real redis-server, the `check_redis` hook, a queue worker.

The example is copied to a temporary directory with a free port, and run as `tuiman --headless
--json` in a subprocess; its children are found by a tag in their environment, never by name.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.procs import alive, kill_quietly, tagged_pids

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "redis"
DEFAULT_PORT_LINE = 'REDIS_PORT = "6390"'

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (apt-get install redis-server; .ci/run does it)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_example(tmp_path: Path, port: int, *, redis_autostart: bool = True) -> Path:
    directory = tmp_path / "redis"
    shutil.copytree(EXAMPLE, directory, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    config = directory / "tuiman.toml"
    text = config.read_text()
    assert DEFAULT_PORT_LINE in text
    text = text.replace(DEFAULT_PORT_LINE, f'REDIS_PORT = "{port}"')
    if not redis_autostart:
        text = text.replace("[watchers.redis]\n", "[watchers.redis]\nautostart = false\n")
    config.write_text(text)
    return config


class Headless:
    def __init__(self, config: Path, tag: str) -> None:
        # `python` in the watchers' cmd must be one with the redis client: this interpreter.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tuiman", "--headless", "--json", "-c", str(config)],
            cwd=config.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PATH": path, "NO_COLOR": "1", "TEST_TAG": tag},
            start_new_session=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"event not seen within {timeout}s; last: {self.seen[-15:]}")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event

    def finish(self, timeout: float) -> tuple[int, str]:
        code = self.process.wait(timeout)
        self._reader.join(5)  # stdout closed: every line is in the queue
        while not self.events.empty():
            self.seen.append(self.events.get())
        assert self.process.stderr is not None
        return code, self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            kill_quietly(self.process.pid)
            self.process.wait(5)


def kind_of(event: dict[str, Any], kind: str, watcher: str) -> bool:
    return event["kind"] == kind and event.get("watcher") == watcher


@pytest.mark.timeout(60)
def test_redis_example_end_to_end(tmp_path: Path, tag: str) -> None:
    port = free_port()
    config = copy_example(tmp_path, port)
    run = Headless(config, tag)
    try:
        redis_spawn = run.wait_for(lambda e: kind_of(e, "spawn", "redis"))
        check = run.wait_for(
            lambda e: e["kind"] in ("hook_success", "hook_failure") and e.get("watcher") == "worker"
        )
        assert check["kind"] == "hook_success", check
        assert check["name"] == "before_start" and check["vetoed"] is False
        worker_spawn = run.wait_for(lambda e: kind_of(e, "spawn", "worker"))
        run.wait_for(
            lambda e: kind_of(e, "output", "worker") and e["line"].startswith("worker ready")
        )
        order = [
            e["kind"] + ":" + e.get("watcher", "")
            for e in run.seen
            if e["kind"] in ("spawn", "hook_success")
        ]
        assert order == [
            "spawn:redis",
            "hook_success:worker",
            "spawn:worker",
        ]  # priorities, then the hook
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        try:
            client.rpush("jobs", json.dumps({"id": 7, "numbers": [1, 2, 39]}))
            result = client.blpop(["results"], timeout=10)
        finally:
            client.close()
        assert result is not None and json.loads(result[1]) == {"id": 7, "sum": 42}
        run.wait_for(lambda e: kind_of(e, "output", "worker") and e["line"] == "job 7 done")
        assert alive(redis_spawn["pid"]) and alive(worker_spawn["pid"])

        run.process.send_signal(signal.SIGTERM)
        code, stderr = run.finish(20)
        assert code == 0, stderr
        stops = [e["watcher"] for e in run.seen if e["kind"] == "stop"]
        assert stops == ["worker", "redis"]  # the worker stops before the redis it depends on
        reaps = {e["watcher"]: e for e in run.seen if e["kind"] == "reap"}
        assert reaps["worker"]["exit_code"] == 0 and reaps["worker"]["process_status"] is None
    finally:
        run.kill()
    assert tagged_pids(tag) == []
    assert not alive(redis_spawn["pid"]) and not alive(worker_spawn["pid"])
    created = {p.name for p in config.parent.iterdir()} - {p.name for p in EXAMPLE.iterdir()}
    assert created <= {"__pycache__"}  # redis left no dump.rdb / appendonly files behind


@pytest.mark.timeout(60)
def test_redis_example_without_redis_vetoes_the_worker(tmp_path: Path, tag: str) -> None:
    config = copy_example(tmp_path, free_port(), redis_autostart=False)
    run = Headless(config, tag)
    try:
        code, stderr = run.finish(30)  # nothing left to run: tuiman ends on its own
    finally:
        run.kill()
    assert code == 1, stderr
    hooks = [e for e in run.seen if e["kind"] in ("hook_success", "hook_failure")]
    assert [(e["kind"], e["watcher"], e["name"], e["vetoed"]) for e in hooks] == [
        ("hook_success", "worker", "before_start", True),
    ]
    [down] = [e for e in run.seen if e["kind"] == "redis_down"]
    assert down["watcher"] == "worker" and "port" in down
    assert not [e for e in run.seen if e["kind"] in ("spawn", "start")]
    assert tagged_pids(tag) == []

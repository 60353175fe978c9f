"""Robustness of the socket protocol (docs/control-protocol.md#wire-format,
docs/reliability.md#bad-input-never-crashes-tuiman): bad input gets an error reply (or nothing) and
never disturbs the server; it keeps answering correct requests afterwards."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.control.ctlkit import Instance
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(120)

CONFIG = """
stats_interval = 0.2

[watchers.sleeper]
cmd = "sleep 300"
numprocesses = 2
"""


class RawClient:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> dict[str, Any]:
        line = self.file.readline()
        assert line, "connection closed"
        message: dict[str, Any] = json.loads(line)
        return message

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(request).encode() + b"\n")
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@contextmanager
def raw(path: Path) -> Iterator[RawClient]:
    client = RawClient(path)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def inst(start_tuiman: Callable[..., Instance], tuiman_dir: Path) -> Instance:
    instance = start_tuiman(tuiman_dir, CONFIG)
    wait_until_sync(lambda: len(instance.pids("sleeper")) == 2, what="two processes")
    return instance


def still_serving(inst: Instance) -> None:
    with raw(inst.socket) as client:
        reply = client.ask({"id": "after", "command": "status", "watcher": "sleeper"})
    assert reply["id"] == "after" and reply["ok"] is True
    assert reply["watchers"][0]["state"] == "active"
    assert inst.process.poll() is None


GARBAGE = [
    (b"garbage", "malformed JSON"),
    (b"\xff\xfe\x00binary\x80", "malformed JSON"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b'"a string"', "must be a JSON object"),
    (b"{}", "missing command"),
    (b'{"id": 3, "command": 5}', "missing command"),
    (b'{"id": 4, "command": "nope"}', "unknown command"),
    (b'{"id": 5, "command": "__class__"}', "unknown command"),
    (b'{"id": 6, "command": "status", "watcher": 7}', "watcher must be a string"),
    (b'{"id": 7, "command": "incr", "watcher": "sleeper", "n": "lots"}', "integer"),
    (b'{"id": 8, "command": "signal", "watcher": "sleeper", "signal": "EVAL"}', "unknown signal"),
    (b"[" * 200_000, "malformed JSON"),
    (b'{"id": 9, "command": "incr", "watcher": "sleeper", "n": ' + b"9" * 5000 + b"}", "JSON"),
]


def test_garbage_gets_error_replies(inst: Instance) -> None:
    with raw(inst.socket) as client:
        for line, expected in GARBAGE:
            client.send(line + b"\n")
            reply = client.reply()
            assert reply["ok"] is False, line[:60]
            assert expected in reply["error"], (line[:60], reply)
            assert "\n" not in reply["error"] and "Traceback" not in reply["error"]
        client.send(b"\n\n   \n")  # blank lines are ignored
        assert client.ask({"id": "same", "command": "list"}) == {
            "id": "same",
            "ok": True,
            "watchers": ["sleeper"],
        }
    still_serving(inst)


def test_nothing_over_the_socket_changes_what_runs(inst: Instance) -> None:
    with raw(inst.socket) as client:
        for key, value in (
            ("cmd", "rm -rf /"),
            ("hooks", {"before_start": "os.system"}),
            ("env", {"LD_PRELOAD": "/tmp/x.so"}),
            ("working_dir", "/"),
            ("shell", True),
        ):
            for command in ("set", "start", "restart", "reload", "incr"):
                request = {"id": 1, "command": command, "watcher": "sleeper", key: value}
                if command == "set":
                    request["numprocesses"] = 2
                reply = client.ask(request)
                assert reply["ok"] is False and "unknown arguments" in reply["error"]
    assert inst.watcher("sleeper")["cmd"] == "sleep 300"
    still_serving(inst)


def test_a_10_mib_line_is_refused_without_buffering_it(inst: Instance) -> None:
    baseline = inst.rss()
    with raw(inst.socket) as client:
        client.send(b'{"id": 1, "command": "list", "pad": "' + b"x" * (10 << 20) + b'"}\n')
        reply = client.reply()
        assert reply["ok"] is False and "longer than" in reply["error"]
        # the same connection carries on with the next line
        assert client.ask({"id": 2, "command": "list"})["ok"] is True
    with raw(inst.socket) as client:
        client.send(b"y" * (10 << 20))  # no newline at all, then hang up
    still_serving(inst)
    growth = inst.rss() - baseline
    assert growth < 6 << 20, f"RSS grew by {growth >> 20} MiB"


def test_half_a_request_then_disconnect(inst: Instance) -> None:
    for _ in range(20):
        with raw(inst.socket) as client:
            client.send(b'{"id": 1, "command": "sto')
    with raw(inst.socket) as client:  # hang up while a slow reply is being written
        client.send(b'{"id": 1, "command": "stats", "watcher": "sleeper"}\n')
    still_serving(inst)
    assert len(inst.pids("sleeper")) == 2


def test_many_concurrent_clients(inst: Instance) -> None:
    replies: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one_client(number: int) -> None:
        try:
            with raw(inst.socket) as client:
                reply = client.ask({"id": number, "command": "status"})
        except (OSError, AssertionError) as exc:  # a full backlog may refuse a connect
            reply = {"ok": False, "error": f"client: {exc}"}
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=one_client, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(replies) == 200
    assert sum(1 for r in replies if r["ok"]) >= 64
    assert all(
        r["ok"] or "too many connections" in r["error"] or "client:" in r["error"] for r in replies
    )
    still_serving(inst)


def test_connection_cap_then_recovery(inst: Instance) -> None:
    held = [RawClient(inst.socket) for _ in range(64)]
    try:
        for client in held:  # each is registered once it has answered
            assert client.ask({"id": 1, "command": "hello"})["ok"]
        with raw(inst.socket) as extra:
            reply = extra.reply()
            assert reply["ok"] is False and "too many connections" in reply["error"]
    finally:
        for client in held:
            client.close()
    wait_until_sync(inst.answers, what="a free connection slot")
    still_serving(inst)


def test_requests_on_one_connection_are_answered_by_id(inst: Instance) -> None:
    with raw(inst.socket) as client:
        batch = b"".join(
            json.dumps({"id": f"r{n}", "command": "status"}).encode() + b"\n" for n in range(40)
        )
        client.send(batch)
        ids = {client.reply()["id"] for _ in range(40)}
    assert ids == {f"r{n}" for n in range(40)}


def test_subscribe_streams_the_bus_and_stats_on_request(inst: Instance) -> None:
    with raw(inst.socket) as client:
        bad = client.ask({"id": 1, "command": "subscribe", "output": "yes"})
        assert bad["ok"] is False  # refused: still a request connection
        reply = client.ask({"id": 2, "command": "subscribe", "stats_stream": True})
        assert reply == {"id": 2, "ok": True, "stream": True}
        snapshot = client.reply()
        assert snapshot["kind"] == "snapshot" and snapshot["topic"] == "arbiter.snapshot"
        assert [w["name"] for w in snapshot["watchers"]] == ["sleeper"]
        deadline = time.monotonic() + 15
        while (event := client.reply())["kind"] != "stats":
            assert time.monotonic() < deadline
        assert event["watcher"] == "sleeper" and len(event["processes"]) == 2
        client.send(b"ignored while streaming\n")
        inst.request("stop", watcher="sleeper")
        while not ((event := client.reply())["kind"] == "state" and event["new"] == "stopped"):
            assert time.monotonic() < deadline + 15
    assert inst.request("status", watcher="sleeper")["ok"]


def test_hello_identifies_the_instance(inst: Instance) -> None:
    reply = inst.request("hello")
    assert reply["ok"] and reply["pid"] == inst.pid
    assert reply["config"] == str(inst.config.resolve())
    assert reply["socket"] == str(inst.socket)

"""Control-socket abuse (docs/control-protocol.md#where-the-socket-is,
docs/reliability.md#the-control-socket-is-not-a-way-in, F26), all at once against the server on the
core's loop: garbage, a 10 MB line, slowloris clients, 200 concurrent clients, abrupt disconnects
mid-request and mid-stream, and a subscriber that never reads, while a churn task SIGKILLs managed
processes. Supervision goes on (every kill reaped and replaced), the loop is never blocked, the
server keeps answering, and no connection, fd or memory is left behind.

The unit tests of each limit (and the other-uid checks) are in tests/control/; this is the
fault-injection view: abuse must not disturb anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import PY, LagProbe
from tests.support.procs import fd_count, rss_bytes, zombie_children
from tests.support.waiting import wait_until
from tuiman.control.connection import Limits
from tuiman.control.server import ControlServer, claim_instance
from tuiman.core.events import Kind
from tuiman.core.supervision.arbiter import Arbiter

pytestmark = pytest.mark.timeout(120)


class Client:
    """A blocking client in a thread of the test (never on the core's loop)."""

    def __init__(self, path: Path, timeout: float = 15.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes | None:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def reply(self) -> dict[str, Any]:
        line = self.line()
        assert line is not None, "connection closed instead of a reply"
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(json.dumps(request).encode() + b"\n")
        return self.reply()

    def reset(self) -> None:
        """Hang up with a TCP-style reset: unread data is discarded, no FIN handshake."""
        self.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


CHATTY = (
    "import time\n"
    "while True:\n"
    "    print('output for the streams', flush=True)\n"
    "    time.sleep(0.0005)"
)

GARBAGE = [
    b"\xff\xfe\x00garbage",
    b"{",
    b"[]",
    b'"a string"',
    b"null",
    b'{"command": 5}',
    b'{"command": "no-such-command"}',
    b'{"command": "status", "watcher": 123}',
    b'{"command": "signal", "watcher": "sentinel", "signal": "os.system"}',
    b'{"command": "incr", "watcher": "sentinel", "n": 1e308}',
    b'{"command": "set", "watcher": "sentinel", "numprocesses": 99999999}',
    b'{"command": "start", "watcher": "sentinel", "cmd": "rm -rf /"}',
    b"[" * 100_000,
    b'{"command": "' + b"\xc3\x28" * 1000 + b'"}',
]


def garbage_client(path: Path) -> None:
    with contextlib.closing(Client(path)) as client:
        for line in GARBAGE:
            client.send(line + b"\n")
            reply = client.reply()
            assert reply["ok"] is False, line[:40]
            assert "\n" not in reply["error"] and "Traceback" not in reply["error"]
        assert client.ask({"command": "list"})["ok"] is True  # the connection still works


def huge_line_client(path: Path) -> None:
    with contextlib.closing(Client(path)) as client:
        client.send(b'{"command": "list", "pad": "' + b"x" * 10_000_000 + b'"}\n')
        reply = client.reply()
        assert reply["ok"] is False and "longer than" in reply["error"]
        assert client.ask({"command": "list"})["ok"] is True
    client = Client(path)
    client.send(b"y" * 10_000_000)  # no newline at all, then a reset
    client.reset()


def slowloris_client(path: Path) -> None:
    """One byte at a time, then silence: the idle timeout ends it; the server never waits."""
    with contextlib.closing(Client(path)) as client:
        for byte in b'{"command": "li':
            client.send(bytes([byte]))
            time.sleep(0.02)
        reply = client.reply()  # after idle_timeout of silence
        assert reply["ok"] is False and "idle" in reply["error"]
        assert client.line() is None  # and the server hung up


def quick_client(path: Path, number: int) -> str:
    try:
        with contextlib.closing(Client(path)) as client:
            reply = client.ask({"id": number, "command": "status"})
    except OSError as exc:  # a full listen backlog may refuse a connect
        return f"client: {exc}"
    if reply["ok"]:
        assert reply["id"] == number
        return "ok"
    assert "too many connections" in reply["error"], reply
    return "refused"


def abrupt_clients(path: Path) -> None:
    for _ in range(20):
        client = Client(path)
        client.send(b'{"command": "status"}\n{"command": "list"}\n{"command": "sta')
        client.reset()  # mid-request, replies unread
    for _ in range(5):
        client = Client(path)
        client.send(b'{"command": "subscribe"}\n')
        reply = client.reply()
        assert reply["ok"] is True or "too many connections" in reply["error"], reply
        client.reset()  # mid-stream


def never_reading_subscriber(path: Path, done: threading.Event) -> None:
    """Subscribes with output and never reads: dropped after drain_timeout, never blocks."""
    client = Client(path)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.send(b'{"command": "subscribe", "output": true}\n')
    done.wait(60)
    client.close()


@pytest.mark.timeout(180)
async def test_socket_abuse_never_disturbs_supervision(
    subreaper: set[int], arbiter_factory: Callable[[str], Arbiter], tag: str, lag: LagProbe
) -> None:
    arbiter = arbiter_factory(
        f"""
        [tuiman]
        control_socket = "ctl.sock"
        [watchers.sentinel]
        cmd = "sleep 300"
        numprocesses = 3
        env = {{ TEST_TAG = "{tag}" }}
        [watchers.sentinel.restart]
        flap_attempts = 10000
        backoff_max = 0.1
        [watchers.chatty]
        cmd = [{PY!r}, "-c", {json.dumps(CHATTY)}]
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    # Room for every abuser at once (the cap itself is tested in tests/control).
    limits = Limits(idle_timeout=1.5, drain_timeout=1.0, stream_queue=2000, max_connections=256)
    server = ControlServer(arbiter, claim_instance(arbiter.config), limits)
    await server.start()
    path = server.socket_path
    subscription = arbiter.bus.subscribe(maxsize=500_000, snapshot=False)
    kills: list[int] = []
    done = threading.Event()

    async def churn() -> None:
        sentinel = arbiter.get("sentinel")
        while not done.is_set():
            victims = [pid for pid, p in sentinel.processes.items() if p.alive]
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                kills.append(victims[0])
            await asyncio.sleep(0.05)

    async def poll_status() -> list[float]:
        latencies = []
        while not done.is_set():
            started = time.monotonic()
            reply = await asyncio.to_thread(quick_client, path, 0)
            latencies.append(time.monotonic() - started)
            assert reply in ("ok", "refused")
            await asyncio.sleep(0.05)
        return latencies

    try:
        await arbiter.start()
        fds_before = fd_count()  # the children's pipes and pidfds included
        rss_before = rss_bytes()
        churner = asyncio.ensure_future(churn())
        poller = asyncio.ensure_future(poll_status())
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=80) as pool:

            def submit(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
                return asyncio.wrap_future(pool.submit(fn, *args), loop=loop)

            jobs = [
                submit(never_reading_subscriber, path, done),
                submit(garbage_client, path),
                submit(huge_line_client, path),
                *(submit(slowloris_client, path) for _ in range(3)),
                submit(abrupt_clients, path),
                *(submit(quick_client, path, n) for n in range(200)),
            ]
            results = await asyncio.wait_for(asyncio.gather(*jobs[1:]), 90)
            quick = results[-200:]
            assert quick.count("ok") >= 190, quick
            # the subscriber that never reads has been dropped (drain_timeout), not waited for
            await wait_until(lambda: not server.connections, timeout=10)
            done.set()
            await asyncio.wait_for(jobs[0], 10)
        await churner
        latencies = await poller
        # the server is still there, and answers at once
        assert await asyncio.to_thread(quick_client, path, 1) == "ok"
        assert max(latencies) < 2.0, max(latencies)
        # every connection is gone: no task, no fd, no memory left behind
        await wait_until(lambda: not server.connections, timeout=10)
        await wait_until(lambda: fd_count() <= fds_before + 3, timeout=10)
        growth = rss_bytes() - rss_before
        assert growth < 64 * 1024 * 1024, f"RSS grew by {growth >> 20} MiB"
        # supervision never paused: every kill was reaped (once) and replaced
        await wait_until(lambda: len(arbiter.get("sentinel").processes) == 3, timeout=10)
        reaps = [
            e.payload["pid"]
            for e in subscription.drain()
            if e.kind == Kind.REAP and e.watcher == "sentinel"
        ]
        assert sorted(reaps) == sorted(kills)
        assert len(kills) > 20
        assert subscription.resyncs == 0
        lag.check()
    finally:
        done.set()
        await server.close()
        server.endpoint.close()
        await asyncio.wait_for(arbiter.stop_all(), 20)
    await wait_until(lambda: not zombie_children() - subreaper, timeout=5)

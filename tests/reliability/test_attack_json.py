"""Strict JSON on every JSON channel (docs/reliability.md#hostile-output-files-and-numbers),
against a real `tuiman --headless --json`:

- a control request carrying `NaN`, `Infinity`, `-Infinity` or `1e999` (as its id or an
  argument) is refused with an error that says so, in a reply that is valid JSON, and nothing is
  done;
- a hook's custom event with non-finite floats in its payload is refused when it is published
  (the hook's failure, docs/hooks.md), and that failure reaches headless `--json`, the socket's
  event stream and `tuiman ctl --json` as valid JSON;
- the writer every channel uses turns a non-finite float that got past that check into `null`.

"Valid" is checked with a reader that refuses NaN and the infinities, as jq or a browser would.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.control.ctlkit import BASE_ENV, TUIMAN, instances
from tests.reliability.support import write_hook_module
from tests.support.procs import kill_quietly
from tests.support.waiting import wait_until_sync
from tuiman import strict_json

pytestmark = pytest.mark.timeout(60)

HOOKS = """
def odd_numbers(watcher, arbiter, hook_name, **kwargs):
    arbiter.publish(
        "odd_numbers",
        watcher=watcher.name,
        nan=float("nan"),
        nested={"up": [float("inf"), 1.5], "down": float("-inf")},
    )
    return True
"""


def strict_loads(line: str | bytes) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in {line!r}: not JSON")

    return json.loads(line, parse_constant=refuse)


def strict_lines(text: str) -> list[dict[str, Any]]:
    return [strict_loads(line) for line in text.splitlines() if line.strip()]


class RawClient:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(15)
        self.sock.connect(str(path))
        self.buffer = b""

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def ask(self, raw: bytes) -> dict[str, Any]:
        self.sock.sendall(raw + b"\n")
        reply: dict[str, Any] = strict_loads(self.line())
        return reply

    def close(self) -> None:
        self.sock.close()


def is_odd_numbers(event: dict[str, Any]) -> bool:
    """The hook's failure: its event with NaN and the infinities was refused at publish."""
    return event.get("kind") == "hook_failure" and event.get("name") == "after_start"


def assert_nulls(event: dict[str, Any]) -> None:
    assert "nan" in event["error"] and "not JSON" in event["error"], event


def test_the_writer_turns_non_finite_floats_into_null() -> None:
    text = strict_json.dumps({"nan": float("nan"), "nested": {"up": [float("inf"), 1.5]}})
    assert strict_loads(text) == {"nan": None, "nested": {"up": [None, 1.5]}}


def test_nan_and_infinity_are_refused_on_input_and_never_written(tmp_path: Path, tag: str) -> None:
    module = write_hook_module(tmp_path, HOOKS)
    toml = f"""
        [watchers.web]
        cmd = ["sleep", "300"]
        env = {{ TEST_TAG = "{tag}" }}
        # ignore_failure: the refused publish is reported, and the watcher keeps running
        hooks = {{ after_start = {{ path = "{module}.odd_numbers", ignore_failure = true }} }}
        """
    with instances() as start:
        instance = start(tmp_path, toml)
        # headless --json: every line strict, the odd payload written with nulls
        wait_until_sync(lambda: '"hook_failure"' in instance.stdout(), timeout=15)
        assert_nulls(next(e for e in strict_lines(instance.stdout()) if is_odd_numbers(e)))

        subscribers = instance.request("hello")["subscribers"]  # headless' own, and the core's
        client = RawClient(instance.socket)
        try:
            for bad in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
                reply = client.ask(b'{"id": %s, "command": "hello"}' % bad)
                assert reply["ok"] is False and reply["id"] is None, reply
                assert "JSON" in reply["error"] or "out of range" in reply["error"], reply
                reply = client.ask(
                    b'{"id": 7, "command": "incr", "watcher": "web", "nb": %s}' % bad
                )
                assert reply["ok"] is False, reply
            assert len(instance.watcher("web")["processes"]) == 1  # no incr went through

            # the socket's event stream: the next odd event, after a restart, is strict too
            client.sock.sendall(b'{"id": 1, "command": "subscribe", "output": false}\n')
            assert strict_loads(client.line())["ok"] is True
            assert instance.request("restart", watcher="web")["ok"]
            while not is_odd_numbers(event := strict_loads(client.line())):
                pass
            assert_nulls(event)
        finally:
            client.close()

        # tuiman ctl --json: the event stream it prints, and status
        wait_until_sync(lambda: instance.request("hello")["subscribers"] == subscribers)
        events = subprocess.Popen(
            [*TUIMAN, "ctl", "--socket", str(instance.socket), "events", "--json", "--no-output"],
            stdout=subprocess.PIPE,
            env=BASE_ENV,
            start_new_session=True,
        )
        try:
            assert events.stdout is not None
            wait_until_sync(lambda: instance.request("hello")["subscribers"] > subscribers)
            assert instance.request("restart", watcher="web")["ok"]
            while not is_odd_numbers(event := strict_loads(events.stdout.readline())):
                pass
            assert_nulls(event)
        finally:
            kill_quietly(events.pid)
            events.wait(10)
            assert events.stdout is not None
            events.stdout.close()
        status = instance.ctl("status", "--json")
        assert status.returncode == 0, status
        strict_lines(status.stdout)

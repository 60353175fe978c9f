"""Hooks used as an attacker would (docs/reliability.md#hooks-cannot-break-tuimans-streams):
events no stream can carry, events that pose as tuiman's own, and hooks that print.

Every consumer must keep getting plain, strict JSON: a bad payload is the hook's failure, never
a broken stream, and what a hook prints is a `hook_output` event, never a line of `--json`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import LagProbe, headless, write_hook_module
from tests.reliability.test_hook_faults import assert_supervises
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

pytestmark = pytest.mark.timeout(60)

PUBLISHERS = """
import enum

class Colour(enum.StrEnum):
    RED = "red"

def self_referencing(watcher, arbiter, hook_name, **kwargs):
    loop = {"name": "loop"}
    loop["self"] = loop
    arbiter.publish("selfref", data=loop)
    return True

def poses_as_state(watcher, arbiter, hook_name, **kwargs):
    arbiter.publish("state", watcher=watcher.name, old="x")
    return True

def not_json(watcher, arbiter, hook_name, **kwargs):
    arbiter.publish("nan", value=float("nan"))
    return True

def fine(watcher, arbiter, hook_name, **kwargs):
    arbiter.publish("note", watcher=watcher.name, colour=Colour.RED, pair=(1, 2), deep={"a": [1]})
    return True

def bad_stats(watcher, arbiter, hook_name, pid, stats, **kwargs):
    stats["me"] = stats
    return True
"""


def strict_json(line: str) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    parsed: dict[str, Any] = json.loads(line, parse_constant=refuse)
    return parsed


def test_bad_custom_events_are_hook_failures_and_the_json_stream_goes_on(
    tmp_path: Path, tag: str
) -> None:
    module = write_hook_module(tmp_path, PUBLISHERS)
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
        [env]
        TEST_TAG = "{tag}"
        [watchers.selfref]
        cmd = "sleep 300"
        hooks = {{ after_start = {{ path = "{module}.self_referencing", ignore_failure = true }} }}
        [watchers.shadow]
        cmd = "sleep 300"
        priority = -1
        hooks = {{ after_start = {{ path = "{module}.poses_as_state", ignore_failure = true }} }}
        [watchers.nan]
        cmd = "sleep 300"
        priority = -2
        hooks = {{ after_start = {{ path = "{module}.not_json", ignore_failure = true }} }}
        [watchers.fine]
        cmd = "sleep 300"
        priority = -3
        hooks = {{ after_start = "{module}.fine" }}
        """.replace("\n        ", "\n")
    )
    with headless(config, json=True, tag=tag) as run:
        run.wait_line(lambda line: '"kind": "note"' in line)
        run.wait_line(lambda line: '"kind": "start"' in line and '"watcher": "fine"' in line)
        run.send(signal.SIGTERM)
        assert run.wait() == 0, run.err[-10:]
    events = [strict_json(line) for line in run.out]  # every line, before and after the bad ones
    failures = {e["watcher"]: e["error"] for e in events if e["kind"] == Kind.HOOK_FAILURE}
    assert "refers to itself" in failures["selfref"]
    assert "one of tuiman's own kinds" in failures["shadow"]
    assert "nan" in failures["nan"]
    assert not any(e["kind"] in ("selfref", "nan") for e in events)
    states = [e for e in events if e["kind"] == Kind.STATE]
    assert all("new" in e for e in states), states  # no `state` event without its keys
    [note] = [e for e in events if e["kind"] == "note"]
    assert (note["colour"], note["pair"], note["deep"]) == ("red", [1, 2], {"a": [1]})
    assert any(e["kind"] == Kind.STOP and e.get("watcher") == "fine" for e in events)


async def test_what_an_extended_stats_hook_leaves_is_checked(
    arbiter_factory: Any, tmp_path: Path
) -> None:
    module = write_hook_module(tmp_path, PUBLISHERS)
    arbiter: Arbiter = arbiter_factory(
        f"""
        [watchers.stats]
        cmd = "sleep 300"
        hooks = {{ extended_stats = "{module}.bad_stats" }}
        """
    )
    subscription = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    reply = await execute(arbiter, {"command": "stats", "watcher": "stats", "extended": True})
    json.dumps(reply, allow_nan=False)  # the reply is plain data: nothing the hook left in it
    failures = [e for e in subscription.drain() if e.kind == Kind.HOOK_FAILURE]
    assert len(failures) == 1
    assert "refers to itself" in failures[0].payload["error"]


PRINTERS = """
import sys

def prints(watcher, arbiter, hook_name, **kwargs):
    print("hello from", hook_name)
    print("to stderr", file=sys.stderr)
    sys.stdout.write("no newline")
    return True

async def prints_async(watcher, arbiter, hook_name, **kwargs):
    print("async hello")
    return True
"""


def test_what_a_hook_prints_is_an_event_never_a_json_line(tmp_path: Path, tag: str) -> None:
    module = write_hook_module(tmp_path, PRINTERS)
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
        [env]
        TEST_TAG = "{tag}"
        [watchers.printer]
        cmd = "sleep 300"
        hooks = {{ before_start = "{module}.prints", after_start = "{module}.prints_async" }}
        """.replace("\n        ", "\n")
    )
    with headless(config, json=True, tag=tag) as run:
        run.wait_line(lambda line: '"kind": "start"' in line)
        run.wait_line(lambda line: "async hello" in line)
        run.send(signal.SIGTERM)
        assert run.wait() == 0, run.err[-10:]
    events = [strict_json(line) for line in run.out]
    printed = [(e["name"], e["stream"], e["line"]) for e in events if e["kind"] == "hook_output"]
    assert printed == [
        ("before_start", "stdout", "hello from before_start"),
        ("before_start", "stderr", "to stderr"),
        ("before_start", "stdout", "no newline"),
        ("after_start", "stdout", "async hello"),
    ]
    assert not any("hello" in line for line in run.err)


ISOLATED = """
import os, re, signal

def backtracks(watcher, arbiter, hook_name, **kwargs):
    re.match(r"(a+)+$", "a" * 40 + "b")  # minutes in C code, holding the GIL
    return True

def uses_the_proxy(watcher, arbiter, hook_name, **kwargs):
    print("worker", os.getpid(), watcher.status(), len(watcher.pids))
    sent = watcher.send_signal(watcher.pids[0], signal.SIGCONT)
    arbiter.publish("proxied", watcher=watcher.name, sent=sent, worker=os.getpid())
    return watcher.incr(1) == 2

def nested_signal_hook(watcher, arbiter, hook_name, pid, signum, **kwargs):
    print("before_signal", signum)
    return True
"""


async def test_an_isolated_hook_stuck_in_c_code_is_killed_and_never_freezes_tuiman(
    arbiter_factory: Any, tmp_path: Path, lag: LagProbe
) -> None:
    module = write_hook_module(tmp_path, ISOLATED)
    arbiter: Arbiter = arbiter_factory(
        f"""
        [watchers.sentinel]
        cmd = "sleep 300"
        [watchers.regex]
        cmd = "sleep 300"
        [watchers.regex.hooks]
        before_start = {{ path = "{module}.backtracks", isolated = true, timeout = 1.0 }}
        [watchers.proxy]
        cmd = "sleep 300"
        isolated_hooks = true
        [watchers.proxy.hooks]
        after_start = "{module}.uses_the_proxy"
        before_signal = "{module}.nested_signal_hook"
        """
    )
    recorder = arbiter.bus.subscribe(maxsize=100_000, snapshot=False)
    await asyncio.wait_for(arbiter.start(), 20)
    events = recorder.drain()
    [timed_out] = [e for e in events if e.kind == Kind.HOOK_FAILURE and e.watcher == "regex"]
    assert timed_out.payload["error"] == "timed out after 1.0s"
    assert arbiter.get("regex").state == WatcherState.STOPPED
    worker = arbiter.hooks.isolated.worker("regex")
    assert worker.pid is None  # killed with its process group
    lag.check()  # the loop kept ticking while the hook spun in C code
    await assert_supervises(arbiter)

    # The proxy: reads from the snapshot, commands run by tuiman, output and events come back.
    await wait_until(lambda: arbiter.get("proxy").numprocesses == 2)
    await wait_until(lambda: len(arbiter.get("proxy").processes) == 2)
    events += recorder.drain()
    proxy = [e for e in events if e.watcher == "proxy"]
    [published] = [e for e in proxy if e.kind == "proxied"]
    assert published.payload["sent"] is True
    assert published.payload["worker"] != os.getpid()
    assert any(e.kind == Kind.SIGNAL and e.payload["signum"] == signal.SIGCONT for e in proxy)
    printed = [e.payload["line"] for e in proxy if e.kind == "hook_output"]
    assert printed[0].endswith("starting 1")
    assert f"before_signal {int(signal.SIGCONT)}" in printed
    hooks = [(e.kind, e.payload["name"]) for e in proxy if e.kind.startswith("hook_")]
    assert (Kind.HOOK_SUCCESS, "before_signal") in hooks
    assert (Kind.HOOK_SUCCESS, "after_start") in hooks
    assert arbiter.get("proxy").state == WatcherState.ACTIVE
    lag.check()

"""Misbehaving children (docs/supervision.md#exit-reap-and-respawn, docs/supervision.md#stop,
docs/output-and-stats.md#output, docs/reliability.md#misbehaving-children-are-contained): they
ignore SIGTERM, fork and exit, escape with `setsid`, flood their output, print invalid UTF-8, close
their stdout and keep running, crash in a tight loop, or exit by the hundred in the same
millisecond. All handled: every exit is reaped exactly once, no zombie is left (Z-state children of
this process, which is a child subreaper like tuiman), no tagged process survives the stop, and the
core loop is never blocked for more than MAX_LOOP_LAG.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import PY, LagProbe, headless
from tests.support.procs import alive, rss_bytes, state, tagged_pids, zombie_children
from tests.support.waiting import wait_until
from tuiman.core.events import Event, Kind
from tuiman.core.states import UNEXISTING, WatcherState
from tuiman.core.supervision.arbiter import Arbiter

pytestmark = pytest.mark.timeout(90)


class Recorder:
    def __init__(self, arbiter: Arbiter, maxsize: int = 200_000) -> None:
        self.subscription = arbiter.bus.subscribe(maxsize=maxsize, snapshot=False)
        self.events: list[Event] = []

    def all(self) -> list[Event]:
        self.events.extend(self.subscription.drain())
        return self.events

    def of(self, kind: str, watcher: str | None = None) -> list[Event]:
        return [
            e for e in self.all() if e.kind == kind and (watcher is None or e.watcher == watcher)
        ]

    async def wait_for(
        self, kind: str, watcher: str, timeout: float = 5.0, after: int = 0
    ) -> Event:
        """The first `kind` event of `watcher` at index >= `after` of the record."""

        async def find() -> Event:
            while True:
                for event in self.all()[after:]:
                    if event.kind == kind and event.watcher == watcher:
                        return event
                self.events.append(await self.subscription.get())

        return await asyncio.wait_for(find(), timeout)


def read_pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(word) for word in path.read_text().split()]


async def assert_clean(tag: str, baseline: set[int], lag: LagProbe) -> None:
    """Nothing of the scenario is left: no tagged process, no zombie child, no blocked loop."""
    await wait_until(lambda: tagged_pids(tag) == [], timeout=5)
    await wait_until(lambda: not zombie_children() - baseline, timeout=5)
    lag.check()


def assert_reaped_once(recorder: Recorder, watcher: str) -> list[Event]:
    spawned = [e.payload["pid"] for e in recorder.of(Kind.SPAWN, watcher)]
    reaps = recorder.of(Kind.REAP, watcher)
    counts = Counter(e.payload["pid"] for e in reaps)
    assert all(count == 1 for count in counts.values()), counts.most_common(3)
    assert sorted(counts) == sorted(spawned), "every spawned process has exactly one reap"
    return reaps


async def test_child_ignoring_sigterm_is_killed_with_its_group(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.stubborn]
        cmd = ["sh", "-c", "trap '' TERM; sleep 300 & sleep 300 & echo ready; wait; wait"]
        env = {{ TEST_TAG = "{tag}" }}
        numprocesses = 2
        graceful_timeout = 0.5
        """
    )
    recorder = Recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: len(tagged_pids(tag)) == 6)
    await wait_until(lambda: len(recorder.of(Kind.OUTPUT, "stubborn")) == 2)
    # killing one process (no watcher stop) takes its whole group down with it
    watcher = arbiter.get("stubborn")
    leader = next(iter(watcher.processes))
    group = [pid for pid in tagged_pids(tag) if os.getpgid(pid) == leader]
    assert len(group) == 3
    assert (await asyncio.wait_for(watcher.kill_process(leader), 10)).ok
    assert not [pid for pid in group if alive(pid)]
    await wait_until(lambda: len(tagged_pids(tag)) == 6)  # the slot respawned
    started = time.monotonic()
    await asyncio.wait_for(arbiter.get("stubborn").stop(), 10)
    assert 0.5 <= time.monotonic() - started < 3.0
    kills = [e.payload["signum"] for e in recorder.of(Kind.KILL, "stubborn")]
    assert Counter(kills) == {signal.SIGTERM: 3, signal.SIGKILL: 3}
    kinds = [e.kind for e in recorder.all() if e.watcher == "stubborn"]
    assert kinds.index(Kind.STOP) > max(i for i, k in enumerate(kinds) if k == Kind.REAP)
    reaps = assert_reaped_once(recorder, "stubborn")
    assert all(e.payload["exit_code"] == -signal.SIGKILL for e in reaps)
    assert all(e.payload["process_status"] is None for e in reaps)  # tuiman-caused
    await assert_clean(tag, subreaper, lag)


async def test_stopped_child_gets_sigcont_and_dies_gracefully(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.frozen]
        cmd = ["sh", "-c", "kill -STOP $$; sleep 300"]
        env = {{ TEST_TAG = "{tag}" }}
        graceful_timeout = 20
        """
    )
    await arbiter.start()
    pid = next(iter(arbiter.get("frozen").processes))
    await wait_until(lambda: state(pid) == "T")
    started = time.monotonic()
    await asyncio.wait_for(arbiter.get("frozen").stop(), 10)
    assert time.monotonic() - started < 5.0  # SIGTERM + SIGCONT, long before SIGKILL
    assert arbiter.get("frozen").last_exit_codes[1] == -signal.SIGTERM
    await assert_clean(tag, subreaper, lag)


async def test_children_that_fork_and_exit_leave_nothing_behind(
    subreaper: set[int], arbiter_factory: Any, tag: str, tmp_path: Path, lag: LagProbe
) -> None:
    """The leader exits at once while two grandchildren hold its pipes (F8): the exit is seen
    at once, the grandchildren are stopped before the slot respawns, and each exit is reaped
    exactly once."""
    grandchildren = tmp_path / "grandchildren"
    record = f"echo $! >> {grandchildren}"
    script = f"sleep 300 & {record}; sleep 300 & {record}; exit 0"
    arbiter = arbiter_factory(
        f"""
        [watchers.forker]
        cmd = ["sh", "-c", {json.dumps(script)}]
        env = {{ TEST_TAG = "{tag}" }}
        numprocesses = 2
        graceful_timeout = 1
        [watchers.forker.restart]
        backoff_initial = 0.01
        backoff_max = 0.05
        flap_attempts = 100
        """
    )
    recorder = Recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: len(recorder.of(Kind.SPAWN, "forker")) >= 8, timeout=20)
    first = recorder.of(Kind.SPAWN, "forker")[0]
    first_reap = next(
        e for e in recorder.of(Kind.REAP, "forker") if e.payload["pid"] == first.payload["pid"]
    )
    assert first_reap.time - first.time < 0.5, "exit noticed although the pipes stayed open"
    # never more than the live slots' grandchildren at once (2 slots x (leader + 2))
    assert len(tagged_pids(tag)) <= 6
    await asyncio.wait_for(arbiter.get("forker").stop(), 15)
    assert_reaped_once(recorder, "forker")
    recorded = read_pids(grandchildren)
    assert len(recorded) >= 10
    assert not [pid for pid in recorded if alive(pid)]
    await assert_clean(tag, subreaper, lag)


async def test_setsid_escapees_are_killed_when_their_watcher_stops(
    subreaper: set[int], arbiter_factory: Any, tag: str, tmp_path: Path, lag: LagProbe
) -> None:
    """F1: a double fork into a new session escapes `killpg`; tuiman still finds and kills
    it (and what it forked) within graceful_timeout + 1 s of the stop."""
    escapees = tmp_path / "escapees"
    inner = (
        f"sleep 300 & echo $! >> {escapees}; trap '' TERM; sleep 300 & echo $! >> {escapees}; wait"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.escaper]
        cmd = ["sh", "-c", "setsid sh -c '{inner}' & sleep 300"]
        env = {{ TEST_TAG = "{tag}" }}
        numprocesses = 2
        graceful_timeout = 1
        [watchers.bystander]
        cmd = "sleep 300"
        env = {{ TEST_TAG = "{tag}-bystander" }}
        """
    )
    await arbiter.start()
    await wait_until(lambda: len(read_pids(escapees)) == 4)
    escaped = read_pids(escapees)
    assert all(
        os.getsid(pid) != os.getsid(leader)
        for pid in escaped
        for leader in arbiter.get("escaper").processes
    )
    started = time.monotonic()
    await asyncio.wait_for(arbiter.get("escaper").stop(), 10)
    await wait_until(lambda: not [pid for pid in escaped if alive(pid)], timeout=2.5)
    assert time.monotonic() - started < 1 + 1 + 0.5
    # the other watcher's processes were left alone
    assert len(tagged_pids(f"{tag}-bystander")) == 1
    assert arbiter.get("bystander").state == WatcherState.ACTIVE
    await asyncio.wait_for(arbiter.get("bystander").stop(), 10)
    await assert_clean(tag, subreaper, lag)
    assert tagged_pids(f"{tag}-bystander") == []


async def test_group_of_fifty_killed_at_once_is_reaped_without_zombies(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.crowd]
        cmd = ["sh", "-c", "for i in $(seq 50); do sleep 300 & done; wait"]
        env = {{ TEST_TAG = "{tag}" }}
        graceful_timeout = 2
        """
    )
    recorder = Recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: len(tagged_pids(tag)) == 51)
    leader = next(iter(arbiter.get("crowd").processes))
    mark = len(recorder.all())
    os.killpg(leader, signal.SIGKILL)
    reap = await recorder.wait_for(Kind.REAP, "crowd", after=mark)
    assert reap.payload["pid"] == leader and reap.payload["process_status"] == UNEXISTING
    await recorder.wait_for(Kind.SPAWN, "crowd", after=mark)
    await wait_until(lambda: len(tagged_pids(tag)) == 51)  # the replacement and its crowd
    await wait_until(lambda: not zombie_children() - subreaper, timeout=5)
    await asyncio.wait_for(arbiter.get("crowd").stop(), 10)
    await assert_clean(tag, subreaper, lag)


async def test_ten_megabytes_without_a_newline(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    script = (
        "import sys, time; sys.stdout.write('x' * 10_000_000); sys.stdout.flush(); "
        "print(); print('after', flush=True); time.sleep(300)"
    )
    arbiter = arbiter_factory(
        f"""
        [tuiman]
        output_bytes = 1048576
        [watchers.flood]
        cmd = [{PY!r}, "-c", {script!r}]
        env = {{ TEST_TAG = "{tag}" }}
        [watchers.sentinel]
        cmd = "sleep 300"
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    # A slow subscriber with a small queue: it loses output, never a lifecycle event.
    slow = arbiter.bus.subscribe(maxsize=100, snapshot=False)
    watcher = arbiter.get("flood")
    before = rss_bytes()
    await arbiter.start()
    await wait_until(
        lambda: any(line.text == "after" for line in watcher.output.lines()), timeout=30
    )
    growth = rss_bytes() - before
    kept = watcher.output.lines()
    pieces = [line for line in kept if line.text.startswith("x")]
    assert pieces and all(len(line.text) <= 65536 for line in pieces)
    assert all(line.partial for line in pieces[:-1])
    assert sum(len(line.text) for line in kept) <= 1048576  # the ring buffer's byte cap
    assert growth < 32 * 1024 * 1024, f"RSS grew by {growth} bytes"
    assert watcher.processes and all(p.alive for p in watcher.processes.values())
    events = slow.drain()
    assert any(e.kind == Kind.DROPPED for e in events)
    assert not any(e.kind == Kind.RESYNC for e in events)
    await asyncio.wait_for(arbiter.stop_all(), 10)
    await assert_clean(tag, subreaper, lag)


async def test_invalid_utf8_becomes_replacement_characters(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    script = (
        r"printf 'ok\n\210\377 bad\n\342\202 half\n\000nul\n'; printf 'tail\342' >&2; sleep 300"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.binary]
        cmd = ["sh", "-c", '''{script}''']
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    recorder = Recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: len(recorder.of(Kind.OUTPUT, "binary")) == 4)
    pid = next(iter(arbiter.get("binary").processes))
    os.kill(pid, signal.SIGKILL)  # closes stderr: its unterminated line is flushed
    await wait_until(lambda: len(recorder.of(Kind.OUTPUT, "binary")) == 5)
    lines = {
        e.payload["stream"] + ":" + e.payload["line"] for e in recorder.of(Kind.OUTPUT, "binary")
    }
    assert lines == {
        "stdout:ok",
        "stdout:\ufffd\ufffd bad",
        "stdout:\ufffd half",
        "stdout:\x00nul",
        "stderr:tail\ufffd",
    }
    for event in recorder.of(Kind.OUTPUT, "binary"):
        json.dumps(event.to_dict(), ensure_ascii=False).encode("utf-8")  # no lone surrogates
    await asyncio.wait_for(arbiter.get("binary").stop(), 10)
    await assert_clean(tag, subreaper, lag)


def test_invalid_utf8_keeps_headless_json_valid(tmp_path: Path, tag: str) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[watchers.binary]
cmd = ["sh", "-c", '''printf '\\210\\377 bad\\n'; echo done; sleep 300''']
env = {{ TEST_TAG = "{tag}" }}
graceful_timeout = 5
"""
    )
    with headless(config, tag=tag, json=True) as run:
        run.wait_line(lambda line: '"done"' in line)
        run.send(signal.SIGTERM)
        assert run.wait() == 0
        records = [json.loads(line) for line in run.out]
        assert {"kind": "output", "line": "\ufffd\ufffd bad"}.items() <= next(
            r for r in records if r["kind"] == "output"
        ).items()
    assert tagged_pids(tag) == []


async def test_child_closing_its_stdout_early_is_still_supervised(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.mute]
        cmd = ["sh", "-c", "echo bye; exec >&- 2>&-; sleep 300"]
        env = {{ TEST_TAG = "{tag}" }}
        numprocesses = 2
        graceful_timeout = 5
        """
    )
    recorder = Recorder(arbiter)
    await arbiter.start()
    watcher = arbiter.get("mute")
    await wait_until(lambda: all(not p.streams_open for p in watcher.processes.values()))
    assert len(recorder.of(Kind.OUTPUT, "mute")) == 2
    assert not recorder.of(Kind.REAP, "mute")  # EOF on the pipes is not an exit
    assert watcher.state == WatcherState.ACTIVE and all(p.alive for p in watcher.processes.values())
    victim = next(iter(watcher.processes))
    mark = len(recorder.all())
    os.kill(victim, signal.SIGKILL)
    reap = await recorder.wait_for(Kind.REAP, "mute", after=mark)
    assert reap.payload["pid"] == victim
    started = time.monotonic()
    await asyncio.wait_for(watcher.stop(), 10)
    assert time.monotonic() - started < 2.0  # SIGTERM works: no wait for a pipe that is gone
    assert_reaped_once(recorder, "mute")
    await assert_clean(tag, subreaper, lag)


async def test_tight_exit_loop_is_throttled(
    subreaper: set[int], arbiter_factory: Any, tag: str, lag: LagProbe
) -> None:
    """`true` with the default restart policy: a handful of spawns, then a flapping pause."""
    arbiter = arbiter_factory(
        f"""
        [watchers.loop]
        cmd = "true"
        env = {{ TEST_TAG = "{tag}" }}
        """
    )
    recorder = Recorder(arbiter)
    await arbiter.start()
    flapping = await recorder.wait_for(Kind.FLAPPING, "loop")
    assert arbiter.get("loop").state == WatcherState.FLAPPING
    mark = len(recorder.all())
    with pytest.raises(TimeoutError):  # the pause holds: nothing spawns for the next 2 s
        await recorder.wait_for(Kind.SPAWN, "loop", timeout=2.0, after=mark)
    spawns = len(recorder.of(Kind.SPAWN, "loop"))
    assert spawns <= 8, spawns
    assert flapping.payload["retry_in"] > 2
    assert_reaped_once(recorder, "loop")
    await asyncio.wait_for(arbiter.get("loop").stop(), 10)
    await assert_clean(tag, subreaper, lag)


@pytest.mark.timeout(120)
async def test_two_hundred_children_exiting_in_the_same_millisecond(
    subreaper: set[int], arbiter_factory: Any, tag: str, tmp_path: Path, lag: LagProbe
) -> None:
    """F3: 200 children block reading one FIFO; closing its only writer ends them all at once.
    Exactly 200 reap events, one per pid, each with the right exit code."""
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer exists: readers' opens succeed
    try:
        arbiter = arbiter_factory(
            f"""
            [watchers.herd]
            cmd = ["sh", "-c", "read line < {fifo}; exit 3"]
            env = {{ TEST_TAG = "{tag}" }}
            numprocesses = 200
            respawn = false
            graceful_timeout = 5
            """
        )
        recorder = Recorder(arbiter)
        await asyncio.wait_for(arbiter.start(), 60)
        pids = list(arbiter.get("herd").processes)
        assert len(pids) == 200

        def all_waiting() -> bool:
            try:
                return all(os.readlink(f"/proc/{pid}/fd/0") == str(fifo) for pid in pids)
            except OSError:
                return False

        await wait_until(all_waiting, timeout=30)
    finally:
        os.close(writer)  # the gate opens: EOF for all 200 readers at once
    await wait_until(lambda: len(recorder.of(Kind.REAP, "herd")) >= 200, timeout=20)
    reaps = assert_reaped_once(recorder, "herd")
    assert sorted(e.payload["pid"] for e in reaps) == sorted(pids)
    assert all(e.payload["exit_code"] == 3 for e in reaps)
    assert all(e.payload["process_status"] == UNEXISTING for e in reaps)
    await wait_until(lambda: arbiter.get("herd").state == WatcherState.STOPPED)
    await asyncio.sleep(0.2)  # the behaviour under test: no duplicate reap comes late
    assert len(recorder.of(Kind.REAP, "herd")) == 200  # and no duplicate came late
    await assert_clean(tag, subreaper, lag)

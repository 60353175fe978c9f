"""psutil sampling (docs/output-and-stats.md#stats) of real processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.procs import command_name, state
from tests.support.waiting import wait_until, wait_until_sync
from tuiman.core.processes.stats import ProcessStats, StatsSampler, bytes2human

CIRCUS_KEYS = {"pid", "cpu", "mem", "mem_info1", "mem_info2", "age", "wid", "children"}


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str) -> subprocess.Popen[bytes]:
        # Own group, so the finally below also takes grandchildren.
        proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.poll() is None:  # not reaped, so neither pid nor pgid can be recycled
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _sample_until(
    sample: Callable[[], ProcessStats | None], ok: Callable[[ProcessStats], bool], what: str
) -> ProcessStats:
    """Sample until the stats show what the test needs (the process table changes under us)."""

    def good() -> ProcessStats | None:
        stats = sample()
        return stats if stats is not None and ok(stats) else None

    stats = wait_until_sync(good, 10, what=what)
    assert stats is not None
    return stats


@pytest.mark.timeout(30)
def test_busy_child_has_cpu_and_memory(spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    busy = spawn(sys.executable, "-c", "while True: pass")
    sampler = StatsSampler()
    first = sampler.sample([busy.pid])[busy.pid]
    assert first.cpu_percent == 0.0  # psutil's first reading has no interval to span
    stats = _sample_until(
        lambda: sampler.sample([busy.pid]).get(busy.pid),
        lambda s: s.cpu_percent > 0,
        "a CPU figure above 0",
    )
    assert stats.pid == busy.pid
    assert stats.rss > 0 and stats.vms >= stats.rss
    assert 0 < stats.memory_percent < 100
    assert stats.num_threads >= 1
    assert 0 <= stats.age < 60
    assert stats.children == ()


@pytest.mark.timeout(30)
def test_children_come_from_one_tree(spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    parent = spawn("sh", "-c", "sleep 300 & sleep 300 & wait")
    sampler = StatsSampler()

    def settled(stats: ProcessStats) -> bool:
        # Right after fork (and right after exec) the kernel reports rss 0 for a while: its
        # per-mm counters are per-CPU and read without summing. Both children must have exec'd
        # `sleep` and show resident pages before the figures below mean anything.
        return (
            len(stats.children) == 2
            and len(stats.children_stats) == 2
            and all(command_name(pid) == "sleep" for pid in stats.children)
            and all(child.rss > 0 for child in stats.children_stats)
        )

    stats = _sample_until(
        lambda: sampler.sample([parent.pid]).get(parent.pid),
        settled,
        "two exec'd children with resident memory",
    )
    expected = {p.pid for p in psutil.Process(parent.pid).children()}
    assert set(stats.children) == expected
    assert {c.pid for c in stats.children_stats} == expected
    assert all(c.rss > 0 for c in stats.children_stats)

    info = stats.as_circus_dict(wid=3)
    assert info.keys() >= CIRCUS_KEYS
    assert info["wid"] == 3 and info["pid"] == parent.pid
    assert {c["pid"] for c in info["children"]} == expected
    for child in info["children"]:
        assert {"pid", "cpu", "mem", "mem_info1", "mem_info2", "age"} <= child.keys()
    assert info["mem_info1"] == bytes2human(stats.rss)
    assert isinstance(info["cpu"], float) and isinstance(info["mem"], float)


@pytest.mark.timeout(30)
def test_vanished_pids_are_absent_and_evicted(
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    alive = spawn("sleep", "300")
    gone = spawn("true")
    gone.wait()
    sampler = StatsSampler()
    result = sampler.sample([alive.pid, gone.pid, -1, 0])
    assert set(result) == {alive.pid}

    other = spawn("sleep", "300")
    sampler.sample([alive.pid, other.pid])
    assert set(sampler._procs) == {alive.pid, other.pid}
    sampler.sample([alive.pid])
    assert set(sampler._procs) == {alive.pid}  # no longer asked for: dropped


@pytest.mark.timeout(30)
def test_zombie_is_absent(spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    zombie = spawn("true")
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    assert psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE
    assert StatsSampler().sample([zombie.pid]) == {}


@pytest.mark.timeout(30)
def test_figures_agree_with_psutil(spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    """The sampler reads /proc/PID/stat itself: the figures are psutil's own."""
    threaded = spawn(
        sys.executable,
        "-c",
        "import threading, time\n"
        "for _ in range(3): threading.Thread(target=time.sleep, args=(300,), daemon=True).start()\n"
        "time.sleep(300)",
    )
    reference = psutil.Process(threaded.pid)
    _sample_until(
        lambda: StatsSampler().sample([threaded.pid]).get(threaded.pid),
        lambda s: s.num_threads == 4,
        "four threads",
    )
    stats = StatsSampler().sample([threaded.pid])[threaded.pid]
    memory = reference.memory_info()
    assert stats.num_threads == reference.num_threads() == 4
    assert stats.vms == memory.vms
    # The kernel batches RSS counters per thread: two reads may differ by a few dozen pages.
    assert stats.rss == pytest.approx(memory.rss, rel=0.1)
    assert abs(stats.age - (time.time() - reference.create_time())) < 1.0
    assert stats.memory_percent == pytest.approx(reference.memory_percent(), rel=0.05)


def test_bytes2human_matches_circus() -> None:
    assert bytes2human(0) == "0B"
    assert bytes2human(1023) == "1023B"
    assert bytes2human(10000) == "9.77K"
    assert bytes2human(100001221) == "95.37M"
    assert bytes2human(3 << 30) == "3.00G"


class _Slow(StatsSampler):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[frozenset[int]] = []
        self.running = 0
        self.max_running = 0
        self.gate = threading.Event()
        self._count = threading.Lock()

    def sample(self, pids: Iterable[int]) -> dict[int, ProcessStats]:
        wanted = frozenset(pids)
        with self._count:
            self.calls.append(wanted)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.gate.wait(10)
        with self._count:
            self.running -= 1
        return {pid: _fake_stats(pid) for pid in wanted}


def _fake_stats(pid: int) -> ProcessStats:
    return ProcessStats(pid, 0.0, 1, 1, 0.0, 1, (), 0.0)


async def test_sample_async_keeps_one_sample_in_flight() -> None:
    sampler = _Slow()
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(sampler.sample_async([1, 2, 3]))
    await asyncio.sleep(0)
    joiner = asyncio.create_task(sampler.sample_async([2]))  # covered: joins the first
    other = asyncio.create_task(sampler.sample_async([4]))  # not covered: waits, then runs
    await wait_until(lambda: sampler.running == 1, what="the first sample running in its thread")
    await asyncio.sleep(0.05)  # the window in which a wrong second sample would start
    assert sampler.calls == [frozenset({1, 2, 3})]
    loop.call_soon(sampler.gate.set)
    assert set(await first) == {1, 2, 3}
    assert set(await joiner) == {2}
    assert set(await other) == {4}
    assert sampler.calls == [frozenset({1, 2, 3}), frozenset({4})]
    assert sampler.max_running == 1


async def test_cancelled_caller_does_not_free_the_slot() -> None:
    sampler = _Slow()
    first = asyncio.create_task(sampler.sample_async([1]))
    await wait_until(lambda: sampler.running == 1, what="the first sample running in its thread")
    first.cancel()
    second = asyncio.create_task(sampler.sample_async([5]))
    await asyncio.sleep(0.05)  # the window in which a wrong second sample would start
    assert sampler.calls == [frozenset({1})]  # still in flight in its thread
    sampler.gate.set()
    assert set(await second) == {5}
    assert sampler.max_running == 1


async def test_sample_async_real_process(spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    proc = spawn("sleep", "300")
    sampler = StatsSampler()

    def mapped() -> bool:
        stats = sampler.sample([proc.pid]).get(proc.pid)
        return stats is not None and stats.rss > 0

    # Between fork and exec, and just after exec, the kernel reports rss 0: wait until it does
    # not, then check that the threaded form reads the same process.
    await wait_until(mapped, what="sleep's memory mapped")
    result = await sampler.sample_async([proc.pid])
    assert result[proc.pid].rss > 0 and result[proc.pid].pid == proc.pid


def test_circus_details_are_what_psutil_gives_circus(
    spawn: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """The extended stats' user, nice, CPU time, start time and command name, read from /proc
    directly, equal what Circus computes from psutil (circus.util.get_info)."""
    from tuiman.core.processes.circus_info import cmdline_name, ctime_text, read_details

    done = tmp_path / "summed"
    program = (
        f"sum(range(3_000_000)); open({str(done)!r}, 'w').close(); import time; time.sleep(300)"
    )
    worker = spawn(sys.executable, "-c", program)
    # Asleep after its sum: its CPU time no longer moves between the two reads. (This test's
    # own process runs while it reads, so only the worker's CPU time is compared.)
    wait_until_sync(lambda: done.exists() and state(worker.pid) == "S")
    for pid in (os.getpid(), worker.pid):
        expected = psutil.Process(pid)
        with expected.oneshot():
            details = read_details([pid])[pid]
            assert details.username == expected.username()
            assert details.nice == expected.nice()
            assert details.create_time == expected.create_time()
            if pid == worker.pid:
                assert details.ctime == ctime_text(sum(expected.cpu_times()))
            assert details.cmdline == cmdline_name(expected.cmdline())
    assert read_details([worker.pid])[worker.pid].cmdline == os.path.basename(sys.executable)
    worker.kill()
    worker.wait()
    assert read_details([worker.pid]) == {}

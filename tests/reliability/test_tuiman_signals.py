"""tuiman itself under signals (docs/supervision.md#stop, docs/supervision.md#commands,
docs/headless.md, docs/reliability.md#no-orphans-whatever-happens-to-tuiman), as a real `--headless`
subprocess: SIGTERM and SIGINT once (graceful) and twice (kill at once), SIGHUP with a broken config
(refused, everything keeps running), and SIGKILL (the watchdog kills every managed process,
grandchild and `setsid` escapee within a second). Afterwards no process carrying the test's tag
survives.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.reliability.support import Headless, headless
from tests.support.procs import alive, tagged_pids
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(90)

# Per slot of `tree`: the leader, a sleep in its group, a `setsid` escapee and the two sleeps
# the escapee forked (one of them ignoring SIGTERM). `stubborn` ignores SIGTERM with a child.
TREE = """
[watchers.tree]
cmd = ["sh", "-c", {tree_script}]
numprocesses = 2
graceful_timeout = 2
env = {{ TEST_TAG = "{tag}" }}

[watchers.stubborn]
cmd = ["sh", "-c", "trap '' TERM; sleep 303 & echo up; wait; wait"]
graceful_timeout = {stubborn_timeout}
env = {{ TEST_TAG = "{tag}" }}
"""
ROSTER = 2 * 5 + 2


TREE_SCRIPT = (
    "setsid sh -c 'sleep 300 & trap \"\" TERM; sleep 301 & wait' & sleep 302 & echo up; wait"
)


def write_tree(tmp_path: Path, tag: str, stubborn_timeout: float = 1.0) -> Path:
    config = tmp_path / "tuiman.toml"
    config.write_text(
        TREE.format(tag=tag, stubborn_timeout=stubborn_timeout, tree_script=json.dumps(TREE_SCRIPT))
    )
    return config


def refused(run: Headless) -> int:
    return len([line for line in run.err if "reload refused" in line])


def wait_up(run: Headless, tag: str) -> list[int]:
    wait_until_sync(lambda: len(tagged_pids(tag)) == ROSTER, timeout=20)
    run.wait_line(lambda line: line.endswith("| up") and line.startswith("stubborn"))
    return tagged_pids(tag)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_one_stop_signal_stops_everything_gracefully(
    tmp_path: Path, tag: str, signum: signal.Signals
) -> None:
    with headless(write_tree(tmp_path, tag), tag=tag) as run:
        roster = wait_up(run, tag)
        run.send(signum)
        assert run.wait(30) == 0
        # gone as tuiman exits: graceful_timeout (2 s) covers it, +1 s for the escapees (F1)
        wait_until_sync(lambda: not [pid for pid in roster if alive(pid)], timeout=1.0)
        assert tagged_pids(tag) == []
        assert any(f"{signum.name}: stopping everything" in line for line in run.err)
        assert any("stubborn kill" in line and "SIGKILL" in line for line in run.out)
        assert "Traceback" not in "\n".join(run.err)


@pytest.mark.parametrize(
    "signals",
    [
        (signal.SIGTERM, signal.SIGTERM),
        (signal.SIGINT, signal.SIGINT),
        (signal.SIGINT, signal.SIGTERM),
    ],
    ids=["TERM-TERM", "INT-INT", "INT-TERM"],
)
def test_second_stop_signal_kills_everything_at_once(
    tmp_path: Path, tag: str, signals: tuple[signal.Signals, signal.Signals]
) -> None:
    with headless(write_tree(tmp_path, tag, stubborn_timeout=60), tag=tag) as run:
        roster = wait_up(run, tag)
        run.send(signals[0])
        run.wait_line(lambda line: "stopping everything" in line, stream="err")
        run.wait_line(lambda line: "stubborn kill" in line and "SIGTERM" in line)
        started = time.monotonic()
        run.send(signals[1])
        assert run.wait(30) == 0
        assert time.monotonic() - started < 10  # not the 60 s graceful_timeout
        wait_until_sync(lambda: not [pid for pid in roster if alive(pid)], timeout=1.0)
        assert tagged_pids(tag) == []
        assert any("second stop signal" in line for line in run.err)


def test_sighup_with_a_broken_config_is_refused_and_everything_keeps_running(
    tmp_path: Path, tag: str
) -> None:
    config = write_tree(tmp_path, tag)
    good = config.read_text()
    with headless(config, tag=tag) as run:
        roster = wait_up(run, tag)
        for broken in (
            good + "\n[watchers.tree\n",  # a syntax error
            good.replace("numprocesses = 2", 'numprocesses = "two"'),  # a wrong type
            good + '\n[watchers.extra]\ncmd = "sleep 1"\nhooks = { before_start = "nope.x" }\n',
        ):
            config.write_text(broken)
            refusals = refused(run)
            run.send(signal.SIGHUP)
            wait_until_sync(lambda: refused(run) > refusals)  # noqa: B023 (called right here)
        config.unlink()  # a missing file is refused too
        run.send(signal.SIGHUP)
        wait_until_sync(
            lambda: any("reload refused" in ln and "cannot read" in ln for ln in run.err)
        )
        refusals = refused(run)
        for _ in range(20):  # a storm of them (signals coalesce) changes nothing either
            run.send(signal.SIGHUP)
        wait_until_sync(lambda: refused(run) > refusals)
        assert run.proc.poll() is None
        assert sorted(tagged_pids(tag)) == sorted(roster)  # not one process was touched
        # a valid file afterwards is applied: the instance still works
        config.write_text(good.replace("numprocesses = 2", "numprocesses = 3"))
        run.send(signal.SIGHUP)
        run.wait_line(lambda line: "reload: tree: numprocesses 3" in line, stream="err")
        wait_until_sync(lambda: len(tagged_pids(tag)) == ROSTER + 5)
        run.send(signal.SIGTERM)
        assert run.wait(30) == 0
        wait_until_sync(lambda: tagged_pids(tag) == [], timeout=1.0)
        assert "Traceback" not in "\n".join(run.err)


def test_sigkill_leaves_no_process_behind_after_one_second(tmp_path: Path, tag: str) -> None:
    with headless(write_tree(tmp_path, tag, stubborn_timeout=60), tag=tag) as run:
        roster = wait_up(run, tag)
        run.send(signal.SIGKILL)
        run.wait(10)
        killed_at = time.monotonic()
        wait_until_sync(lambda: not [pid for pid in roster if alive(pid)], timeout=3.0)
        took = time.monotonic() - killed_at
        assert tagged_pids(tag) == []
        assert took <= 1.0, f"processes survived tuiman by {took:.2f}s"


def test_a_stop_signal_amid_a_thousand_exits_still_stops(tmp_path: Path, tag: str) -> None:
    """A thousand SIGCHLDs fill the loop's wake-up socket: the SIGTERM sent right after them
    is still seen, and no "Exception ignored" is printed per dropped wake-up byte."""
    count = 1000
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f'[watchers.many]\ncmd = "sleep 3600"\nnumprocesses = {count}\n'
        f'env = {{ TEST_TAG = "{tag}" }}\n'
    )
    with headless(config, tag=tag) as run:
        wait_until_sync(lambda: len(tagged_pids(tag)) == count, timeout=60)
        for pid in tagged_pids(tag):
            os.kill(pid, signal.SIGKILL)
        run.send(signal.SIGTERM)
        assert run.wait(60) == 0
        assert not any("Exception ignored" in line for line in run.err), run.err[:5]
        assert wait_until_sync(lambda: not tagged_pids(tag), timeout=10)

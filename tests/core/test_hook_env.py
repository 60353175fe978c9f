"""`watcher.env` is the one attribute a hook may write (docs/hooks.md#what-a-hook-can-see): what
a hook sets or removes there is used by the watcher's following spawns, in-process and isolated
alike; any other attribute write is a hook failure that names what is writable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hookkit import PY, HookLab, new_lab
from tests.support.core import next_event
from tests.support.waiting import wait_until
from tuiman.core.events import Kind
from tuiman.core.supervision.arbiter import Arbiter

Factory = Callable[[str], Arbiter]

# Writes its argv and the variables the hooks touch to a file named after its wid.
REPORTER = """\
import json, os, sys, time
names = ("SPAWN_NO", "FROM_START", "DROPPED", "KEPT")
name = f"env-{os.environ['WID']}.json"
with open(name + ".tmp", "w") as out:
    json.dump({"argv": sys.argv[1:], "env": {n: os.environ.get(n) for n in names}}, out)
os.replace(name + ".tmp", name)  # whole, for the test that reads it
time.sleep(300)
"""

HOOKS = """
spawns = 0

def before_start(watcher, arbiter, hook_name, **kwargs):
    watcher.env["FROM_START"] = "yes"
    del watcher.env["DROPPED"]
    record(hook_name, watcher, seen=dict(watcher.env).get("DROPPED", "gone"))
    return True

def before_spawn(watcher, arbiter, hook_name, **kwargs):
    global spawns
    spawns += 1
    watcher.env.update(SPAWN_NO=str(spawns))
    watcher.env.setdefault("KEPT", "not this")  # set already: no change
    watcher.env.pop("DROPPED", None)  # removed already
    return True

def replace_all(watcher, arbiter, hook_name, **kwargs):
    watcher.env = {"KEPT": "only", "WID": watcher.env["WID"]}
    return True

def not_a_string(watcher, arbiter, hook_name, **kwargs):
    watcher.env["PORT"] = 8080
    return True

def set_numprocesses(watcher, arbiter, hook_name, **kwargs):
    watcher.numprocesses = 5
    return True
"""


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> HookLab:
    lab = new_lab(tmp_path, request.node.name)
    lab.write(HOOKS)
    (tmp_path / "reporter.py").write_text(REPORTER)
    return lab


def reports(directory: Path, count: int) -> Callable[[], dict[str, dict[str, object]]]:
    def read() -> dict[str, dict[str, object]]:
        found = {p.stem: json.loads(p.read_text()) for p in directory.glob("env-*.json")}
        return found if len(found) >= count else {}

    return read


@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "isolated"])
async def test_env_set_and_removed_by_hooks_reaches_the_following_spawns(
    arbiter_factory: Factory, lab: HookLab, tmp_path: Path, isolated: bool
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "{PY} reporter.py $(tuiman.env.SPAWN_NO)"
        working_dir = "{tmp_path}"
        numprocesses = 2
        isolated_hooks = {str(isolated).lower()}
        env = {{ WID = "$(tuiman.wid)", DROPPED = "set in the config", KEPT = "k" }}
        [watchers.w.hooks]
        before_start = "{lab.path("before_start")}"
        before_spawn = "{lab.path("before_spawn")}"
        """
    )
    assert (await arbiter.get("w").start()).ok
    seen = await wait_until(reports(tmp_path, 2))
    for wid in ("1", "2"):
        assert seen[f"env-{wid}"] == {
            "argv": [wid],
            "env": {"SPAWN_NO": wid, "FROM_START": "yes", "DROPPED": None, "KEPT": "k"},
        }
    [call] = lab.calls("before_start")
    assert call["seen"] == "gone"
    # What `ctl status` and the UI show is what the processes got.
    env_shown = arbiter.get("w").snapshot()["env"]
    assert env_shown["FROM_START"] == "yes" and env_shown["SPAWN_NO"] == "2"
    assert "DROPPED" not in env_shown


async def test_a_hook_can_replace_the_whole_environment(
    arbiter_factory: Factory, lab: HookLab, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "{PY} reporter.py"
        working_dir = "{tmp_path}"
        copy_env = true
        env = {{ WID = "$(tuiman.wid)", DROPPED = "d", SPAWN_NO = "from config" }}
        hooks = {{ before_start = "{lab.path("replace_all")}" }}
        """
    )
    assert (await arbiter.get("w").start()).ok
    seen = await wait_until(reports(tmp_path, 1))
    assert seen["env-1"]["env"] == {
        "SPAWN_NO": None,
        "FROM_START": None,
        "DROPPED": None,
        "KEPT": "only",
    }


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        ("not_a_string", "TypeError: watcher.env['PORT']: names and values must be str, not int"),
        (
            "set_numprocesses",
            "AttributeError: watcher.numprocesses cannot be set from a hook "
            "(only watcher.env is writable)",
        ),
    ],
)
@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "isolated"])
async def test_other_writes_are_hook_failures_that_say_what_is_writable(
    arbiter_factory: Factory, lab: HookLab, hook: str, error: str, isolated: bool
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.w]
        cmd = "sleep 300"
        isolated_hooks = {str(isolated).lower()}
        hooks = {{ before_start = "{lab.path(hook)}" }}
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    result = await arbiter.get("w").start()
    assert not result.ok
    failure = await next_event(sub, Kind.HOOK_FAILURE, "w")
    assert failure.payload["error"] == error
    assert arbiter.get("w").numprocesses == 1 and not arbiter.get("w").processes


async def test_a_stop_runs_every_signal_hook_however_many_processes(
    arbiter_factory: Factory, lab: HookLab
) -> None:
    """One process' signal hooks after the other's: twelve processes never need more than one
    of the eight hook threads, so no call fails with HookThreadsExhausted."""
    lab.write(
        """
        def before_signal(watcher, arbiter, hook_name, pid, signum, **kwargs):
            record(hook_name, watcher, pid=pid)
            time.sleep(0.05)
            return True
        """
    )
    arbiter = arbiter_factory(
        f"""
        [tuiman]
        hook_threads = 8
        [watchers.w]
        cmd = "sleep 300"
        numprocesses = 12
        graceful_timeout = 5
        hooks = {{ before_signal = "{lab.path("before_signal")}" }}
        """
    )
    watcher = arbiter.get("w")
    assert (await watcher.start()).ok
    spawn_order = list(watcher.processes)
    sub = arbiter.bus.subscribe(snapshot=False)
    assert (await watcher.stop()).ok
    events = sub.drain()
    assert [e.payload["error"] for e in events if e.kind == Kind.HOOK_FAILURE] == []
    assert [call["pid"] for call in lab.calls("before_signal")] == spawn_order
    assert len([e for e in events if e.kind == Kind.KILL]) == 12

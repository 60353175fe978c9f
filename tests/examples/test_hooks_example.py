"""examples/hooks_example.py loads with the loader (the seed's PYTHONPATH recipe) and runs clean."""

from __future__ import annotations

import os
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path

from tests.support.core import next_event
from tests.support.procs import alive
from tests.support.waiting import wait_until
from tuiman.core.config.loader import load_config_text
from tuiman.core.config.model import HOOK_NAMES
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

HOOKS = {
    "before_start": "check_free_disk",
    "after_start": "announce",
    "before_spawn": "limit_spawn_rate",
    "after_spawn": "check_alive",
    "before_stop": "announce",
    "after_stop": "announce",
    "before_signal": "protect_young_from_hup",
    "after_signal": "count_signals",
    "before_reap": "note_exit",
    "after_reap": "alert_on_crash",
    "extended_stats": "add_open_files",
}


def hooks_table(before_signal: str) -> str:
    chosen = {**HOOKS, "before_signal": before_signal}
    return "\n".join(f'{hook} = "hooks_example.{function}"' for hook, function in chosen.items())


def test_example_module_resolves_with_the_seed_pythonpath_recipe(tmp_path: Path) -> None:
    config_path = tmp_path / "tuiman.toml"
    text = textwrap.dedent(
        """
        [watchers.web]
        cmd = "sleep 300"
        env = { PYTHONPATH = "$PYTHONPATH:$PWD" }
        [watchers.web.hooks]
        """
    ) + hooks_table("pause_then_stop")
    config = load_config_text(text, config_path, cwd=EXAMPLES)  # $PWD = the examples directory
    [watcher] = config.watchers
    assert sorted(watcher.hooks) == sorted(HOOK_NAMES)
    assert watcher.hooks["before_spawn"].func.__module__ == "hooks_example"
    assert watcher.hooks["before_signal"].func.__name__ == "pause_then_stop"


async def test_every_example_hook_runs_clean(arbiter_factory: Callable[[str], Arbiter]) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.web]
        cmd = "sleep 300"
        numprocesses = 2
        graceful_timeout = 2
        env = {{ PYTHONPATH = "{EXAMPLES}" }}
        [watchers.web.hooks]
        {hooks_table("protect_young_from_hup")}
        [watchers.uwsgi]
        cmd = "sleep 300"
        graceful_timeout = 2
        env = {{ PYTHONPATH = "{EXAMPLES}" }}
        [watchers.uwsgi.hooks]
        before_signal = "hooks_example.pause_then_stop"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    history = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    web = arbiter.get("web")
    assert web.state == WatcherState.ACTIVE and arbiter.get("uwsgi").state == WatcherState.ACTIVE
    stats = await arbiter.stats.extended("web")
    assert all(isinstance(entry["open_files"], int) for entry in stats.values())
    victim = next(iter(web.processes))
    # a young process: protect_young_from_hup vetoes the reload signal
    assert not (await web.send_signal(signal.SIGHUP, victim)).ok and alive(victim)
    os.kill(victim, signal.SIGKILL)
    crash = await next_event(sub, "crash", "web")
    assert crash.payload == {"pid": victim, "exit_code": -9}
    await wait_until(lambda: len(web.processes) == 2)
    await arbiter.stop_all()
    events = history.drain()
    assert not [e for e in events if e.kind == Kind.HOOK_FAILURE]
    succeeded = {
        e.payload["name"] for e in events if e.kind == Kind.HOOK_SUCCESS and e.watcher == "web"
    }
    assert succeeded == set(HOOK_NAMES)
    uwsgi_signals = [
        e.payload["signum"]
        for e in events
        if e.watcher == "uwsgi" and e.kind in (Kind.SIGNAL, Kind.KILL)
    ]
    assert uwsgi_signals == [signal.SIGTSTP, signal.SIGTERM]  # the nested SIGTSTP, then the stop
    notes = [e.payload["text"] for e in events if e.kind == "note"]
    assert notes == ["after_start: 2 running", "before_stop: 2 running", "after_stop: 0 running"]
    assert all(w.state == WatcherState.STOPPED for w in arbiter.watchers.values())

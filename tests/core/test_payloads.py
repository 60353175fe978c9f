"""Every event a real arbiter publishes has exactly the keys its kind's TypedDict declares."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.hookkit import new_lab
from tests.support.programs import unrunnable_program
from tests.support.waiting import wait_until
from tuiman.core.events import RESERVED_KEYS, Event, Kind
from tuiman.core.payloads import (
    ProcessSnapshot,
    ProcessStatsEntry,
    SlotSnapshot,
    WatcherSettings,
    WatcherSnapshot,
    payload_type,
)
from tuiman.core.readiness_text import READINESS_KINDS
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

CUSTOM_KIND = "payload_note"

HOOKS = f"""
def ok(watcher, arbiter, hook_name, **kwargs):
    print("ok", hook_name)  # a hook_output event
    return True


def note_spawn(watcher, arbiter, hook_name, **kwargs):
    arbiter.publish({CUSTOM_KIND!r}, watcher=watcher.name, note=f"pid {{kwargs['pid']}}")
    return True


def boom(watcher, arbiter, hook_name, **kwargs):
    raise RuntimeError("boom")
"""

TALKER = "import sys, time\nprint('hello', flush=True)\nsys.stdout.write('half')\n"
TALKER += "sys.stdout.flush()\ntime.sleep(300)\n"


def config(module: str, talker: Path, *, web_cmd: str, scale: int, gone: bool) -> str:
    text = f"""
    [plugins.counters]  # a `plugin` event when it starts (no statsd server needed: UDP)
    use = "statsd"
    host = "127.0.0.1"
    port = 9

    [watchers.web]
    cmd = "{sys.executable} {talker} {web_cmd}"
    graceful_timeout = 2
    output = {{ file = "/dev/full" }}
    [watchers.web.hooks]
    before_start = {{ path = "{module}.ok" }}
    after_spawn = {{ path = "{module}.note_spawn" }}
    before_signal = {{ path = "{module}.ok" }}
    after_reap = {{ path = "{module}.boom" }}

    [watchers.scale]
    cmd = "sleep 300"
    numprocesses = {scale}
    graceful_timeout = 2

    [watchers.crash]
    cmd = "sh -c 'exit 3'"
    [watchers.crash.restart]
    backoff_initial = 0
    flap_attempts = 1
    retry_in = 0.2
    flap_max_retry = 1

    [watchers.missing]
    cmd = "{talker.parent / "unrunnable"}"
    max_retry = 0
    """
    if gone:
        text += '\n[watchers.gone]\ncmd = "sleep 300"\ngraceful_timeout = 2\n'
    else:
        text += '\n[watchers.fresh]\ncmd = "sleep 300"\ngraceful_timeout = 2\n'
    return textwrap.dedent(text)


def check_keys(typed: Any, data: Mapping[str, Any], where: str) -> None:
    required: frozenset[str] = typed.__required_keys__
    optional: frozenset[str] = typed.__optional_keys__
    keys = set(data)
    assert required <= keys, f"{where}: missing {sorted(required - keys)} in {dict(data)}"
    unknown = keys - required - optional
    assert not unknown, f"{where}: keys {sorted(unknown)} not in {typed.__name__}"


def check_nested(event: Event) -> None:
    """The TypedDicts inside payloads: snapshots, stats entries, a reload's settings."""
    payload = event.payload
    if event.kind == Kind.SNAPSHOT:
        for watcher in payload["watchers"]:
            check_keys(WatcherSnapshot, watcher, f"snapshot {watcher['name']}")
            for process in watcher["processes"]:
                check_keys(ProcessSnapshot, process, "snapshot process")
            for slot in watcher["slots"]:
                check_keys(SlotSnapshot, slot, "snapshot slot")
    elif event.kind == Kind.STATS:
        for entry in payload["processes"].values():
            check_keys(ProcessStatsEntry, entry, "stats entry")
            for child in entry["children"]:
                check_keys(ProcessStatsEntry, child, "stats child")
    elif event.kind == Kind.UPDATED and "settings" in payload:
        check_keys(WatcherSettings, payload["settings"], "updated settings")


async def test_every_published_kind_has_its_typed_keys(
    tmp_path: Path, arbiter_factory: Callable[[str], Arbiter]
) -> None:
    lab = new_lab(tmp_path, "payloads")
    lab.write(HOOKS)
    talker = tmp_path / "talker.py"
    talker.write_text(TALKER)
    unrunnable_program(tmp_path)  # a spawn error
    arbiter = arbiter_factory(config(lab.module, talker, web_cmd="first", scale=1, gone=True))
    published: list[Event] = []
    arbiter.bus.add_tap(published.append)
    everything = arbiter.bus.subscribe(name="everything")  # its first event: a snapshot
    tiny = arbiter.bus.subscribe(maxsize=3, name="tiny")  # overflows: resync + snapshot

    await arbiter.start()
    await wait_until(lambda: arbiter.get("crash").state == WatcherState.FAILED)
    await wait_until(lambda: arbiter.get("missing").state == WatcherState.FAILED)
    await wait_until(lambda: any(e.kind == Kind.OUTPUT for e in published))
    await wait_until(lambda: any(e.kind == Kind.LOG_ERROR for e in published))

    await arbiter.get("web").send_signal(signal.SIGCONT)
    slow = arbiter.bus.subscribe(maxsize=2, snapshot=False, name="slow")  # loses stats
    await arbiter.stats.sample()
    lost_stats = slow.drain()
    slow.close()
    await arbiter.get("web").reload()
    await arbiter.get("scale").incr()
    (tmp_path / "tuiman.toml").write_text(
        config(lab.module, talker, web_cmd="second", scale=3, gone=False)
    )
    applied, changes = await arbiter.reload_config()
    assert applied, changes
    await arbiter.get("web").stop()

    events = [*published, *everything.drain(), *tiny.drain(), *lost_stats]
    seen: set[str] = set()
    for event in events:
        data = json.loads(json.dumps(event.to_dict(), default=str))
        keys = {key: value for key, value in data.items() if key not in RESERVED_KEYS}
        typed = payload_type(event.kind, event.watcher)
        where = f"{event.kind} ({event.watcher})"
        if typed is None:
            assert event.kind == CUSTOM_KIND, f"{where}: no TypedDict for this kind"
            assert set(keys) == {"note"}
        else:
            check_keys(typed, keys, where)
            check_nested(event)
        seen.add(event.kind if event.watcher or event.kind != Kind.RELOAD else "arbiter reload")

    # a dead watchdog and a sweep that cannot look: tests/reliability/test_attack_*.py
    # restart on change: tests/core/test_file_watch.py; a pty's raw text: tests/core/test_pty.py
    # readiness, liveness and dependencies: tests/core/test_readiness.py
    elsewhere = {
        Kind.CUSTOM,
        Kind.WATCHDOG,
        Kind.SWEEP_FAILED,
        Kind.FILES_CHANGED,
        Kind.WATCH_ERROR,
        Kind.TERMINAL,
        *READINESS_KINDS,
    }
    expected = {str(kind) for kind in Kind if kind not in elsewhere} | {
        "arbiter reload",
        CUSTOM_KIND,
    }
    assert expected <= seen, sorted(expected - seen)
    updated = [e.payload for e in published if e.kind == Kind.UPDATED]
    assert {"numprocesses"} in [set(p) for p in updated]  # a scale
    assert {"numprocesses", "restarted", "settings"} in [set(p) for p in updated]  # a reload

"""A config reload that replaces a watcher, then a scale, as the UI model sees them.

The events come from a real arbiter; `CoreModel` folds them as the UI does. A reload once
published `updated` without the target, and the hook log showed `scale → None`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.ui.model import Changes, CoreModel
from tuiman.ui.rows import watcher_row

BEFORE = """
[watchers.web]
cmd = "sleep 300"
numprocesses = 1
priority = 1
graceful_timeout = 2

[watchers.idle]
cmd = "sleep 300"
autostart = false
"""

AFTER = """
[watchers.web]
cmd = "sleep 301"
numprocesses = 2
priority = 7
graceful_timeout = 2

[watchers.idle]
cmd = "sleep 302"
numprocesses = 4
autostart = false
"""


def cells(model: CoreModel, name: str) -> dict[str, str]:
    _, row = watcher_row(model.watchers[name], time.time())
    texts = [text for text, _ in row]
    return {"state": texts[1], "procs": texts[2], "priority": texts[3]}


def updated_entries(changes: Changes, name: str) -> list[tuple[str, str]]:
    """The hook-log rows of `updated` events: a config reload's, then a scale's."""
    return [
        (entry.label, entry.detail)
        for entry in changes.log
        if entry.watcher == name
        and (entry.label == "new config" or entry.label.startswith("scale"))
    ]


async def test_reload_then_scale_shows_the_new_target_and_settings(
    tmp_path: Path, arbiter_factory: Callable[[str], Arbiter]
) -> None:
    arbiter = arbiter_factory(BEFORE)
    subscription = arbiter.bus.subscribe(name="ui")  # a snapshot first, as the UI gets
    await arbiter.start()
    (tmp_path / "tuiman.toml").write_text(AFTER)
    applied, changes = await arbiter.reload_config()
    assert applied, changes
    await arbiter.get("web").incr()
    assert len(arbiter.get("web").processes) == 3

    events = subscription.drain()
    assert events[0].kind == Kind.SNAPSHOT
    model = CoreModel()
    folded = model.apply(events)

    labels = [entry.label for entry in folded.log]
    assert not [label for label in labels if "None" in label], labels
    assert updated_entries(folded, "web") == [
        ("new config", "numprocesses 2, restarted"),
        ("scale → 3", ""),
    ]
    assert updated_entries(folded, "idle") == [("new config", "numprocesses 4")]

    web = model.watchers["web"]
    assert (web.cmd, web.priority, web.numprocesses, web.running) == ("sleep 301", 7, 3, 3)
    assert cells(model, "web") == {"state": WatcherState.ACTIVE, "procs": "3/3", "priority": "7"}
    assert cells(model, "idle") == {"state": WatcherState.STOPPED, "procs": "0/4", "priority": "0"}
    assert model.watchers["idle"].cmd == "sleep 302"
    assert model.total_target() == 3  # idle is stopped: its 4 are not wanted yet

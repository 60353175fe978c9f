"""Nothing starts once tuiman is quitting
(docs/reliability.md#nothing-starts-once-tuiman-is-quitting).

A graceful quit stops the watchers level by level. While a slow level is still stopping, three
paths used to start processes that then outlived tuiman's clean exit: an `after_stop` hook that
calls `watcher.start()`, a `start` command for a watcher whose level is already stopped, and a
config reload that adds a watcher. Each must be refused, and nothing tagged may survive the quit.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import write_hook_module
from tests.support.core import make_config
from tests.support.procs import tagged_pids
from tests.support.waiting import wait_until
from tuiman.core.states import WatcherState
from tuiman.core.supervision.commands import execute
from tuiman.core.supervision.config_reload import apply_config

pytestmark = pytest.mark.timeout(60)

# `web` stops first (low priority); `slow` ignores SIGTERM, so its level takes the whole
# graceful_timeout: the window in which something tries to start again.
CONFIG = """
[watchers.web]
cmd = "sleep 300"
priority = 0
graceful_timeout = 1
env = {{ TEST_TAG = "{tag}" }}
{web_hooks}

[watchers.slow]
cmd = "sh -c 'trap \\"\\" TERM; while :; do sleep 0.1; done'"
priority = 10
graceful_timeout = 3
env = {{ TEST_TAG = "{tag}" }}
"""

EXTRA = """
[watchers.extra]
cmd = "sleep 300"
priority = 5
env = {{ TEST_TAG = "{tag}" }}
"""


@pytest.mark.parametrize("path", ["after_stop hook", "ctl start", "reloadconfig"])
async def test_nothing_started_during_a_graceful_quit_outlives_it(
    arbiter_factory: Any, tag: str, tmp_path: Path, path: str
) -> None:
    web_hooks = ""
    if path == "after_stop hook":
        module = write_hook_module(
            tmp_path,
            """
            def start_again(watcher, arbiter, hook_name, **kwargs):
                watcher.start()
                return True
            """,
        )
        web_hooks = f'hooks = {{ after_stop = "{module}.start_again" }}'
    arbiter = arbiter_factory(CONFIG.format(tag=tag, web_hooks=web_hooks))
    await arbiter.start()
    await wait_until(lambda: len(tagged_pids(tag)) == 2)
    web, slow = arbiter.get("web"), arbiter.get("slow")

    arbiter.request_quit()
    await wait_until(lambda: web.state == WatcherState.STOPPED and not web.commands_pending)
    # The next level begins a loop iteration or two after web's stop settles: wait for it (it
    # then stops for 3 s, the window in which something tries to start again).
    await wait_until(lambda: slow.state == WatcherState.STOPPING, what="the slow level stopping")
    if path == "ctl start":
        reply = await execute(arbiter, {"command": "start", "watcher": "web", "wait": True})
        assert reply == {"ok": False, "error": "start: refused: tuiman is quitting"}
        reply = await execute(arbiter, {"command": "incr", "watcher": "slow"})
        assert reply["ok"] is False and "quitting" in reply["error"]
    elif path == "reloadconfig":
        source = Path(arbiter.config.source)
        source.write_text(
            textwrap.dedent(CONFIG.format(tag=tag, web_hooks="") + EXTRA.format(tag=tag))
        )
        reply = await execute(arbiter, {"command": "reloadconfig"})
        assert reply == {"ok": False, "error": "reloadconfig: refused: tuiman is quitting"}
        assert await arbiter.reload_config() == (False, ["refused: tuiman is quitting"])
        # A reload that read its file before the quit began applies it now: the added watcher
        # is there, but it is not started.
        changes = await apply_config(arbiter, make_config(tmp_path, source.read_text()))
        assert "added extra" in changes
        assert arbiter.get("extra").state == WatcherState.STOPPED
    # Whatever the path, no spawn gets past the quit, even through the watcher's own API.
    assert (await web.start()).error == "refused: tuiman is quitting"

    await asyncio.wait_for(arbiter.stopped.wait(), 20)
    assert tagged_pids(tag) == []
    assert all(not watcher.processes for watcher in arbiter.watchers.values())

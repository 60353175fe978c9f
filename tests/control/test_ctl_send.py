"""`tuiman ctl send` and the remote client's input commands, against a real headless tuiman
(docs/terminals.md#sending-input)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.control.ctlkit import Instance
from tests.support.waiting import wait_until_sync
from tuiman.client.protocol import EventStream
from tuiman.client.remote import RemoteClient
from tuiman.core.events import Kind

pytestmark = pytest.mark.timeout(120)

CONFIG = """
[watchers.cat]
cmd = "cat"
stdin = "pipe"

[watchers.term]
cmd = "cat"
pty = true

[watchers.quiet]
cmd = "sleep 300"
"""


@pytest.fixture
def inst(start_tuiman: Callable[..., Instance], tuiman_dir: Path) -> Instance:
    instance = start_tuiman(tuiman_dir, CONFIG)
    # It answers on its socket before it spawns: wait for a process of each watcher.
    wait_until_sync(
        lambda: all(instance.pids(name) for name in ("cat", "term", "quiet")),
        what="every watcher spawned",
    )
    return instance


def logged(inst: Instance, watcher: str) -> list[str]:
    reply = inst.request("logs", watcher=watcher, n=50)
    return [line["line"] for line in reply["lines"]]


def test_ctl_send_reaches_cat_on_a_pipe_and_on_a_terminal(inst: Instance) -> None:
    sent = inst.ctl("send", "cat", "hello", "cat")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "send cat: sent to 1 process(es)"
    assert inst.ctl("send", "cat", "--keys", "Enter").returncode == 0
    wait_until_sync(lambda: logged(inst, "cat") == ["hello cat"])

    pid = inst.pids("term")[0]
    assert inst.ctl("send", "term", "--pid", str(pid), "typed").returncode == 0
    assert inst.ctl("send", "term", "--keys", "Enter").returncode == 0
    # the terminal echoes the line, then cat writes it back
    wait_until_sync(lambda: logged(inst, "term") == ["typed", "typed"])


def test_ctl_send_to_a_process_without_input_is_a_clear_error(inst: Instance) -> None:
    refused = inst.ctl("send", "quiet", "x")
    assert refused.returncode == 3
    assert refused.stderr.splitlines() == [
        "tuiman ctl: send quiet: send: watcher quiet has no input:"
        ' set pty = true or stdin = "pipe" in its config'
    ]
    unknown = inst.ctl("send", "cat", "--keys", "Enter", "Hyperspace")
    assert unknown.returncode == 3
    assert "unknown key 'Hyperspace'" in unknown.stderr
    assert "Traceback" not in refused.stderr + unknown.stderr


async def test_the_remote_client_sends_resizes_and_replays(inst: Instance) -> None:
    client = await RemoteClient.connect(inst.socket)
    stream = client.subscribe()
    try:
        pid = inst.pids("term")[0]
        echo_seen = asyncio.ensure_future(terminal_text_seen(stream, "stty size"))
        assert (await client.resize_terminal("term", 30, 90)).ok
        assert (await client.send_input("term", pid, text="stty size", keys=None)).ok
        await asyncio.wait_for(echo_seen, 15)
        tail = await client.terminal_tail("term", pid)
        assert "stty size" in tail.data
        assert tail.ok and (tail.rows, tail.cols) == (30, 90)
        assert tail.end >= len(tail.data)
        # ^C reaches the terminal's foreground group: cat dies of SIGINT and is replaced
        assert (await client.send_input("term", pid, text=None, keys=["C-c"])).ok
        wait_until_sync(lambda: inst.pids("term") not in ([pid], []))
        refused = await client.send_input("quiet", None, text="x")
        assert not refused.ok and "has no input" in refused.error
    finally:
        stream.close()
        await client.aclose()


async def terminal_text_seen(stream: EventStream, text: str) -> None:
    seen = ""
    while text not in seen:
        event = await stream.get()
        if event.kind == Kind.TERMINAL:
            seen += event.payload["data"]

"""Processes with their own terminal (`pty = true`) and a writable stdin (`stdin = "pipe"`)
(docs/terminals.md), with real children: what the child sees, resizes, input, the readable
lines, and the core's guarantees (group kill, one reap)."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.reliability.support import headless, write_hook_module
from tests.support.core import ArbiterFactory, next_event
from tests.support.procs import alive, tagged_pids
from tests.support.waiting import wait_until, wait_until_sync
from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.events import Event, Kind
from tuiman.core.payloads import TerminalPayload
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

pytestmark = pytest.mark.timeout(60)

PY = sys.executable

# Says what its stdin/stdout/stderr are, its terminal's size and whether the terminal is its
# controlling one; then reports every SIGWINCH with the new size, and echoes lines it reads.
PROBE = textwrap.dedent(
    """
    import json, os, signal, sys
    def report(kind):
        rows, cols = os.get_terminal_size(0).lines, os.get_terminal_size(0).columns
        print(kind + " " + json.dumps({
            "tty": [os.isatty(fd) for fd in (0, 1, 2)],
            "size": [rows, cols],
            "controlling": os.tcgetpgrp(0) == os.getpgrp(),
            "session_leader": os.getsid(0) == os.getpid(),
        }), flush=True)
    signal.signal(signal.SIGWINCH, lambda *_: report("winch"))
    report("hello")
    for line in sys.stdin:
        print("got " + line.strip(), flush=True)
    """
)


def probe_toml(tmp_path: Path, extra: str = "") -> str:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    return f"""
        [watchers.probe]
        cmd = [{PY!r}, "-u", {str(script)!r}]
        pty = true
        {extra}
        """


def line_of(event: Event) -> str:
    return str(event.payload["line"])


def report(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(line_of(event).split(" ", 1)[1])
    return data


async def request(arbiter: Arbiter, command: str, **arguments: Any) -> dict[str, Any]:
    return await execute(arbiter, {"command": command, **arguments})


async def test_a_pty_child_has_a_terminal_on_0_1_2_of_the_size_set(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(probe_toml(tmp_path))
    reply = await request(arbiter, "resize", watcher="probe", rows=33, cols=101)
    assert reply["ok"], reply
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    hello = await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "hello" in line_of(e))
    assert report(hello) == {
        "tty": [True, True, True],
        "size": [33, 101],
        "controlling": True,
        "session_leader": True,
    }


async def test_a_resize_sends_sigwinch_and_the_new_size(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(probe_toml(tmp_path))
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    hello = await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "hello" in line_of(e))
    assert report(hello)["size"] == [24, 80]  # until a front end says otherwise
    reply = await request(arbiter, "resize", watcher="probe", rows=40, cols=132)
    assert reply["ok"], reply
    winch = await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "winch" in line_of(e))
    assert report(winch)["size"] == [40, 132]
    # and a process spawned later starts with it
    assert (await request(arbiter, "incr", watcher="probe", wait=True))["ok"]
    second = await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "hello" in line_of(e))
    assert report(second)["size"] == [40, 132]


async def test_send_writes_text_and_named_keys_to_the_terminal(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(probe_toml(tmp_path))
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "hello" in line_of(e))
    reply = await request(arbiter, "send", watcher="probe", text="hi there", keys=["Enter"])
    assert reply == {"ok": True, "processes": 1}
    # the raw text (the terminal's echo included) for emulators, then the readable line
    # (the program's write may reach the master in more than one read: join the chunks)
    raw_text = ""
    while "got hi there\r\n" not in raw_text:
        raw = await next_event(sub, Kind.TERMINAL, "probe")
        assert set(raw.payload) == set(TerminalPayload.__required_keys__)
        raw_text += raw.payload["data"]
    await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: line_of(e) == "got hi there")


async def test_ctl_send_reaches_cat_on_a_stdin_pipe(arbiter_factory: ArbiterFactory) -> None:
    arbiter = arbiter_factory(
        """
        [watchers.cat]
        cmd = "cat"
        stdin = "pipe"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    pid = next(iter(arbiter.get("cat").processes))
    reply = await request(arbiter, "send", watcher="cat", pid=pid, text="meow", keys=["Enter"])
    assert reply["ok"], reply
    event = await next_event(sub, Kind.OUTPUT, "cat")
    assert line_of(event) == "meow"
    assert event.payload["stream"] == "stdout"


async def test_sending_to_a_process_without_input_is_a_clear_error(
    arbiter_factory: ArbiterFactory,
) -> None:
    arbiter = arbiter_factory(
        """
        [watchers.quiet]
        cmd = "sleep 300"
        [watchers.cat]
        cmd = "cat"
        stdin = "pipe"
        """
    )
    await arbiter.start()
    reply = await request(arbiter, "send", watcher="quiet", text="x")
    assert reply == {
        "ok": False,
        "error": 'send: watcher quiet has no input: set pty = true or stdin = "pipe" in its config',
    }
    reply = await request(arbiter, "send", watcher="cat", pid=1, text="x")
    assert reply["error"] == "send: no process 1 in watcher cat"
    reply = await request(arbiter, "send", watcher="cat", keys=["Hyper"])
    assert reply["error"].startswith("send: unknown key 'Hyper'")
    reply = await request(arbiter, "resize", watcher="cat", rows=10, cols=10)
    assert reply["error"] == "resize: watcher cat has no terminal (pty = false)"


PROGRESS = textwrap.dedent(
    """
    import time
    for n in range(0, 101, 25):
        print(f"\\r\\x1b[Kprogress {n}%", end="", flush=True)
        time.sleep(0.01)
    print()
    print("\\x1b[1;32mdone\\x1b[0m")
    """
)


def progress_toml(tmp_path: Path, pty: bool) -> str:
    script = tmp_path / "progress.py"
    script.write_text(PROGRESS)
    return f"""
        [watchers.bar]
        cmd = [{PY!r}, "-u", {str(script)!r}]
        pty = {"true" if pty else "false"}
        respawn = false
        """


async def test_carriage_returns_leave_the_last_state_in_a_pty_process_lines(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(progress_toml(tmp_path, pty=True))
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    first = await next_event(sub, Kind.OUTPUT, "bar")
    second = await next_event(sub, Kind.OUTPUT, "bar")
    assert (line_of(first), line_of(second)) == ("progress 100%", "done")
    lines = [line.text for line in arbiter.get("bar").output.lines()]
    assert lines == ["progress 100%", "done"]


async def test_a_pipe_keeps_every_state_in_the_event_for_machines(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(progress_toml(tmp_path, pty=False))
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    first = await next_event(sub, Kind.OUTPUT, "bar")
    assert line_of(first) == "".join(f"\r\x1b[Kprogress {n}%" for n in range(0, 101, 25))


async def test_the_last_words_of_a_pty_process_are_not_lost(
    arbiter_factory: ArbiterFactory,
) -> None:
    arbiter = arbiter_factory(
        """
        [watchers.brief]
        cmd = ["printf", "one\\ntwo, no newline"]
        pty = true
        respawn = false
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    events: list[Event] = []

    def finished() -> bool:
        events.extend(sub.drain())
        lines = [e for e in events if e.kind == Kind.OUTPUT]
        return len(lines) == 2 and arbiter.get("brief").state == "stopped"

    await wait_until(finished)
    assert [line_of(e) for e in events if e.kind == Kind.OUTPUT] == ["one", "two, no newline"]
    reaps = [e.payload["exit_code"] for e in events if e.kind == Kind.REAP]
    assert reaps == [0]  # exactly one reap


async def test_a_pty_process_ignoring_sigterm_is_killed_with_its_group(
    arbiter_factory: ArbiterFactory,
) -> None:
    arbiter = arbiter_factory(
        """
        [watchers.stubborn]
        cmd = ["sh", "-c", "trap '' TERM; sleep 300 & echo up; wait; wait"]
        pty = true
        graceful_timeout = 0.5
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await next_event(sub, Kind.OUTPUT, "stubborn", where=lambda e: line_of(e) == "up")
    leader = next(iter(arbiter.get("stubborn").processes))
    members = [child.pid for child in psutil.Process(leader).children()]
    assert members
    await arbiter.get("stubborn").stop()
    kills = [e.payload["signum"] for e in sub.drain() if e.kind == Kind.KILL]
    assert signal.SIGKILL in kills
    assert not alive(leader)
    assert not any(alive(pid) for pid in members)


async def test_hooks_run_around_a_pty_process(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    module = write_hook_module(
        tmp_path,
        """
        def ok(watcher, arbiter, hook_name, **kwargs):
            return True
        """,
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.term]
        cmd = ["sh", "-c", "echo hi; sleep 300"]
        pty = true
        [watchers.term.hooks]
        after_spawn = "{module}.ok"
        before_reap = "{module}.ok"
        after_reap = "{module}.ok"
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await next_event(
        sub, Kind.HOOK_SUCCESS, "term", where=lambda e: e.payload["name"] == "after_spawn"
    )
    await arbiter.get("term").stop()
    names = [e.payload["name"] for e in sub.drain() if e.kind == Kind.HOOK_SUCCESS]
    assert names == ["before_reap", "after_reap"]


TREE = """
[watchers.term]
cmd = ["sh", "-c", "trap '' TERM HUP; sleep 300 & echo up; wait"]
pty = true
numprocesses = 2
graceful_timeout = 60
env = {{ TEST_TAG = "{tag}" }}
"""


def test_tuiman_sigkilled_leaves_no_pty_process_behind(tmp_path: Path, tag: str) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text(TREE.format(tag=tag))
    with headless(config, tag=tag) as run:
        wait_until_sync(lambda: len(tagged_pids(tag)) == 4, timeout=20)
        roster = tagged_pids(tag)
        run.send(signal.SIGKILL)
        run.wait(10)
        wait_until_sync(lambda: not [pid for pid in roster if alive(pid)], timeout=5.0)
        assert tagged_pids(tag) == []


async def test_a_config_reload_keeps_the_terminal_size(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(probe_toml(tmp_path))
    assert (await request(arbiter, "resize", watcher="probe", rows=30, cols=100))["ok"]
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "hello" in line_of(e))
    (tmp_path / "tuiman.toml").write_text(
        textwrap.dedent(probe_toml(tmp_path, extra="graceful_timeout = 2"))
    )
    applied, changes = await arbiter.reload_config()
    assert applied, changes
    hello = await next_event(sub, Kind.OUTPUT, "probe", where=lambda e: "hello" in line_of(e))
    assert report(hello)["size"] == [30, 100]


def test_terminal_keys_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text(
        textwrap.dedent(
            """
            [watchers.a]
            cmd = "cat"
            pty = "yes"
            stdin = "file"
            [watchers.b]
            cmd = "cat"
            pty = true
            stdin = "pipe"
            [watchers.c]
            cmd = "cat"
            stdin = "pipe"
            """
        )
    )
    with pytest.raises(ConfigError) as raised:
        load_config_text(config.read_text(), config, display_name="tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == [
        'tuiman.toml: watchers.a.pty: expected a boolean, got string "yes"',
        'tuiman.toml: watchers.a.stdin: expected "null" or "pipe", got string "file"',
        "tuiman.toml: watchers.b.stdin: a watcher with pty = true reads its terminal:"
        ' drop stdin = "pipe"',
    ]


async def test_the_log_file_gets_the_readable_lines(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    log = tmp_path / "bar.log"
    arbiter = arbiter_factory(
        progress_toml(tmp_path, pty=True) + f'\n        output = {{ file = "{log}" }}\n'
    )
    await arbiter.start()
    await wait_until(lambda: log.exists() and "done" in log.read_text())
    text = log.read_text()
    assert "progress 100%" in text and "\x1b" not in text and "\r" not in text
    assert "progress 25%" not in text


def test_a_process_has_one_stdin(tmp_path: Path) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text(
        textwrap.dedent(
            """
            [sockets.web]
            host = "127.0.0.1"
            port = 0
            [watchers.a]
            cmd = "cat"
            pty = true
            stdin_socket = "web"
            [watchers.b]
            cmd = "cat"
            stdin = "pipe"
            stdin_socket = "web"
            """
        )
    )
    with pytest.raises(ConfigError) as raised:
        load_config_text(config.read_text(), config, display_name="tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == [
        "tuiman.toml: watchers.a.stdin_socket: a watcher with pty = true reads its terminal",
        'tuiman.toml: watchers.b.stdin_socket: the socket is its stdin: drop stdin = "pipe"',
    ]

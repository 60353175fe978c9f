"""Log files under attack (docs/reliability.md#log-files-never-stall-tuiman): a FIFO as one
watcher's log file, nobody reading it or a reader that never reads, must not stop the other
watchers' files from being written; a disk that is full is reported, once per burst, as a
`log_error` event and in the status; rotation settings that would turn the writer into a busy
loop are refused by the config check, for TOML and for Circus INI alike.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import TUIMAN
from tests.support.waiting import wait_until
from tuiman.core.events import Event, Kind
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

pytestmark = pytest.mark.timeout(60)

LINES = 50
PRINT_LINES = f"i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo line $i; done; exec sleep 300"
# ~3 MiB in 64 KiB lines: more than a pipe and the writer's pending bytes can hold
FLOOD = "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 65000; exec sleep 300"


def status_of(reply: dict[str, Any], name: str) -> dict[str, Any]:
    watchers: list[dict[str, Any]] = reply["watchers"]
    return next(w for w in watchers if w["name"] == name)


async def test_a_fifo_log_file_never_stalls_the_other_watchers(
    arbiter_factory: Any, tmp_path: Path, tag: str
) -> None:
    unread, idle = tmp_path / "unread.fifo", tmp_path / "idle.fifo"
    os.mkfifo(unread)  # nobody ever opens it for reading
    os.mkfifo(idle)
    idle_reader = os.open(idle, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read
    web_log = tmp_path / "web.log"
    try:
        arbiter: Arbiter = arbiter_factory(
            f"""
[watchers.unread]
cmd = ["sh", "-c", {json.dumps(PRINT_LINES)}]
env = {{ TEST_TAG = "{tag}" }}
output = {{ file = "{unread}" }}
[watchers.idle]
cmd = ["sh", "-c", {json.dumps(FLOOD)}]
env = {{ TEST_TAG = "{tag}" }}
output = {{ file = "{idle}" }}
[watchers.web]
cmd = ["sh", "-c", {json.dumps(PRINT_LINES)}]
env = {{ TEST_TAG = "{tag}" }}
output = {{ file = "{web_log}" }}
priority = -1
"""
        )
        events = arbiter.bus.subscribe(maxsize=100_000)
        await arbiter.start()

        def web_lines() -> int:
            return web_log.read_text().count("\n") if web_log.exists() else 0

        await wait_until(lambda: web_lines() == LINES, timeout=15)
        errors: dict[str, str] = {}

        def both_reported() -> bool:
            for event in events.drain():
                if event.kind == Kind.LOG_ERROR and event.watcher is not None:
                    errors[event.watcher] = event.payload["error"]
            return {"unread", "idle"} <= errors.keys()

        await wait_until(both_reported, timeout=15)
        assert "web" not in errors
        assert str(unread) in errors["unread"] and "\n" not in errors["unread"]
        sinks = [arbiter.get(name).file_sink for name in ("unread", "idle")]
        await wait_until(lambda: all(sink is not None and sink.dropped > 0 for sink in sinks))
        status = await execute(arbiter, {"command": "status"})
        assert status_of(status, "unread")["log_files"]["dropped"] > 0
        assert status_of(status, "idle")["log_files"]["dropped"] > 0
        assert "log_files" not in status_of(status, "web")
    finally:
        os.close(idle_reader)


async def test_disk_full_is_one_event_per_burst_and_shown_in_status(
    arbiter_factory: Any, tmp_path: Path, tag: str
) -> None:
    arbiter: Arbiter = arbiter_factory(
        f"""
[watchers.full]
cmd = ["sh", "-c", {json.dumps(PRINT_LINES)}]
env = {{ TEST_TAG = "{tag}" }}
output = {{ file = "/dev/full" }}
"""
    )
    events = arbiter.bus.subscribe(maxsize=100_000)
    await arbiter.start()
    watcher = arbiter.get("full")
    await wait_until(lambda: len(watcher.output.lines()) == LINES)
    sink = watcher.file_sink
    assert sink is not None
    reported: list[Event] = []

    def collect() -> bool:
        reported.extend(event for event in events.drain() if event.kind == Kind.LOG_ERROR)
        return bool(reported) and sink.dropped == LINES

    await wait_until(collect, timeout=10)
    status = await execute(arbiter, {"command": "status"})  # a round trip on the loop
    collect()
    assert len(reported) == 1, reported  # once per burst, not once per line
    assert reported[0].payload["error"] == "/dev/full: cannot write: No space left on device"
    assert status_of(status, "full")["log_files"] == {
        "error": "/dev/full: cannot write: No space left on device",
        "dropped": LINES,
    }


ROTATION_TOML = """
[watchers.web]
cmd = ["sleep", "1"]
output = { file = "web.log", backup_count = 1000000000, max_bytes = 10 }
"""
ROTATION_INI = """
[watcher:web]
cmd = sleep 1
stdout_stream.class = FileStream
stdout_stream.filename = web.log
stdout_stream.max_bytes = 10
stdout_stream.backup_count = 1000000000
"""


@pytest.mark.parametrize(
    ("name", "text", "keys"),
    [
        (
            "tuiman.toml",
            ROTATION_TOML,
            ("watchers.web.output.max_bytes", "watchers.web.output.backup_count"),
        ),
        (
            "circus.ini",
            ROTATION_INI,
            ("[watcher:web] stdout_stream.max_bytes", "[watcher:web] stdout_stream.backup_count"),
        ),
    ],
)
def test_rotation_that_would_burn_a_core_is_refused(
    tmp_path: Path, name: str, text: str, keys: tuple[str, str]
) -> None:
    config = tmp_path / name
    config.write_text(text)
    result = subprocess.run(
        [*TUIMAN, "check", "-c", name],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert lines == [
        f"{name}: {keys[0]}: must be 0 (never rotate) or >= 4096, got 10",
        f"{name}: {keys[1]}: must be <= 1000, got 1000000000",
    ], json.dumps(lines)
    assert not (tmp_path / "web.log").exists()

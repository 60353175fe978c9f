"""What a child sees (docs/supervision.md#spawn, docs/configuration.md#expansion) and where its
output goes (docs/output-and-stats.md): checked from inside the child."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.core import ArbiterFactory, next_event
from tests.support.waiting import wait_until
from tuiman.core.events import Kind

PY = sys.executable

REPORT = """
import json, os, resource, sys
fds = sorted(int(fd) for fd in os.listdir('/proc/self/fd'))
json.dump({
    'argv': sys.argv[1:],
    'port': os.environ.get('PORT'),
    'level': os.environ.get('LOG_LEVEL'),
    'marker': os.environ.get('TUIMAN_INSTANCE'),
    'sid_is_self': os.getsid(0) == os.getpid(),
    'pgid_is_self': os.getpgid(0) == os.getpid(),
    'stdin': os.readlink('/proc/self/fd/0'),
    'fds': fds,
    'nofile': resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    'uid': os.getuid(),
    'cwd': os.getcwd(),
}, open(os.environ['OUT'] + '.' + os.environ['PORT'], 'w'))
"""


async def test_child_environment_session_fds_and_expansion(arbiter_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "work").mkdir()
    (tmp_path / "report.py").write_text(REPORT)
    out = tmp_path / "out"
    arbiter = arbiter_factory(
        f"""
        [env]
        LOG_LEVEL = "debug"
        [watchers.probe]
        cmd = [
            {PY!r}, "{tmp_path / "report.py"}",
            "--wid=$(tuiman.wid)", "--name=$(tuiman.name)", "--port=$(tuiman.env.PORT)",
        ]
        numprocesses = 2
        working_dir = "work"
        respawn = false
        rlimits = {{ nofile = 512 }}
        env = {{ PORT = "80$(tuiman.wid)", OUT = "{out}" }}
        [watchers.signals]
        # grep, not Python: the Python runtime itself ignores SIGPIPE and SIGXFSZ at start-up
        cmd = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
        respawn = false
        """
    )
    await arbiter.start()
    await wait_until(lambda: Path(f"{out}.801").exists() and Path(f"{out}.802").exists())
    await wait_until(lambda: all(not p.alive for p in arbiter.get("probe").processes.values()))
    first = json.loads(Path(f"{out}.801").read_text())
    second = json.loads(Path(f"{out}.802").read_text())
    assert first["argv"] == ["--wid=1", "--name=probe", "--port=801"]
    assert second["argv"] == ["--wid=2", "--name=probe", "--port=802"]
    assert first["level"] == "debug"
    assert first["marker"] == arbiter.marker
    assert first["sid_is_self"] and first["pgid_is_self"]
    assert first["stdin"] == "/dev/null"
    assert first["fds"][:3] == [0, 1, 2] and len(first["fds"]) <= 4  # +1: listdir's own fd
    await wait_until(lambda: len(arbiter.get("signals").output.lines()) == 2)
    masks = dict(ln.text.split(":") for ln in arbiter.get("signals").output.lines())
    # glibc's posix_spawn leaves its own two internal signals (32, 33) ignored, as in Popen's
    # posix_spawn path; every signal a user may send is at its default
    glibc_internal = (1 << 31) | (1 << 32)
    assert int(masks["SigBlk"], 16) == 0
    assert int(masks["SigIgn"], 16) & ~glibc_internal == 0
    assert first["nofile"] == 512
    assert first["cwd"] == str(tmp_path / "work")


@pytest.mark.skipif(os.geteuid() != 0, reason="uid= needs root")
async def test_uid_is_applied_when_root(arbiter_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pwd

    nobody = pwd.getpwnam("nobody")
    arbiter = arbiter_factory(
        """
        [watchers.low]
        cmd = "sleep 300"
        uid = "nobody"
        """
    )
    await arbiter.start()
    pid = next(iter(arbiter.get("low").processes))
    with open(f"/proc/{pid}/status") as status:
        uid_line = next(line for line in status if line.startswith("Uid:"))
    assert int(uid_line.split()[1]) == nobody.pw_uid


async def test_output_goes_to_ring_buffer_events_and_rotated_file(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    script = (
        "import sys\n"
        "for n in range(300): print(f'\\x1b[31mline {n:03d}\\x1b[0m ' + 'x' * 60)\n"
        "print('err!', file=sys.stderr)\n"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.talk]
        cmd = [{PY!r}, "-c", {script!r}]
        respawn = false
        [watchers.talk.output]
        file = "logs/talk.log"
        max_bytes = 8000
        backup_count = 2
        """
    )
    sub = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    err = await next_event(
        sub, Kind.OUTPUT, "talk", where=lambda e: e.payload["stream"] == "stderr"
    )
    assert err.payload["line"] == "err!"
    lines = arbiter.get("talk").output.lines()
    stdout_lines = [ln.text for ln in lines if ln.stream == "stdout"]
    assert len(stdout_lines) == 300
    assert stdout_lines[0].startswith("\x1b[31mline 000")  # ANSI kept for display
    await next_event(sub, Kind.STOP, "talk")
    for watcher in arbiter.watchers.values():
        assert watcher.file_sink is not None
        assert watcher.file_sink.close(5.0)
    log_dir = tmp_path / "logs"
    assert sorted(p.name for p in log_dir.iterdir()) == ["talk.log", "talk.log.1", "talk.log.2"]
    newest = (log_dir / "talk.log").read_text()
    assert "\x1b" not in newest and "[" in newest
    assert all(p.stat().st_size <= 8000 for p in log_dir.iterdir())


async def test_stats_are_sampled_only_while_someone_subscribes(arbiter_factory) -> None:  # type: ignore[no-untyped-def]
    arbiter = arbiter_factory(
        """
        [tuiman]
        stats_interval = 0.1
        [watchers.busy]
        cmd = "sleep 300"
        numprocesses = 2
        """
    )
    await arbiter.start()
    sub = arbiter.bus.subscribe(snapshot=False)
    arbiter.stats.acquire()
    stats = await next_event(sub, Kind.STATS, "busy", timeout=5)
    assert set(stats.payload["processes"]) == {str(pid) for pid in arbiter.get("busy").processes}
    assert stats.payload["rss"] > 0
    arbiter.stats.release()
    sub.drain()
    await asyncio.sleep(0.35)  # the behaviour under test: three intervals without a sample
    assert [e for e in sub.drain() if e.kind == Kind.STATS] == []

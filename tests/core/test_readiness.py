"""Readiness, liveness and dependencies (docs/readiness.md) with real servers and real processes:
a web server that binds 1.5 s after it starts, probed by tcp, http and its log line; dependents
that start only once it is ready (timestamps from the events); liveness restarts; notify."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.core.test_payloads import check_keys
from tests.support.core import ArbiterFactory
from tests.support.servers import CLIENT, SLOW_SERVER, free_port
from tests.support.waiting import wait_until
from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.events import Event, Kind
from tuiman.core.payloads import payload_type
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

PY = sys.executable


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    (tmp_path / "slow_server.py").write_text(SLOW_SERVER)
    (tmp_path / "client.py").write_text(CLIENT)
    return tmp_path


def recorder(arbiter: Arbiter) -> list[Event]:
    """Every event from now on, in order (a synchronous tap: nothing is dropped)."""
    events: list[Event] = []
    arbiter.bus.add_tap(events.append)
    return events


def first(events: list[Event], kind: str, watcher: str, **payload: object) -> Event:
    for event in events:
        matches = all(event.payload.get(key) == value for key, value in payload.items())
        if event.kind == kind and event.watcher == watcher and matches:
            typed = payload_type(event.kind, event.watcher)
            assert typed is not None, event.kind
            check_keys(typed, event.payload, f"{event.kind} ({event.watcher})")
            return event
    raise AssertionError(f"no {kind} event of {watcher} with {payload}")


def has(events: list[Event], kind: str, watcher: str, **payload: object) -> bool:
    try:
        first(events, kind, watcher, **payload)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize(
    "probe",
    ['tcp = "127.0.0.1:{port}"', 'http = "http://127.0.0.1:{port}/"', 'log = "listening on"'],
)
async def test_dependent_starts_only_once_the_slow_server_is_ready(
    arbiter_factory: ArbiterFactory, scripts: Path, probe: str
) -> None:
    port = free_port()
    arbiter = arbiter_factory(
        f"""
        [watchers.server]
        cmd = "{PY} {scripts}/slow_server.py 1.5 {port}"
        [watchers.server.ready]
        {probe.format(port=port)}
        interval = 0.1
        [watchers.client]
        cmd = "{PY} {scripts}/client.py {port}"
        respawn = false
        depends_on = {{ server = "ready" }}
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: has(events, Kind.REAP, "client"), 20)
    assert first(events, Kind.REAP, "client").payload["exit_code"] == 0  # connected at once
    spawned = first(events, Kind.SPAWN, "server")
    listening = first(events, Kind.OUTPUT, "server")
    ready = first(events, Kind.READY, "server", pid=spawned.payload["pid"])
    client_spawn = first(events, Kind.SPAWN, "client")
    assert first(events, Kind.WAITING, "client").payload == {"waiting_for": ["server (ready)"]}
    assert spawned.time + 1.5 <= listening.time <= ready.time <= client_spawn.time
    assert spawned.seq < listening.seq < ready.seq < client_spawn.seq
    assert has(events, Kind.READY, "server")  # the watcher, not only its process
    assert arbiter.get("server").ready


async def test_succeeded_gates_web_and_a_failed_migration_blocks_it(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    config = """
        [watchers.migrate]
        cmd = "sh -c 'sleep 0.2; exit {code}'"
        respawn = false
        [watchers.web]
        cmd = "sleep 60"
        depends_on = {{ migrate = "succeeded" }}
        """
    good = arbiter_factory(config.format(code=0))
    events = recorder(good)
    await good.start()
    web_spawn = first(events, Kind.SPAWN, "web")
    assert first(events, Kind.REAP, "migrate").seq < web_spawn.seq
    assert good.get("web").state == WatcherState.ACTIVE and not good.failures

    bad = arbiter_factory(config.format(code=1))
    events = recorder(bad)
    await bad.start()
    blocked = first(events, Kind.BLOCKED, "web")
    assert blocked.payload == {
        "dependency": "migrate",
        "condition": "succeeded",
        "reason": "migrate exited with 1",
    }
    web = bad.get("web")
    assert web.blocked == "migrate exited with 1" and not web.started_ever
    assert not has(events, Kind.SPAWN, "web")
    assert "web: blocked: migrate exited with 1" in bad.failures
    assert bad.all_done.is_set()  # headless ends (and exits 1: the failures)
    assert web.snapshot()["readiness"]["blocked"] == "migrate exited with 1"


async def test_a_vetoing_before_start_on_a_dependent_still_wins(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    module = f"veto_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "def no(watcher, arbiter, hook_name, **kwargs):\n    return False\n"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.db]
        cmd = "sleep 60"
        [watchers.web]
        cmd = "sleep 60"
        depends_on = {{ db = "started" }}
        [watchers.web.hooks]
        before_start = "{module}.no"
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    assert arbiter.get("db").state == WatcherState.ACTIVE
    veto = first(events, Kind.HOOK_SUCCESS, "web")
    assert veto.payload["name"] == "before_start" and veto.payload["vetoed"]
    assert first(events, Kind.START, "db").seq < veto.seq
    assert not has(events, Kind.SPAWN, "web")
    assert arbiter.get("web").state == WatcherState.STOPPED


async def test_quit_stops_dependents_before_their_dependencies(
    arbiter_factory: ArbiterFactory,
) -> None:
    # Priorities alone would stop db first (ascending priority); its dependents go before it.
    arbiter = arbiter_factory(
        """
        [watchers.db]
        cmd = "sleep 60"
        priority = -5
        [watchers.api]
        cmd = "sleep 60"
        priority = 10
        depends_on = { db = "started" }
        [watchers.web]
        cmd = "sleep 60"
        priority = 20
        depends_on = { api = "started" }
        [watchers.tool]
        cmd = "sleep 60"
        priority = 30
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    assert [lvl[0].name for lvl in arbiter.stop_levels()] == ["web", "tool", "api", "db"]
    await arbiter.quit()
    stops = [e.watcher for e in events if e.kind == Kind.STOP]
    assert stops.index("web") < stops.index("api") < stops.index("db")


def test_a_dependency_cycle_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tuiman.toml"
    path.write_text(
        textwrap.dedent(
            """
            [watchers.a]
            cmd = "true"
            depends_on = { b = "started" }
            [watchers.b]
            cmd = "true"
            depends_on = { c = "completed" }
            [watchers.c]
            cmd = "true"
            depends_on = { a = "started" }
            [watchers.d]
            cmd = "true"
            depends_on = { a = "ready", nope = "started", e = "succeeded" }
            [watchers.e]
            cmd = "true"
            """
        )
    )
    with pytest.raises(ConfigError) as refused:
        load_config_text(path.read_text(), path, cwd=tmp_path)
    errors = refused.value.errors
    assert any("dependency cycle: a -> b -> c -> a" in line for line in errors), errors
    assert any("watchers.d.depends_on.a: 'a' has no readiness probe" in line for line in errors)
    assert any("watchers.d.depends_on.nope: no watcher named 'nope'" in line for line in errors)
    assert any(
        "watchers.d.depends_on.e: 'e' is respawned whenever it exits (respawn = true): "
        "'succeeded' is never reached" in line
        for line in errors
    )


async def test_readiness_is_earned_again_by_a_respawned_process(
    arbiter_factory: ArbiterFactory, scripts: Path
) -> None:
    port = free_port()
    arbiter = arbiter_factory(
        f"""
        [watchers.server]
        cmd = "{PY} {scripts}/slow_server.py 0.3 {port}"
        [watchers.server.ready]
        http = "http://127.0.0.1:{port}/"
        interval = 0.1
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    server = arbiter.get("server")
    await wait_until(lambda: server.ready)
    old_pid = next(iter(server.processes))
    os.kill(old_pid, 9)
    await wait_until(lambda: has(events, Kind.UNREADY, "server", pid=old_pid))
    new_pid = await wait_until(lambda: next((p for p in server.processes if p != old_pid), 0))
    assert server.probes.process_state(new_pid) in ("waiting", "probing", "ready")
    await wait_until(lambda: server.ready and new_pid in server.processes)
    watcher_changes = [e.kind for e in events if e.watcher == "server" and "pid" not in e.payload]
    ready_changes = [k for k in watcher_changes if k in (Kind.READY, Kind.UNREADY)]
    assert ready_changes == [Kind.READY, Kind.UNREADY, Kind.READY]
    assert first(events, Kind.READY, "server", pid=new_pid)


async def test_probe_targets_expand_per_process(arbiter_factory: ArbiterFactory) -> None:
    # Slot 2 prints the token of slot 1 first: its own probe must not take that line.
    arbiter = arbiter_factory(
        """
        [watchers.pair]
        cmd = "echo token abc-1; sleep 0.3; echo token $TOKEN; exec sleep 60"
        shell = true
        numprocesses = 2
        [watchers.pair.env]
        TOKEN = "abc-$(tuiman.wid)"
        [watchers.pair.ready]
        log = "^token $(tuiman.env.TOKEN)$"
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    pair = arbiter.get("pair")
    await wait_until(lambda: pair.ready)
    by_wid = {e.payload["wid"]: e for e in events if e.kind == Kind.READY and "pid" in e.payload}
    outputs = [e for e in events if e.kind == Kind.OUTPUT]
    second_line_of_2 = [e for e in outputs if e.payload["wid"] == 2][1]
    assert second_line_of_2.payload["line"] == "token abc-2"
    assert by_wid[2].seq > second_line_of_2.seq
    assert by_wid[1].seq < second_line_of_2.seq


async def test_notify_ready_status_and_stopping_from_a_stdlib_child(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    (tmp_path / "notifier.py").write_text(
        textwrap.dedent(
            """
            import os, socket, sys, time
            path = os.environ["NOTIFY_SOCKET"]
            mode = oct(os.stat(path).st_mode & 0o777)
            def send(text):
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                    s.sendto(text.encode(), path)
            send("STATUS=warming up")
            time.sleep(0.3)
            send("READY=1\\nSTATUS=serving " + mode)
            time.sleep(0.5)
            send("STOPPING=1")
            time.sleep(60)
            """
        )
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.svc]
        cmd = "{PY} {tmp_path}/notifier.py"
        [watchers.svc.ready]
        notify = true
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    svc = arbiter.get("svc")
    pid = next(iter(svc.processes))
    await wait_until(lambda: has(events, Kind.UNREADY, "svc", pid=pid))
    statuses = [e.payload["status"] for e in events if e.kind == Kind.NOTIFY]
    assert statuses == ["warming up", "serving 0o600"]
    ready = first(events, Kind.READY, "svc", pid=pid)
    assert first(events, Kind.NOTIFY, "svc").seq < ready.seq
    assert first(events, Kind.UNREADY, "svc", pid=pid).payload["reason"] == "stopping (STOPPING=1)"
    snapshot = svc.snapshot()["readiness"]
    assert snapshot["status"] == {str(pid): "serving 0o600"}
    assert snapshot["processes"] == {str(pid): "unready"}
    socket_path = next(
        line.split("=", 1)[1]
        for line in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
        if line.startswith("NOTIFY_SOCKET=")
    )
    directory = os.path.dirname(socket_path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    await arbiter.quit()
    assert not os.path.exists(directory)


@pytest.mark.skipif(shutil.which("systemd-notify") is None, reason="no systemd-notify here")
async def test_notify_ready_from_systemd_notify(arbiter_factory: ArbiterFactory) -> None:
    arbiter = arbiter_factory(
        """
        [watchers.svc]
        cmd = "sleep 0.2; systemd-notify --ready --status='up'; exec sleep 60"
        shell = true
        [watchers.svc.ready]
        notify = true
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: arbiter.get("svc").ready)
    pid = next(iter(arbiter.get("svc").processes))
    assert first(events, Kind.READY, "svc", pid=pid)


async def test_a_failing_liveness_probe_restarts_the_process_and_counts_as_a_crash(
    arbiter_factory: ArbiterFactory, scripts: Path, tmp_path: Path
) -> None:
    port = free_port()
    status_file = tmp_path / "status"
    arbiter = arbiter_factory(
        f"""
        [watchers.web]
        cmd = "{PY} {scripts}/slow_server.py 0 {port} {status_file}"
        [watchers.web.ready]
        tcp = "127.0.0.1:{port}"
        interval = 0.1
        [watchers.web.alive]
        http = "http://127.0.0.1:{port}/health"
        interval = 0.1
        failures = 3
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    web = arbiter.get("web")
    await wait_until(lambda: web.ready)
    pid = next(iter(web.processes))
    await wait_until(lambda: has(events, Kind.PROBE, "web", probe="alive", ok=True))
    status_file.write_text("503")
    liveness = await wait_until(lambda: has(events, Kind.LIVENESS, "web", pid=pid), 15)
    assert liveness
    event = first(events, Kind.LIVENESS, "web", pid=pid)
    assert event.payload["reason"] == "liveness"
    assert event.payload["detail"] == "HTTP 503 Service Unavailable (3 failed tries in a row)"
    failed_tries = [e for e in events if e.kind == Kind.PROBE and e.payload["probe"] == "alive"]
    assert [e.payload["ok"] for e in failed_tries] == [True, False]  # coalesced: changes only
    await wait_until(lambda: has(events, Kind.REAP, "web", pid=pid))  # after the stop signal
    reap = first(events, Kind.REAP, "web", pid=pid)
    assert reap.payload["process_status"] is None  # tuiman-caused
    assert first(events, Kind.KILL, "web", pid=pid).seq < reap.seq
    status_file.write_text("200")
    await wait_until(lambda: any(p != pid for p in web.processes))
    assert web.slots[1].history.consecutive_short == 1  # counted toward the restart policy
    assert web.restarts == 1


async def test_a_process_growing_past_max_memory_is_restarted(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    (tmp_path / "grow.py").write_text(
        "import time\nblocks = []\ntime.sleep(0.3)\n"
        "for _ in range(40):\n    blocks.append(bytearray(4 << 20))\n    time.sleep(0.01)\n"
        "time.sleep(60)\n"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.hog]
        cmd = "{PY} {tmp_path}/grow.py"
        [watchers.hog.alive]
        max_memory = "100M"
        failures = 2
        interval = 0.1
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    pid = next(iter(arbiter.get("hog").processes))
    await wait_until(lambda: has(events, Kind.LIVENESS, "hog", pid=pid), 20)
    detail = first(events, Kind.LIVENESS, "hog", pid=pid).payload["detail"]
    assert "above max_memory 100.0M (2 failed tries in a row)" in detail
    await wait_until(lambda: any(p != pid for p in arbiter.get("hog").processes))


async def test_exec_probe_runs_in_the_process_environment_and_a_hung_try_is_killed(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    hung_pids = tmp_path / "hung"
    arbiter = arbiter_factory(
        f"""
        [watchers.svc]
        cmd = "sleep 60"
        env = {{ FLAG = "{flag}" }}
        [watchers.svc.ready]
        exec = "echo $$ >> {hung_pids}; test -e $FLAG-$(tuiman.wid) || exec sleep 30"
        interval = 0.05
        timeout = 0.3
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    svc = arbiter.get("svc")
    await wait_until(lambda: has(events, Kind.PROBE, "svc", ok=False))
    failure = first(events, Kind.PROBE, "svc", ok=False)
    assert failure.payload["error"] == "no answer within 0.3s"
    Path(f"{flag}-1").touch()
    await wait_until(lambda: svc.ready, 10)
    tried = [int(pid) for pid in hung_pids.read_text().split()]
    assert len(tried) >= 2
    await wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in tried[:-1]))


async def test_max_cpu_restarts_a_spinning_process(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    (tmp_path / "spin.py").write_text("while True:\n    pass\n")
    arbiter = arbiter_factory(
        f"""
        [watchers.spin]
        cmd = "{PY} {tmp_path}/spin.py"
        [watchers.spin.alive]
        max_cpu = 20.0
        failures = 2
        interval = 0.3
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    pid = next(iter(arbiter.get("spin").processes))
    await wait_until(lambda: has(events, Kind.LIVENESS, "spin", pid=pid), 20)
    detail = first(events, Kind.LIVENESS, "spin", pid=pid).payload["detail"]
    assert "above max_cpu 20% (2 failed tries in a row)" in detail


async def test_a_notify_process_that_stops_its_watchdog_pings_is_restarted(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    (tmp_path / "pinger.py").write_text(
        textwrap.dedent(
            """
            import os, socket, time
            path = os.environ["NOTIFY_SOCKET"]
            assert os.environ["WATCHDOG_USEC"] == "400000"
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(b"READY=1", path)
                for _ in range(8):
                    s.sendto(b"WATCHDOG=1", path)
                    time.sleep(0.1)
            time.sleep(60)  # hangs: no more pings
            """
        )
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.svc]
        cmd = "{PY} {tmp_path}/pinger.py"
        [watchers.svc.ready]
        notify = true
        [watchers.svc.alive]
        notify_watchdog = 0.4
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    svc = arbiter.get("svc")
    pid = next(iter(svc.processes))
    await wait_until(lambda: has(events, Kind.LIVENESS, "svc", pid=pid), 15)
    liveness = first(events, Kind.LIVENESS, "svc", pid=pid)
    assert liveness.payload["detail"].startswith("no WATCHDOG=1 for 0.")
    assert liveness.time - first(events, Kind.SPAWN, "svc").time >= 0.8  # the pings counted
    await wait_until(lambda: any(p != pid for p in svc.processes))


async def test_a_waiting_dependent_holds_up_no_other_watcher(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.slow]
        cmd = "sleep 60"
        [watchers.slow.ready]
        exec = "test -e {tmp_path}/go"
        interval = 0.05
        [watchers.first]
        cmd = "sleep 60"
        priority = 100
        depends_on = {{ slow = "ready" }}
        [watchers.last]
        cmd = "sleep 60"
        priority = -100
        """
    )
    events = recorder(arbiter)
    start = asyncio.ensure_future(arbiter.start())
    await wait_until(lambda: arbiter.get("last").state == WatcherState.ACTIVE)
    assert arbiter.get("first").waiting_for == ["slow (ready)"]
    assert not start.done()  # the start-all ends once every dependent has started
    (tmp_path / "go").touch()
    await asyncio.wait_for(start, 10)
    assert first(events, Kind.SPAWN, "last").seq < first(events, Kind.SPAWN, "first").seq
    assert first(events, Kind.READY, "slow").seq < first(events, Kind.SPAWN, "first").seq


async def test_hostile_answers_and_a_bad_expanded_pattern_are_failed_checks(
    arbiter_factory: ArbiterFactory,
) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"x" * 200_000)  # no line end: more than a line may hold
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        arbiter = arbiter_factory(
            f"""
            [watchers.web]
            cmd = "sleep 60"
            [watchers.web.ready]
            http = "http://127.0.0.1:{port}/"
            interval = 0.1
            [watchers.logs]
            cmd = "sleep 60"
            env = {{ PATTERN = "(unclosed" }}
            [watchers.logs.ready]
            log = "$(tuiman.env.PATTERN)"
            """
        )
        events = recorder(arbiter)
        await arbiter.start()
        await wait_until(lambda: has(events, Kind.PROBE, "web", ok=False))
        await wait_until(lambda: has(events, Kind.PROBE, "logs", ok=False))
        web_error = first(events, Kind.PROBE, "web", ok=False).payload["error"]
        assert "limit" in web_error or "not an HTTP answer" in web_error, web_error
        logs_error = first(events, Kind.PROBE, "logs", ok=False).payload
        assert logs_error["check"] == "probe"
        assert logs_error["error"].startswith("error: missing ), unterminated subpattern")
        assert arbiter.get("web").state == WatcherState.ACTIVE and not arbiter.get("web").ready
    finally:
        server.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="uid= needs root")
async def test_a_notify_child_running_as_another_user_reaches_its_socket(
    arbiter_factory: ArbiterFactory,
) -> None:
    arbiter = arbiter_factory(
        """
        [watchers.low]
        cmd = ["/usr/bin/python3", "-c", '''
import os, socket, time
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
time.sleep(60)
''']
        uid = "nobody"
        [watchers.low.ready]
        notify = true
        """
    )
    events = recorder(arbiter)
    await arbiter.start()
    await wait_until(lambda: arbiter.get("low").ready or has(events, Kind.REAP, "low"))
    assert arbiter.get("low").ready, [e.payload for e in events if e.kind == Kind.OUTPUT]


async def test_a_dependency_whose_after_stop_hook_is_slow_still_releases_its_dependent(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    # migrate's last state event comes before its after_stop hook ends: the condition is
    # judged once its command has settled, and that must wake the waiting web.
    module = f"slow_stop_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import time\n\ndef slow(watcher, arbiter, hook_name, **kwargs):\n    time.sleep(0.3)\n"
    )
    arbiter = arbiter_factory(
        f"""
        [watchers.migrate]
        cmd = "true"
        respawn = false
        [watchers.migrate.hooks]
        after_stop = "{module}.slow"
        [watchers.web]
        cmd = "sleep 60"
        depends_on = {{ migrate = "succeeded" }}
        """
    )
    events = recorder(arbiter)
    await asyncio.wait_for(arbiter.start(), 10)
    assert arbiter.get("web").state == WatcherState.ACTIVE
    hook = first(events, Kind.HOOK_SUCCESS, "migrate", name="after_stop")
    assert hook.seq < first(events, Kind.SPAWN, "web").seq


async def test_a_watcher_added_by_a_reload_waits_for_its_dependencies(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    flag = tmp_path / "db-is-ready"
    base = f"""
        [watchers.db]
        cmd = "sleep 60"
        [watchers.db.ready]
        exec = "test -f {flag}"
        interval = 0.1
        """
    arbiter = arbiter_factory(base)
    events = recorder(arbiter)
    await arbiter.start()
    source = Path(arbiter.config.source)
    source.write_text(
        textwrap.dedent(base)
        + textwrap.dedent(
            """
            [watchers.web]
            cmd = "sleep 60"
            depends_on = { db = "ready" }
            """
        )
    )
    applied, changes = await arbiter.reload_config()
    assert applied, changes
    assert changes == ["added web"]
    await wait_until(lambda: has(events, Kind.WAITING, "web"), 10)
    assert first(events, Kind.WAITING, "web").payload == {"waiting_for": ["db (ready)"]}
    assert not has(events, Kind.SPAWN, "web")
    flag.touch()
    await wait_until(lambda: has(events, Kind.SPAWN, "web"), 10)
    assert first(events, Kind.READY, "db").seq < first(events, Kind.SPAWN, "web").seq

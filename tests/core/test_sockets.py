"""Sockets bound by tuiman (docs/configuration.md#sockets), with real servers and real clients."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.core import ArbiterFactory, make_config, next_event
from tests.support.socket_children import free_port, http_get, probe_records, write_children
from tests.support.waiting import wait_until
from tuiman.core.config.loader import ConfigError
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.sockets import SocketBindError, SocketTable

PY = sys.executable


def live_pids(arbiter: Arbiter, name: str) -> list[int]:
    return [pid for pid, process in arbiter.get(name).processes.items() if process.alive]


def bound_port(arbiter: Arbiter, name: str) -> int:
    port: int = arbiter.sockets.bound[name].sock.getsockname()[1]
    return port


WEB = f"""
[sockets.web]
host = "127.0.0.1"
port = 0

[watchers.web]
cmd = ["{PY}", "server.py", "$(tuiman.sockets.web)"]
use_sockets = true
numprocesses = 2
graceful_timeout = 10
"""


def follow_serving(arbiter: Arbiter) -> tuple[set[int], asyncio.Task[None]]:
    """The pids that printed "serving" (their server loop runs), filled in as they do."""
    serving: set[int] = set()
    subscription = arbiter.bus.subscribe(snapshot=False)

    async def follow() -> None:
        while True:
            event = await subscription.get()
            if event.kind == Kind.OUTPUT and event.payload.get("line") == "serving":
                serving.add(int(event.payload["pid"]))

    return serving, asyncio.ensure_future(follow())


async def test_a_thousand_requests_while_the_processes_restart_one_by_one(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    write_children(tmp_path)
    arbiter = arbiter_factory(WEB)
    serving, follower = follow_serving(arbiter)
    await arbiter.start()
    port = bound_port(arbiter, "web")
    watcher = arbiter.get("web")

    def both_serving() -> bool:
        pids = live_pids(arbiter, "web")
        return len(pids) == 2 and serving.issuperset(pids)

    await wait_until(both_serving)
    served_by: set[str] = set()
    refused: list[int] = []
    failed: list[str] = []
    restarts_done = threading.Event()
    sent = 0

    def client() -> None:
        # At least 1000 requests, and on until the restarts below are over: they overlap.
        nonlocal sent
        while sent < 1000 or not restarts_done.is_set():
            number, sent = sent, sent + 1
            try:
                served_by.add(http_get(port))
            except ConnectionRefusedError:
                refused.append(number)
            except OSError as error:
                failed.append(f"request {number}: {error!r}")

    requests = asyncio.ensure_future(asyncio.to_thread(client))
    restarted: list[int] = []
    for _round in range(4):
        for pid in live_pids(arbiter, "web"):
            await watcher.kill_process(pid)  # SIGTERM: it finishes its request and exits
            restarted.append(pid)
            await wait_until(both_serving)
    await watcher.restart()  # every process at once: the backlog holds the requests
    await wait_until(both_serving)
    restarts_done.set()
    await requests
    follower.cancel()
    assert (refused, failed) == ([], [])
    assert sent >= 1000
    assert len(restarted) == 8
    assert len(served_by) >= 6  # the answers really came from the processes being replaced
    assert arbiter.sockets.bound["web"].sock.fileno() >= 0


async def test_fd_numbers_expand_in_args_and_env_and_only_use_sockets_inherit(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    write_children(tmp_path)
    arbiter = arbiter_factory(
        f"""
        [env]
        PROBE_DIR = "{tmp_path}"

        [sockets.web]
        host = "127.0.0.1"
        port = 0

        [sockets.Local]
        path = "local.sock"

        [watchers.probe]
        cmd = "{PY} probe.py --fd=$(tuiman.sockets.web) fd://$(circus.sockets.local)"
        use_sockets = true
        env.PROBE_WEB = "$(tuiman.sockets.WEB)"
        env.PROBE_BOTH = "$(tuiman.sockets.web),$(tuiman.sockets.local)"

        [watchers.plain]
        cmd = "{PY} probe.py plain"
        """
    )
    await arbiter.start()
    records = await wait_until(lambda: probe_records(tmp_path)[1:] and probe_records(tmp_path))
    by_first_arg = {record["argv"][0]: record for record in records}
    web_fd = arbiter.sockets.bound["web"].fd
    local_fd = arbiter.sockets.bound["local"].fd
    probe = by_first_arg[f"--fd={web_fd}"]
    assert probe["argv"] == [f"--fd={web_fd}", f"fd://{local_fd}"]
    assert probe["env"]["PROBE_WEB"] == str(web_fd)
    assert probe["env"]["PROBE_BOTH"] == f"{web_fd},{local_fd}"
    assert probe["sockets"] == {
        str(web_fd): {
            "family": "AF_INET",
            "type": "SOCK_STREAM",
            "address": ["127.0.0.1", bound_port(arbiter, "web")],
            "listening": True,
            "nonblocking": True,  # as in Circus: blocking = false is the default
        },
        str(local_fd): {
            "family": "AF_UNIX",
            "type": "SOCK_STREAM",
            "address": str(tmp_path / "local.sock"),
            "listening": True,
            "nonblocking": True,
        },
    }
    assert by_first_arg["plain"]["sockets"] == {}  # not inheritable without use_sockets
    snapshot = arbiter.snapshot()
    assert [(s["name"], s["fd"]) for s in snapshot["sockets"]] == [
        ("web", web_fd),
        ("local", local_fd),
    ]
    watchers = {w["name"]: w for w in snapshot["watchers"]}
    assert [s["name"] for s in watchers["probe"]["sockets"]] == ["web", "local"]
    assert "sockets" not in watchers["plain"]


async def test_unix_sockets_take_their_umask_and_are_removed_at_the_end(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    stale = tmp_path / "stale.sock"
    stale.write_text("")
    arbiter = arbiter_factory(
        """
        [sockets.private]
        path = "private.sock"
        umask = 0o077

        [sockets.default]
        path = "default.sock"

        [sockets.stale]
        path = "stale.sock"
        replace = true
        """
    )
    await arbiter.start()
    assert stat.S_IMODE(os.stat(tmp_path / "private.sock").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "default.sock").st_mode) == 0o767  # Circus' umask 8
    assert stat.S_ISSOCK(os.stat(stale).st_mode)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(tmp_path / "private.sock"))
    await arbiter.quit()
    assert sorted(path.name for path in tmp_path.glob("*.sock")) == []


def test_an_existing_socket_file_is_refused_without_replace(tmp_path: Path) -> None:
    (tmp_path / "taken.sock").write_text("")
    config = make_config(tmp_path, '[sockets.taken]\npath = "taken.sock"\n')
    with pytest.raises(SocketBindError) as raised:
        SocketTable().bind_all(config.sockets)
    assert str(raised.value) == (
        f"socket taken: {tmp_path / 'taken.sock'} already exists "
        "(a stale socket file? remove it, or set replace = true)"
    )
    assert (tmp_path / "taken.sock").read_text() == ""  # left alone


def test_a_port_in_use_is_exit_2_naming_the_socket(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        (tmp_path / "tuiman.toml").write_text(
            f'[sockets.web]\nhost = "127.0.0.1"\nport = {port}\n\n'
            '[watchers.web]\ncmd = "sleep 300"\nuse_sockets = true\n'
        )
        result = subprocess.run(
            [PY, "-m", "tuiman", "-c", "tuiman.toml", "--headless"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == (
        f"{tmp_path / 'tuiman.toml'}: socket web: cannot bind 127.0.0.1:{port}: "
        "address already in use"
    )


def test_socket_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        make_config(
            tmp_path,
            """
            [sockets.web]
            port = 70000
            family = "AF_INET7"
            backlogg = 5

            [sockets.unix]
            family = "AF_UNIX"

            [watchers.web]
            cmd = "app $(tuiman.sockets.wbe)"
            on_demand = true

            [watchers.other]
            cmd = "app $(tuiman.sockets.web)"
            """,
        )
    label = "tuiman.toml"
    errors = [line.replace(str(tmp_path / label), label) for line in raised.value.errors]
    assert errors == [
        "tuiman.toml: sockets.web.family: expected one of AF_INET, AF_INET6, AF_UNIX, "
        "got 'AF_INET7' (did you mean AF_INET?)",
        "tuiman.toml: sockets.web.port: must be <= 65535, got 70000",
        "tuiman.toml: sockets.web.backlogg: unknown key (did you mean backlog?)",
        "tuiman.toml: sockets.unix.family: AF_UNIX needs a path",
        "tuiman.toml: watchers.web.cmd: unknown socket 'wbe' (did you mean web?)",
        "tuiman.toml: watchers.web.on_demand: "
        "needs use_sockets = true (or stdin_socket): the processes it starts must get the socket",
    ]


async def test_on_demand_starts_on_the_first_connection_and_again_after_a_stop(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    write_children(tmp_path)
    arbiter = arbiter_factory(WEB.replace("numprocesses = 2", "numprocesses = 1\non_demand = true"))
    await arbiter.start()
    watcher = arbiter.get("web")
    assert (watcher.state, live_pids(arbiter, "web")) == (WatcherState.STOPPED, [])
    assert not arbiter.all_done.is_set()  # it waits for a connection: headless keeps running
    port = bound_port(arbiter, "web")
    first = await asyncio.to_thread(http_get, port)  # waits in the backlog while it starts
    assert live_pids(arbiter, "web") == [int(first)]
    assert watcher.state == WatcherState.ACTIVE
    await watcher.stop()
    assert live_pids(arbiter, "web") == []
    second = await asyncio.to_thread(http_get, port)
    assert second != first
    assert watcher.state == WatcherState.ACTIVE


async def test_a_config_reload_keeps_an_unchanged_socket_open_and_rebinds_a_changed_one(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    write_children(tmp_path)
    arbiter = arbiter_factory(WEB + '\n[sockets.admin]\nhost = "127.0.0.1"\nport = 0\n')
    await arbiter.start()
    await wait_until(lambda: len(live_pids(arbiter, "web")) == 2)
    web_fd, old_admin = arbiter.sockets.bound["web"].fd, arbiter.sockets.bound["admin"].sock
    pids = set(live_pids(arbiter, "web"))
    port = bound_port(arbiter, "web")
    (tmp_path / "tuiman.toml").write_text(
        WEB + '\n[sockets.admin]\nhost = "127.0.0.1"\nport = 0\nbacklog = 16\n'
        '\n[sockets.extra]\npath = "extra.sock"\n'
    )
    applied, changes = await arbiter.reload_config()
    assert applied
    assert changes[:2] == ["socket extra: bound", "socket admin: bound again with its new settings"]
    assert arbiter.sockets.bound["web"].fd == web_fd
    assert old_admin.fileno() == -1  # closed: a new socket has the new backlog
    assert arbiter.sockets.bound["admin"].config.backlog == 16
    assert (tmp_path / "extra.sock").exists()
    assert set(live_pids(arbiter, "web")) == pids  # web uses only its own socket by name
    assert int(await asyncio.to_thread(http_get, port)) in pids


def test_run_waits_for_nothing_from_an_on_demand_watcher_and_its_client_starts_it(
    tmp_path: Path,
) -> None:
    write_children(tmp_path)
    (tmp_path / "tuiman.toml").write_text(
        f"""
[sockets.api]
path = "api.sock"

[watchers.api]
cmd = ["{PY}", "server.py", "$(tuiman.sockets.api)"]
use_sockets = true
on_demand = true
"""
    )
    client = (
        "import http.client, socket\n"
        "c = http.client.HTTPConnection('localhost')\n"
        "c.sock = socket.socket(socket.AF_UNIX)\n"
        "c.sock.connect('api.sock')\n"
        "c.request('GET', '/')\n"
        "print(f'served by {c.getresponse().read().decode()}')\n"  # one write: no interleaving
    )
    (tmp_path / "client.py").write_text(client)
    result = subprocess.run(
        [PY, "-m", "tuiman", "-c", "tuiman.toml", "--headless", "--run", f"{PY} client.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    spawned = [line for line in result.stdout.splitlines() if " api spawn pid=" in line]
    assert len(spawned) == 1  # started by the client's connection, after --run began
    pid = spawned[0].split("pid=")[1].split()[0]
    assert f"served by {pid}" in result.stdout, result.stdout
    assert not (tmp_path / "api.sock").exists()


async def test_an_on_demand_watcher_whose_process_fails_is_not_started_again_by_the_same_connection(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(
        f"""
        [sockets.web]
        host = "127.0.0.1"
        port = 0

        [watchers.broken]
        cmd = ["{PY}", "-c", "raise SystemExit(3)"]
        use_sockets = true
        on_demand = true
        respawn = false
        """
    )
    subscription = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    watcher = arbiter.get("broken")
    assert arbiter.waiting_for_connection(watcher)
    with socket.create_connection(("127.0.0.1", bound_port(arbiter, "web"))):
        await next_event(subscription, Kind.SPAWN, "broken")
        await next_event(
            subscription, Kind.STATE, "broken", where=lambda e: e.payload["new"] == "stopped"
        )
        # The connection still waits in the backlog: re-armed, it would start the watcher again.
        assert not arbiter.waiting_for_connection(watcher)
        await watcher.start()
        await next_event(
            subscription, Kind.STATE, "broken", where=lambda e: e.payload["new"] == "stopped"
        )
        await arbiter.stop_watchers("broken")
        assert arbiter.waiting_for_connection(watcher)  # a stop command: wait for connections again


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('path = "' + "x" * 120 + '.sock"', "cannot bind {dir}/" + "x" * 120 + ".sock: "),
        ('host = "nonexistent.invalid"', "cannot resolve host 'nonexistent.invalid': "),
        ('host = "127.0.0.1"\ninterface = "nosuchdev0"', "cannot bind to interface nosuchdev0: "),
    ],
)
def test_a_socket_that_cannot_be_bound_is_one_line_and_exit_2(
    tmp_path: Path, table: str, problem: str
) -> None:
    (tmp_path / "tuiman.toml").write_text(f'[sockets.bad]\n{table}\n\n[watchers.w]\ncmd = "true"\n')
    result = subprocess.run(
        [PY, "-m", "tuiman", "-c", "tuiman.toml", "--headless"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    *_notices, last = result.stderr.splitlines()
    assert last.startswith(
        f"{tmp_path / 'tuiman.toml'}: socket bad: " + problem.format(dir=tmp_path)
    )
    assert "Traceback" not in result.stderr


async def test_an_on_demand_watcher_added_by_a_reload_waits_for_its_first_connection(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    write_children(tmp_path)
    arbiter = arbiter_factory('[sockets.web]\nhost = "127.0.0.1"\nport = 0\n')
    await arbiter.start()
    web_fd = arbiter.sockets.bound["web"].fd
    (tmp_path / "tuiman.toml").write_text(
        '[sockets.web]\nhost = "127.0.0.1"\nport = 0\n'
        + WEB.split("[watchers.web]")[1].join(["[watchers.web]", ""])
        + "on_demand = true\n"
    )
    applied, changes = await arbiter.reload_config()
    assert (applied, changes) == (True, ["added web"])
    watcher = arbiter.get("web")
    assert arbiter.sockets.bound["web"].fd == web_fd
    assert watcher.state == WatcherState.STOPPED and arbiter.waiting_for_connection(watcher)
    pid = int(await asyncio.to_thread(http_get, bound_port(arbiter, "web")))
    assert pid in live_pids(arbiter, "web")
    assert arbiter.get("web").state == WatcherState.ACTIVE


# Accepts one connection on its stdin, answers its pid and exits.
ONE_SHOT = (
    "import os, socket; c = socket.socket(fileno=0).accept()[0]; "
    "c.sendall(str(os.getpid()).encode())"
)


async def test_stdin_socket_gives_the_processes_the_socket_as_stdin_and_can_start_on_demand(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(
        f"""
        [sockets.echo]
        path = "echo.sock"

        [watchers.echo]
        cmd = ["{PY}", "-c", "{ONE_SHOT}"]
        stdin_socket = "Echo"
        on_demand = true
        respawn = false
        """
    )
    await arbiter.start()
    watcher = arbiter.get("echo")
    assert arbiter.waiting_for_connection(watcher)
    assert [item["name"] for item in watcher.snapshot()["sockets"]] == ["echo"]

    def ask() -> str:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(tmp_path / "echo.sock"))
            return client.recv(100).decode()

    first = await asyncio.to_thread(ask)  # one process per connection, inetd style
    await wait_until(lambda: arbiter.waiting_for_connection(watcher))
    second = await asyncio.to_thread(ask)
    assert first.isdigit() and second.isdigit() and first != second


async def test_a_changed_socket_on_the_same_port_is_bound_again_there(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    port = free_port()
    socket_table = f'[sockets.web]\nhost = "127.0.0.1"\nport = {port}\n'
    arbiter = arbiter_factory(socket_table)
    await arbiter.start()
    old = arbiter.sockets.bound["web"].sock
    (tmp_path / "tuiman.toml").write_text(socket_table + "backlog = 7\n")
    assert await arbiter.reload_config() == (
        True,
        ["socket web: bound again with its new settings"],
    )
    assert old.fileno() == -1
    assert bound_port(arbiter, "web") == port
    with socket.create_connection(("127.0.0.1", port)):
        pass

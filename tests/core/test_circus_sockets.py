"""Circus `[socket:NAME]` configs (docs/circus.md#sockets): the same INI under the real circusd
and under tuiman gives the child the same argv and the same inherited listening sockets, and
`tuiman convert` round-trips the sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.circusd import circus_bin
from tests.support.procs import kill_quietly
from tests.support.socket_children import free_port, probe_records, write_children
from tests.support.waiting import wait_until_sync
from tuiman.core.circus.loader import convert_circus_config, load_circus_config
from tuiman.core.config.loader import load_config_text
from tuiman.core.config.model import SocketConfig

PY = sys.executable

INI = """\
[circus]
endpoint = ipc://{dir}/ctl.sock
pubsub_endpoint = ipc://{dir}/pub.sock
stats_endpoint = ipc://{dir}/stats.sock

[socket:Web]
host = 127.0.0.1
port = {port}

[socket:local]
path = local.sock
umask = 2

[watcher:probe]
cmd = {python} probe.py --fd=$(circus.sockets.web) fd://$(circus.sockets.local)
args = --listen ((circus.sockets.web))
use_sockets = True
stdin_socket = local

[env:probe]
PROBE_DIR = .
TEST_TAG = {tag}
"""


@pytest.fixture
def run_dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    # Unix socket paths (ZeroMQ's ipc:// too) must stay short: no pytest-deep directories.
    circus_dir, tuiman_dir = tmp_path / "c", tmp_path / "t"
    for directory in (circus_dir, tuiman_dir):
        directory.mkdir()
        write_children(directory)
    yield circus_dir, tuiman_dir


def run_until_probed(command: list[str], directory: Path) -> dict[str, Any]:
    """Run `command` (circusd or tuiman) in `directory` until its probe reported; stop it."""
    process = subprocess.Popen(
        command,
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        records = wait_until_sync(lambda: probe_records(directory), timeout=30)
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    for path in directory.glob("probe-*.json"):
        kill_quietly(int(path.stem.removeprefix("probe-")))
    assert len(records) == 1
    record: dict[str, Any] = records[0]
    for info in record["sockets"].values():
        if info["family"] == "AF_UNIX":  # Circus binds the path as written, tuiman absolute
            info["address"] = os.path.relpath(directory / info["address"], directory)
    return record


def test_circusd_and_tuiman_give_the_child_the_same_fds_and_argv(
    run_dirs: tuple[Path, Path], tag: str
) -> None:
    circus_dir, tuiman_dir = run_dirs
    port = free_port()
    for directory in run_dirs:
        ini = INI.format(dir=directory, port=port, python=PY, tag=tag)
        (directory / "circus.ini").write_text(ini)
    circus = run_until_probed([str(circus_bin() / "circusd"), "circus.ini"], circus_dir)
    tuiman = run_until_probed([PY, "-m", "tuiman", "--headless", "-c", "circus.ini"], tuiman_dir)
    assert tuiman["argv"] == circus["argv"]
    assert tuiman["sockets"] == circus["sockets"]
    # Both bind in name order (local, then web) before anything else: the same fd numbers.
    web_fd = tuiman["argv"][0].removeprefix("--fd=")
    assert tuiman["argv"] == [f"--fd={web_fd}", f"fd://{int(web_fd) - 1}", "--listen", web_fd]
    assert tuiman["sockets"][web_fd] == {
        "family": "AF_INET",
        "type": "SOCK_STREAM",
        "address": ["127.0.0.1", port],
        "listening": True,
        "nonblocking": True,
    }
    assert tuiman["sockets"][str(int(web_fd) - 1)]["address"] == "local.sock"
    assert tuiman["sockets"]["0"] == tuiman["sockets"][str(int(web_fd) - 1)]  # stdin_socket


def test_convert_round_trips_the_sockets(tmp_path: Path) -> None:
    (tmp_path / "circus.ini").write_text(
        textwrap.dedent(
            """\
            [socket:web]
            host = 0.0.0.0
            port = 8000
            backlog = 128
            so_reuseport = yes
            blocking = 1

            [socket:unix]
            path = run/app.sock
            umask = 022
            replace = true
            type = SOCK_SEQPACKET

            [watcher:web]
            cmd = chaussette --fd $(circus.sockets.web) app.application
            use_sockets = true
            on_demand = true
            """
        )
    )
    (tmp_path / "run").mkdir()
    conversion = convert_circus_config("circus.ini", cwd=tmp_path)
    assert conversion.warnings == (
        "circus.ini: [socket:unix] umask: Circus reads 022 as the decimal number 22 (0o026); "
        "tuiman does the same (write 18 for 0o022)",
    )
    ini_config = load_circus_config("circus.ini", cwd=tmp_path)
    (tmp_path / "tuiman.toml").write_text(conversion.toml_text)
    toml_config = load_config_text(conversion.toml_text, tmp_path / "tuiman.toml", cwd=tmp_path)
    assert (
        ini_config.sockets
        == toml_config.sockets
        == (
            SocketConfig(
                name="unix",
                path=tmp_path / "run" / "app.sock",
                family="AF_UNIX",
                type="SOCK_SEQPACKET",
                umask=22,
                replace=True,
            ),
            SocketConfig(
                name="web", host="0.0.0.0", port=8000, backlog=128, so_reuseport=True, blocking=True
            ),
        )
    )
    watcher = toml_config.watcher("web")
    assert (watcher.use_sockets, watcher.on_demand) == (True, True)
    assert watcher.cmd == ("chaussette", "--fd", "$(circus.sockets.web)", "app.application")
    assert ini_config.watchers == toml_config.watchers

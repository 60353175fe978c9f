"""Who may reach the socket, where it may live, one instance per config
(docs/control-protocol.md#where-the-socket-is,
docs/reliability.md#the-control-socket-is-not-a-way-in)."""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.control.ctlkit import Instance, json_lines, launch
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(120)

SLEEPER = """
[watchers.sleeper]
cmd = "sleep 300"
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as nobody")

# Runs as `nobody`: stdlib only, prints what happened as one JSON object.
OTHER_USER_CLIENT = """
import json, socket, sys
result = {}
sock = socket.socket(socket.AF_UNIX)
try:
    sock.connect(sys.argv[1])
except OSError as exc:
    result["connect"] = exc.errno
else:
    result["connect"] = 0
    sock.settimeout(10)
    try:
        sock.sendall(b'{"id": 1, "command": "quit"}\\n')
    except OSError:
        pass
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    result["reply"] = data.decode()
print(json.dumps(result))
"""


@functools.cache
def python_for_nobody() -> str | None:
    """An interpreter `nobody` may run (the test's own may live under /root)."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        try:
            probe = subprocess.run(
                [candidate, "-I", "-c", "pass"],
                user="nobody",
                cwd="/",
                capture_output=True,
                timeout=30,
            )
        except OSError:
            continue
        if probe.returncode == 0:
            return candidate
    return None


def as_nobody(socket_path: Path) -> dict[str, object]:
    python = python_for_nobody()
    if python is None:
        pytest.skip("no Python interpreter that the nobody user may run")
    completed = subprocess.run(
        [python, "-I", "-c", OTHER_USER_CLIENT, str(socket_path)],
        user="nobody",
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, object] = json.loads(completed.stdout)
    return result


@pytest.fixture
def public_xdg() -> Iterator[Path]:
    """An XDG_RUNTIME_DIR that other users may traverse (like /tmp), so only tuiman's own
    0700 directory stands between them and the socket."""
    directory = Path(tempfile.mkdtemp(prefix="tuiman-xdg-", dir="/tmp"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_default_directory_0700_and_socket_0600(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path, public_xdg: Path
) -> None:
    inst = start_tuiman(
        tuiman_dir, SLEEPER, socket_name=None, env={"XDG_RUNTIME_DIR": str(public_xdg)}
    )
    directory = os.lstat(inst.socket.parent)
    assert stat.S_ISDIR(directory.st_mode) and stat.S_IMODE(directory.st_mode) == 0o700
    assert directory.st_uid == os.geteuid()
    sock = os.lstat(inst.socket)
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    lock = inst.socket.with_suffix(".lock")
    assert stat.S_IMODE(os.lstat(lock).st_mode) == 0o600


@needs_root
def test_other_user_gets_eacces_from_the_default_directory(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path, public_xdg: Path
) -> None:
    inst = start_tuiman(
        tuiman_dir, SLEEPER, socket_name=None, env={"XDG_RUNTIME_DIR": str(public_xdg)}
    )
    assert as_nobody(inst.socket)["connect"] == errno.EACCES
    assert inst.answers()


@needs_root
def test_server_rejects_another_uid_when_the_directory_is_relaxed(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path, public_xdg: Path
) -> None:
    inst = start_tuiman(
        tuiman_dir, SLEEPER, socket_name=None, env={"XDG_RUNTIME_DIR": str(public_xdg)}
    )
    inst.socket.parent.chmod(0o755)  # for this test only: the filesystem no longer protects it
    inst.socket.chmod(0o666)
    result = as_nobody(inst.socket)
    assert result["connect"] == 0
    reply = json.loads(str(result["reply"]).splitlines()[0])
    assert reply["ok"] is False and "permission denied" in reply["error"]
    assert inst.answers() and inst.watcher("sleeper")["state"] == "active"  # the quit was refused
    rejected = wait_until_sync(
        lambda: [e for e in json_lines(inst.stdout()) if e["kind"] == "control_rejected"],
        what="a control_rejected event",
    )
    assert rejected[0]["uid"] == 65534


def test_second_instance_on_the_same_config_exits_2(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path
) -> None:
    first = start_tuiman(tuiman_dir, SLEEPER)
    # The instance answers before its first spawn: wait for the process it will keep.
    pids = wait_until_sync(lambda: first.pids("sleeper"), what="the sleeper spawned")
    second = subprocess.run(
        [sys.executable, "-m", "tuiman", "--headless", "-c", str(first.config)],
        cwd=tuiman_dir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 2
    assert f"pid {first.pid}" in second.stderr and str(first.socket) in second.stderr
    assert "spawn" not in second.stdout  # it started nothing
    assert first.answers() and first.pids("sleeper") == pids


def test_stale_socket_is_replaced_under_the_lock(tuiman_dir: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tuiman_dir / "ctl.sock"))
    stale.close()  # a crashed instance leaves its socket file behind
    inst = launch(tuiman_dir, SLEEPER)
    try:
        assert inst.answers()
    finally:
        inst.stop()


def test_a_file_in_the_way_is_not_removed(tuiman_dir: Path) -> None:
    (tuiman_dir / "ctl.sock").write_text("precious")
    inst = launch(tuiman_dir, SLEEPER, wait=False)
    try:
        assert inst.process.wait(30) == 2
        assert "not a socket" in inst.stderr()
        assert (tuiman_dir / "ctl.sock").read_text() == "precious"
    finally:
        inst.stop()


def _refused(tuiman_dir: Path, env: dict[str, str], toml: str = SLEEPER) -> str:
    inst = launch(tuiman_dir, toml, socket_name=None, env=env, wait=False)
    try:
        assert inst.process.wait(30) == 2, inst.stderr()
        assert "spawn" not in inst.stdout()
        return inst.stderr()
    finally:
        inst.stop()


def test_unsafe_default_directories_are_refused(tuiman_dir: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "x"
    xdg.mkdir()
    env = {"XDG_RUNTIME_DIR": str(xdg)}

    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (xdg / "tuiman").symlink_to(target)
    assert "symlink" in _refused(tuiman_dir, env)

    (xdg / "tuiman").unlink()
    (xdg / "tuiman").mkdir()
    (xdg / "tuiman").chmod(0o755)
    assert "mode 0755" in _refused(tuiman_dir, env)

    (xdg / "tuiman").rmdir()
    (xdg / "tuiman").write_text("")
    assert "not a directory" in _refused(tuiman_dir, env)

    if os.geteuid() == 0:
        (xdg / "tuiman").unlink()
        (xdg / "tuiman").mkdir(mode=0o700)
        os.chown(xdg / "tuiman", 65534, 65534)
        assert "owned by uid 65534" in _refused(tuiman_dir, env)


def test_chosen_socket_in_a_world_writable_directory_is_refused(
    tuiman_dir: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    toml = f'[tuiman]\ncontrol_socket = "{shared}/ctl.sock"\n{SLEEPER}'
    inst = launch(tuiman_dir, toml, socket_name=None, wait=False)
    try:
        assert inst.process.wait(30) == 2
        assert "writable by other users" in inst.stderr()
    finally:
        inst.stop()

"""The control socket's directories under attack (docs/reliability.md#the-socket-cannot-be-swapped):
with `XDG_RUNTIME_DIR` in a world-writable, non-sticky directory another user could rename
tuiman's directory away (with the lock in it) and put their own in its place. tuiman refuses to
start there, and `tuiman ctl` refuses to talk to a socket in such a place or served by another
uid (SO_PEERCRED), so root's `ctl stop --wait` never trusts a planted socket.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import TUIMAN
from tests.support.procs import kill_quietly, kill_tagged, tagged_pids
from tests.support.waiting import wait_until_sync
from tuiman.control.paths import default_socket_path, real_path

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: another uid plants the socket"),
]

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"  # runnable by nobody (a pyenv or venv python may not be)
# The other user's fake tuiman: answers every request "ok" and notes that it got one.
FAKE_SERVER = textwrap.dedent(
    """
    import json, os, socket, sys
    path, seen = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    open(seen + ".ready", "w").close()
    while True:
        conn, _ = server.accept()
        for line in conn.makefile("rb"):
            with open(seen, "a") as note:
                note.write(line.decode(errors="replace"))
            request = json.loads(line)
            reply = {"id": request.get("id"), "ok": True, "pid": os.getpid(), "config": "x"}
            conn.sendall(json.dumps(reply).encode() + b"\\n")
        conn.close()
    """
)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may write to, without the sticky bit (outside pytest's 0700 tree)."""
    directory = Path(tempfile.mkdtemp(prefix="tuiman-open-", dir="/tmp"))
    os.chmod(directory, 0o777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_tuiman_refuses_a_runtime_dir_in_a_world_writable_parent(
    tmp_path: Path, tag: str, open_dir: Path
) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text(f'[watchers.web]\ncmd = ["sleep", "300"]\nenv = {{ TEST_TAG = "{tag}" }}\n')
    proc = subprocess.Popen(
        [*TUIMAN, "--headless", "-c", str(config)],
        env={**os.environ, "XDG_RUNTIME_DIR": str(open_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        kill_quietly(proc.pid)
        proc.wait(10)
        kill_tagged(tag)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{open_dir} is writable by other users and not sticky" in err
    assert tagged_pids(tag) == []


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="no system python for nobody")
def test_ctl_never_trusts_a_socket_planted_by_another_user(tmp_path: Path, open_dir: Path) -> None:
    config = tmp_path / "tuiman.toml"
    config.write_text('[watchers.web]\ncmd = ["sleep", "300"]\n')
    env = {**os.environ, "XDG_RUNTIME_DIR": str(open_dir)}
    planted = default_socket_path(real_path(config), env)
    seen = open_dir / "requests"
    server = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", FAKE_SERVER, str(planted), str(seen)],
        user=NOBODY,
        group=NOBODY,
        cwd="/",
        start_new_session=True,
    )
    try:
        wait_until_sync(lambda: Path(f"{seen}.ready").exists(), timeout=15)
        for args in (["stop", "--wait"], ["status"]):
            result = subprocess.run(
                [*TUIMAN, "ctl", "-c", str(config), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert result.returncode != 0, result
            assert "refusing" in result.stderr and str(open_dir) in result.stderr, result.stderr
        assert not seen.exists(), seen.read_text()  # not one request reached the fake
    finally:
        kill_quietly(server.pid)
        server.wait(10)


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason="no system python for nobody")
def test_ctl_checks_the_servers_uid_even_in_a_safe_directory(open_dir: Path) -> None:
    planted = Path(f"/tmp/tuiman-planted-{os.getpid()}.sock")  # /tmp is sticky: a safe parent
    seen = open_dir / "requests"
    server = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", FAKE_SERVER, str(planted), str(seen)],
        user=NOBODY,
        group=NOBODY,
        cwd="/",
        start_new_session=True,
    )
    try:
        wait_until_sync(lambda: Path(f"{seen}.ready").exists(), timeout=15)
        result = subprocess.run(
            [*TUIMAN, "ctl", "--socket", str(planted), "stop", "--wait"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode != 0, result
        assert f"served by uid {NOBODY}" in result.stderr, result.stderr
        assert not seen.exists(), seen.read_text()
    finally:
        kill_quietly(server.pid)
        server.wait(10)
        planted.unlink(missing_ok=True)

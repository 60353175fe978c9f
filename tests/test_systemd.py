"""Boot with systemd (docs/systemd.md): the exported unit, and what tuiman tells systemd through
`NOTIFY_SOCKET` — a real tuiman subprocess, a real datagram listener standing in for systemd."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import children, environ, kill_quietly
from tests.support.waiting import wait_until_sync

TUIMAN = [sys.executable, "-m", "tuiman"]


def write_config(tmp_path: Path, toml: str) -> Path:
    path = tmp_path / "tuiman.toml"
    path.write_text(textwrap.dedent(toml))
    return path


def export(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUIMAN, "export", "systemd", *args], cwd=cwd, capture_output=True, text=True, timeout=30
    )


def unit_lines(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if "=" in line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_unit_runs_the_config_headless_type_notify(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        [watchers.web]
        cmd = "sleep 300"
        graceful_timeout = 20
        [watchers.db]
        cmd = "sleep 300"
        priority = 10
        graceful_timeout = 40
        """,
    )
    result = export("-c", "tuiman.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    keys = unit_lines(result.stdout)
    assert keys["Type"] == "notify"
    assert keys["KillMode"] == "mixed"
    assert keys["Restart"] == "on-failure"
    assert keys["ExecStart"] == f"{sys.executable} -m tuiman --headless -c {config}"
    assert keys["ExecReload"] == f"{sys.executable} -m tuiman ctl -c {config} reloadconfig"
    assert keys["WorkingDirectory"] == str(tmp_path)
    assert keys["WantedBy"] == "multi-user.target"
    # db (priority 10) stops after web: their graceful timeouts add up, plus a margin.
    assert int(keys["TimeoutStopSec"]) >= 60
    user = export("-c", str(config), "--user", cwd=tmp_path)
    assert unit_lines(user.stdout)["WantedBy"] == "default.target"
    assert "After" not in unit_lines(user.stdout)


def test_output_dir_and_bad_input(tmp_path: Path) -> None:
    project = tmp_path / "my app"
    project.mkdir()
    write_config(project, '[watchers.web]\ncmd = "sleep 300"\n')
    units = tmp_path / "units"
    result = export("-c", "tuiman.toml", "--user", "-o", str(units), cwd=project)
    assert result.returncode == 0, result.stderr
    unit = units / "tuiman-my-app.service"
    assert unit.is_file()
    assert "systemctl --user enable --now tuiman-my-app.service" in result.stdout
    assert f'"{project}/tuiman.toml"' in unit.read_text()  # a path with a space, quoted

    result = export(cwd=tmp_path)  # no tuiman.toml here: the demo, which is not exported
    assert result.returncode == 2
    assert result.stderr.strip().endswith("(give -c CONFIG; the demo is not exported)")
    (tmp_path / "bad.toml").write_text('[watchers.web]\ncmd = "sleep 1"\nnumprocess = 2\n')
    result = export("-c", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bad.toml: watchers.web.numprocess: unknown key (did you mean numprocesses?)"
    ]
    result = export("-c", "bad.toml", "--name", "a b", cwd=project)
    assert result.returncode == 2


@pytest.mark.parametrize("user", [False, True], ids=["system", "user"])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, user: bool) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine (no systemd)")
    write_config(tmp_path, '[watchers.web]\ncmd = "sleep 300"\n')
    units = tmp_path / "units"
    assert export("-c", "tuiman.toml", "-o", str(units), *(["--user"] * user), cwd=tmp_path)
    unit = units / f"tuiman-{tmp_path.name}.service"
    runtime = tmp_path / "runtime"  # a user manager needs a runtime directory of its own
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        [analyze, *(["--user"] * user), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    # verify exits 0 after mere warnings: any line naming the unit is a problem with it.
    complaints = [line for line in result.stderr.splitlines() if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stderr


# -- NOTIFY_SOCKET -------------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(0.1)
    try:
        yield listener, path
    finally:
        listener.close()


def receive(listener: socket.socket, received: list[str]) -> list[str]:
    """Every datagram waiting now (each one `KEY=VALUE` lines), appended to `received`."""
    while True:
        try:
            received.append(listener.recv(4096).decode())
        except TimeoutError:
            return received


def test_ready_after_the_watchers_are_up_and_stopping_at_quit(
    tmp_path: Path, notify_socket: tuple[socket.socket, Path]
) -> None:
    listener, socket_path = notify_socket
    # `slow` starts after `fast` (priority), and keeps the start going for a second more.
    config = write_config(
        tmp_path,
        """
        [watchers.fast]
        cmd = "sleep 301"
        priority = 1
        [watchers.slow]
        cmd = "sleep 302"
        warmup_delay = 1.0
        """,
    )
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(socket_path),
        "WATCHDOG_USEC": "200000",  # 0.2 s: a ping every 0.1 s
        "XDG_RUNTIME_DIR": str(runtime),
        "NO_COLOR": "1",
    }
    process = subprocess.Popen(
        [*TUIMAN, "--headless", "-c", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    received: list[str] = []
    try:
        wait_until_sync(lambda: any("READY=1" in d for d in receive(listener, received)), 30)
        # Ready means up: both watchers' processes run by the time READY=1 is sent.
        commands = {_cmdline(pid) for pid in children(process.pid)}
        assert {"sleep 301", "sleep 302"} <= commands, commands
        ready = next(d for d in received if "READY=1" in d)
        assert "STATUS=2 of 2 watchers active" in ready.splitlines()
        before_ready = received[: received.index(ready)]
        assert "STATUS=starting 2 watchers" in before_ready
        assert "WATCHDOG=1" in received  # pings, sent from the loop

        # systemd's variables are tuiman's alone: no managed process inherits them.
        managed = [pid for pid in children(process.pid) if _cmdline(pid).startswith("sleep")]
        environments = [environ(pid) or {} for pid in managed]
        assert environments and all("XDG_RUNTIME_DIR" in e for e in environments)
        assert not any("NOTIFY_SOCKET" in e or "WATCHDOG_USEC" in e for e in environments)

        # ExecReload, as exported, reloads the running instance.
        unit = export("-c", str(config), cwd=tmp_path).stdout
        reload_command = shlex.split(unit_lines(unit)["ExecReload"])
        reload = subprocess.run(reload_command, env=env, capture_output=True, text=True, timeout=30)
        assert reload.returncode == 0, reload.stderr

        pings = received.count("WATCHDOG=1")
        wait_until_sync(lambda: receive(listener, received).count("WATCHDOG=1") > pings + 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, process.stderr.read() if process.stderr else ""
        receive(listener, received)
        stopping = [d for d in received if "STOPPING=1" in d]
        assert stopping and received.index(stopping[0]) > received.index(ready)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        kill_quietly(process.pid)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def test_a_notify_socket_nobody_listens_on_loses_only_the_notices(tmp_path: Path) -> None:
    """systemd gone (or a stale NOTIFY_SOCKET): tuiman runs and ends as it would without it."""
    config = write_config(tmp_path, '[watchers.once]\ncmd = "true"\nrespawn = false\n')
    result = subprocess.run(
        [*TUIMAN, "--headless", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "NOTIFY_SOCKET": str(tmp_path / "nobody.sock"), "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "once state stopping → stopped (exited)" in result.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")
def test_bash_completes_the_export_command(tmp_path: Path) -> None:
    script = tmp_path / "tuiman.bash"
    script.write_text(
        subprocess.run(
            [*TUIMAN, "completion", "bash"], capture_output=True, text=True, check=True
        ).stdout
    )
    complete_line = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*";'
        " COMP_POINT=${#COMP_LINE}; COMPREPLY=();"
        ' _shtab_tuiman tuiman "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}";'
        " printf '%s\\n' \"${COMPREPLY[@]}\""
    )

    def complete(*words: str) -> list[str]:
        result = subprocess.run(
            ["bash", "-c", complete_line, "complete", str(script), "tuiman", *words],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return sorted(result.stdout.split())

    assert complete("exp") == ["export"]
    assert complete("export", "sy") == ["systemd"]
    assert complete("export", "systemd", "--us") == ["--user"]


def test_a_procfile_unit_keeps_its_formation_port_and_env_files(tmp_path: Path) -> None:
    app = tmp_path / "shop"
    app.mkdir()
    (app / "Procfile").write_text("web: sleep 300\nworker: sleep 300\n")
    (app / "prod.env").write_text("MODE=prod\n")
    result = export("-c", "Procfile", "-m", "web=2", "-p", "6000", "-e", "prod.env", cwd=app)
    assert result.returncode == 0, result.stderr
    keys = unit_lines(result.stdout)
    assert keys["ExecStart"] == (
        f"{sys.executable} -m tuiman --headless -c {app}/Procfile"
        f" -e {app}/prod.env -m web=2 -p 6000"
    )
    written = export("-c", "Procfile", "-o", str(tmp_path / "units"), cwd=app)
    assert written.returncode == 0 and (tmp_path / "units" / "tuiman-shop.service").is_file()
    bad = export("-c", "Procfile", "-m", "web=two", cwd=app)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1

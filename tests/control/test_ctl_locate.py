"""How `tuiman ctl` finds its instance (docs/control-protocol.md#tuiman-ctl): --socket, -c,
TUIMAN_SOCKET, ./tuiman.toml, the only running instance of this user; several or none → a listing
and exit 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.control.ctlkit import Instance, run_ctl
from tuiman.control.paths import instance_id

pytestmark = pytest.mark.timeout(120)

SLEEPER = """
[watchers.sleeper]
cmd = "sleep 300"
"""


@pytest.fixture
def xdg(tmp_path: Path) -> Path:
    directory = tmp_path / "x"
    directory.mkdir(mode=0o700)
    return directory


def test_config_option_reads_the_control_socket_key(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path, tmp_path: Path
) -> None:
    inst = start_tuiman(tuiman_dir, SLEEPER)
    result = run_ctl("-c", str(inst.config), "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sleeper"]
    assert run_ctl("list", cwd=tmp_path, env={"TUIMAN_SOCKET": str(inst.socket)}).returncode == 0


def test_default_socket_from_the_config_real_path(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path, xdg: Path, tmp_path: Path
) -> None:
    env = {"XDG_RUNTIME_DIR": str(xdg)}
    inst = start_tuiman(tuiman_dir, SLEEPER, socket_name=None, env=env)
    assert inst.socket.parent == xdg / "tuiman"
    assert inst.socket.name == f"{instance_id(str(inst.config.resolve()))}.sock"
    link = tmp_path / "link.toml"
    link.symlink_to(inst.config)  # another name for the same file: the same instance
    for config in (str(inst.config), str(link)):
        result = run_ctl("-c", config, "status", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr


def test_tuiman_toml_in_the_working_directory(
    start_tuiman: Callable[..., Instance], tuiman_dir: Path
) -> None:
    inst = start_tuiman(tuiman_dir, SLEEPER)
    (tuiman_dir / "tuiman.toml").write_text(inst.config.read_text())
    # ./tuiman.toml names the same socket (control_socket = "ctl.sock" beside it)
    result = run_ctl("list", cwd=tuiman_dir)
    assert result.returncode == 0, result.stderr


def test_the_only_instance_or_a_listing(
    start_tuiman: Callable[..., Instance], tmp_path: Path, xdg: Path
) -> None:
    env = {"XDG_RUNTIME_DIR": str(xdg)}
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    none = run_ctl("list", cwd=elsewhere, env=env)
    assert none.returncode == 1 and "no tuiman is running" in none.stderr

    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = start_tuiman(first_dir, SLEEPER, socket_name=None, env=env)
    only = run_ctl("list", cwd=elsewhere, env=env)
    assert only.returncode == 0, only.stderr

    second = start_tuiman(second_dir, SLEEPER, socket_name=None, env=env)
    several = run_ctl("list", cwd=elsewhere, env=env)
    assert several.returncode == 1
    assert str(first.socket) in several.stderr and str(second.socket) in several.stderr
    assert f"pid {first.pid}" in several.stderr and str(second.config.resolve()) in several.stderr

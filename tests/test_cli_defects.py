"""The CLI where a user met a surprise: `check` with no config, a non-ASCII watcher name, and
why headless exits 1."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli_headless import run_tuiman, write_config


def test_check_without_a_config_says_so_and_exits_2(tmp_path: Path) -> None:
    result = run_tuiman("check", cwd=tmp_path)  # no ./tuiman.toml: not the demo
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tuiman check: no config to check: ./tuiman.toml does not exist (name one with -c FILE)"
    )
    assert result.stdout == ""
    write_config(tmp_path, '[watchers.a]\ncmd = "sleep 1"\n')
    result = run_tuiman("check", cwd=tmp_path)
    assert result.returncode == 0 and "tuiman.toml: ok" in result.stdout


def test_a_non_ascii_watcher_name_is_refused_by_a_rule_that_says_ascii(tmp_path: Path) -> None:
    write_config(tmp_path, '[watchers."café"]\ncmd = "sleep 1"\n')
    result = run_tuiman("check", "-c", "tuiman.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'tuiman.toml: watchers."café": invalid watcher name (ASCII only: letters A-Z and a-z, '
        "digits, '-', '_' and '.')"
    )


def test_headless_ends_with_why_it_exits_1(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        """
        [watchers.oneshot]
        cmd = ["sh", "-c", "exit 3"]
        respawn = false
        [watchers.other]
        cmd = ["sh", "-c", "exit 4"]
        respawn = false
        """,
    )
    result = run_tuiman("--headless", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tuiman: exit 1: "), result.stderr
    assert "exited with" in last and last.endswith("(and 1 more failure above)"), last

"""`.env` files: the lines python-dotenv and docker compose accept, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuiman.core.config.dotenv import DotenvError, parse_dotenv
from tuiman.core.config.expand import spawn_argv_env
from tuiman.core.config.load_options import LoadOptions
from tuiman.core.config.loader import ConfigError
from tuiman.core.configfile import load_config


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("A=plain", "plain"),
        ("export A=exported", "exported"),
        ("A = spaced  ", "spaced"),
        ("A=two words # a comment", "two words"),
        ("A=x#not-a-comment", "x#not-a-comment"),
        ("A=", ""),
        ("A=''", ""),
        ("A='single $HOME \\n'", "single $HOME \\n"),
        ('A="double $HOME\\n\\t\\"q\\" \\\\ \\$HOME"', 'double /home/u\n\t"q" \\ $HOME'),
        ('A="café ☕"', "café ☕"),
        ('A="multi\nline"', "multi\nline"),
        ("A=${HOME}/bin", "/home/u/bin"),
        ("A=$$HOME", "$HOME"),
        ("A=${UNSET:-fallback}", "fallback"),
        ("A=${EMPTY:-fallback}", "fallback"),
        ("A=${EMPTY-fallback}", ""),
        ("A=${UNSET-fallback}", "fallback"),
        ("A=$UNSET", ""),
        ('A="x" # trailing comment', "x"),
    ],
)
def test_accepted_lines(line: str, value: str) -> None:
    assert parse_dotenv(line + "\n", {"HOME": "/home/u", "EMPTY": ""}) == {"A": value}


def test_earlier_values_interpolate_and_comments_skip() -> None:
    text = "# header\n\nBASE=/srv\n  # indented comment\nDATA=${BASE}/data\nHOME=$BASE\n"
    assert parse_dotenv(text, {"HOME": "/root"}) == {
        "BASE": "/srv",
        "DATA": "/srv/data",
        "HOME": "/srv",
    }


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("1A=x\n", 1, "expected NAME=VALUE (a name starts with a letter or _)"),
        ("A=1\nB\n", 2, "expected '=' after B"),
        ("A=1\n\nB='open\n", 3, "unterminated single-quoted value"),
        ('A="open\n', 1, "unterminated double-quoted value"),
        ('A="x" y\n', 1, "unexpected text after the closing quote: 'y'"),
    ],
)
def test_bad_lines(text: str, line: int, problem: str) -> None:
    with pytest.raises(DotenvError) as raised:
        parse_dotenv(text, {})
    assert (raised.value.line, raised.value.problem) == (line, problem)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_env_next_to_the_config_reaches_every_watcher_and_expansion(tmp_path: Path) -> None:
    write(tmp_path / ".env", "DB_URL=postgres://db/app\nLEVEL=debug\n")
    write(
        tmp_path / "tuiman.toml",
        """
        [env]
        LOG = "level=$LEVEL"
        [watchers.copied]
        cmd = "true"
        [watchers.bare]
        cmd = "true"
        copy_env = false
        """.replace("        ", ""),
    )
    config = load_config("tuiman.toml", cwd=tmp_path, environ={"LEVEL": "info", "USER": "u"})
    for name in ("copied", "bare"):
        env = config.watcher(name).env
        assert env["DB_URL"] == "postgres://db/app"
        assert env["LOG"] == "level=debug"  # .env beats tuiman's own environment
    assert "USER" not in config.watcher("bare").env
    assert config.watcher("copied").env["USER"] == "u"


def test_no_env_file_and_env_file_options(tmp_path: Path) -> None:
    write(tmp_path / ".env", "WHERE=dotenv\n")
    write(tmp_path / "other.env", "WHERE=other\nEXTRA=1\n")
    write(tmp_path / "last.env", "EXTRA=2\n")
    write(tmp_path / "tuiman.toml", '[watchers.a]\ncmd = "true"\ncopy_env = false\n')
    skipped = load_config("tuiman.toml", cwd=tmp_path, options=LoadOptions(default_env_file=False))
    assert "WHERE" not in skipped.watcher("a").env
    chosen = load_config(
        "tuiman.toml", cwd=tmp_path, options=LoadOptions(env_files=("other.env", "last.env"))
    )
    assert chosen.watcher("a").env == {"WHERE": "other", "EXTRA": "2"}


def test_watcher_env_file_order(tmp_path: Path) -> None:
    write(tmp_path / ".env", "A=dotenv\nB=dotenv\nC=dotenv\n")
    write(tmp_path / "web.env", "B=web-file\nC=web-file\n")
    write(
        tmp_path / "tuiman.toml",
        '[watchers.web]\ncmd = "true"\nenv_file = "web.env"\nenv = { C = "table" }\n',
    )
    env = load_config("tuiman.toml", cwd=tmp_path, environ={}).watcher("web").env
    assert (env["A"], env["B"], env["C"]) == ("dotenv", "web-file", "table")


def test_bad_line_is_one_error_naming_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / ".env", "GOOD=1\nnot a variable\n")
    write(tmp_path / "tuiman.toml", '[watchers.a]\ncmd = "true"\n')
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == [f"{tmp_path / '.env'}: line 2: expected '=' after not"]


def test_missing_env_file_option_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", '[watchers.a]\ncmd = "true"\n')
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path, options=LoadOptions(env_files=("nope.env",)))
    assert raised.value.errors == ["nope.env: cannot read: No such file or directory"]


def test_bad_watcher_env_file_names_the_key(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", '[watchers.a]\ncmd = "true"\nenv_file = ["missing.env"]\n')
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == [
        f"tuiman.toml: watchers.a.env_file: {tmp_path / 'missing.env'}: cannot read: "
        "No such file or directory"
    ]


def test_port_key_gives_one_port_per_process(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", '[watchers.a]\ncmd = "true"\nnumprocesses = 3\nport = 9000\n')
    watcher = load_config("tuiman.toml", cwd=tmp_path).watcher("a")
    assert [spawn_argv_env(watcher, wid, 3)[1]["PORT"] for wid in (1, 2, 3)] == [
        "9000",
        "9001",
        "9002",
    ]


def test_circus_ini_gets_the_env_file_too(tmp_path: Path) -> None:
    write(tmp_path / ".env", "FROM_DOTENV=yes\n")
    write(tmp_path / "circus.ini", "[watcher:a]\ncmd = sleep 1\ncopy_env = false\n")
    config = load_config("circus.ini", cwd=tmp_path, environ={})
    assert config.watcher("a").env["FROM_DOTENV"] == "yes"


def test_env_file_option_is_refused_for_the_demo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(None, cwd=tmp_path, options=LoadOptions(env_files=("x.env",)))
    assert raised.value.errors == ["-e/--env-file: the embedded demo config reads no env files"]

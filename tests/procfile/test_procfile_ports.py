"""Procfile loading: process types in file order, formation, and PORT as honcho assigns it.

The expected ports are honcho 2.0's: each case was run with `honcho start` on the same
Procfile, its processes printing `$HONCHO_PROCESS_NAME=$PORT`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tuiman.core.config.expand import spawn_argv_env
from tuiman.core.config.load_options import LoadOptions
from tuiman.core.config.loader import ConfigError
from tuiman.core.config.model import Config
from tuiman.core.configfile import load_config

PROCFILE = "web: ./web.sh\nworker: python worker.py\nclock: ./clock --every 5\n"


def ports(config: Config) -> dict[str, int]:
    """`web.1` → its PORT, for every process the config starts."""
    assigned: dict[str, int] = {}
    for watcher in config.watchers:
        for wid in range(1, watcher.numprocesses + 1):
            _, env = spawn_argv_env(watcher, wid, watcher.numprocesses)
            name = env["TUIMAN_PROCESS_NAME"]
            assert name == f"{watcher.name}.{wid}"
            assigned[name] = int(env["PORT"])
    return assigned


def load(
    tmp_path: Path,
    *,
    dotenv: str | None = None,
    environ: dict[str, str] | None = None,
    **options: object,
) -> Config:
    (tmp_path / "Procfile").write_text(PROCFILE)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    return load_config(
        "Procfile",
        cwd=tmp_path,
        options=LoadOptions(**options),  # type: ignore[arg-type]
        environ=environ or {},
    )


@pytest.mark.parametrize(
    ("options", "dotenv", "environ", "expected"),
    [
        ({}, None, {}, {"web.1": 5000, "worker.1": 5100, "clock.1": 5200}),
        (
            {"formation": (("web", 2), ("worker", 3))},
            None,
            {},
            {
                "web.1": 5000,
                "web.2": 5001,
                "worker.1": 5100,
                "worker.2": 5101,
                "worker.3": 5102,
                "clock.1": 5200,
            },
        ),
        (
            {"port": 6000, "formation": (("web", 2),)},
            None,
            {},
            {"web.1": 6000, "web.2": 6001, "worker.1": 6100, "clock.1": 6200},
        ),
        ({}, None, {"PORT": "7000"}, {"web.1": 7000, "worker.1": 7100, "clock.1": 7200}),
        ({}, "PORT=8000\n", {}, {"web.1": 8000, "worker.1": 8100, "clock.1": 8200}),
        ({}, "PORT=8000\n", {"PORT": "7000"}, {"web.1": 8000, "worker.1": 8100, "clock.1": 8200}),
        (
            {"port": 6000},
            None,
            {"PORT": "7000"},
            {"web.1": 6000, "worker.1": 6100, "clock.1": 6200},
        ),
        # A type with no processes still takes its hundred.
        (
            {"formation": (("web", 0), ("worker", 2))},
            None,
            {},
            {"worker.1": 5100, "worker.2": 5101, "clock.1": 5200},
        ),
    ],
)
def test_ports_are_honchos(
    tmp_path: Path,
    options: dict[str, object],
    dotenv: str | None,
    environ: dict[str, str],
    expected: dict[str, int],
) -> None:
    config = load(tmp_path, dotenv=dotenv, environ=environ, **options)
    assert [watcher.name for watcher in config.watchers] == ["web", "worker", "clock"]
    assert ports(config) == expected


def test_port_option_beats_dotenv(tmp_path: Path) -> None:
    """The one place tuiman parts from honcho (whose .env PORT overrides -p): the command line
    wins, as documented."""
    config = load(tmp_path, dotenv="PORT=8000\n", port=6000)
    assert ports(config) == {"web.1": 6000, "worker.1": 6100, "clock.1": 6200}


def test_commands_run_through_the_shell_with_the_env_file(tmp_path: Path) -> None:
    config = load(tmp_path, dotenv="SECRET_KEY='x y'\n")
    web = config.watcher("web")
    argv, env = spawn_argv_env(web, 1, 1)
    assert argv == ["/bin/sh", "-c", "./web.sh"]
    assert env["SECRET_KEY"] == "x y"
    assert config.watcher("clock").cmd == ("./clock --every 5",)


def test_all_sets_every_count_then_names_override(tmp_path: Path) -> None:
    config = load(tmp_path, formation=(("all", 2), ("clock", 1)))
    assert [watcher.numprocesses for watcher in config.watchers] == [2, 2, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("web: a\nthis is not a process\n", "Procfile: line 2: expected NAME: COMMAND"),
        ("web: a\nweb: b\n", "Procfile: line 2: process type web already defined on line 1"),
        ("web:   \n", "Procfile: line 1: web: empty command"),
        ("# only a comment\n", "Procfile: no process types (expected NAME: COMMAND lines)"),
    ],
)
def test_bad_procfile_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "Procfile").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config("Procfile", cwd=tmp_path)
    assert raised.value.errors == [message]


def test_unknown_formation_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, formation=(("wbe", 2),))
    assert raised.value.errors == [
        "-m/--formation: no process type wbe in Procfile (it has web, worker, clock)"
    ]


def test_bad_dotenv_port_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, dotenv="PORT=eighty\n")
    assert raised.value.errors == [
        f"{tmp_path / '.env'}: PORT: expected a port number, got 'eighty'"
    ]


def test_detected_by_content_without_the_name(tmp_path: Path) -> None:
    (tmp_path / "services").write_text("# dev stack\nweb: python -m http.server\n")
    config = load_config("services", cwd=tmp_path, environ={})
    assert config.watcher("web").port == 5000


def test_formation_is_refused_for_a_toml_config(tmp_path: Path) -> None:
    (tmp_path / "tuiman.toml").write_text('[watchers.a]\ncmd = "true"\n')
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path, options=LoadOptions(formation=(("a", 2),)))
    assert raised.value.errors == ["-m/--formation: applies to a Procfile only, not tuiman.toml"]

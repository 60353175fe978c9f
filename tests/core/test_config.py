"""Config loading and validation (docs/configuration.md, docs/hooks.md#configuration,
docs/hooks.md#signature): exact error lines, expansion, hooks."""

from __future__ import annotations

import os
import pwd
import resource
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiman.core.config.expand import expand_env_value, spawn_argv_env
from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.config.model import (
    HOOK_NAMES,
    IGNORED_FAILURE_HOOKS,
    ArbiterConfig,
    Config,
    OutputConfig,
    RestartConfig,
    SocketConfig,
    WatcherConfig,
)
from tuiman.core.config.validate import RLIMIT_NAMES
from tuiman.core.configfile import load_config, watcher_environment_problems

REPO_ROOT = Path(__file__).resolve().parents[2]

BASE_ENVIRON = {"HOME": "/home/tester", "PYTHONPATH": "/opt/base", "LANG": "C.UTF-8"}


@pytest.fixture(autouse=True)
def restore_import_state() -> Iterator[None]:
    """Hook loading appends to sys.path and imports modules; undo both after each test."""
    saved_sys_path = list(sys.path)
    saved_module_names = set(sys.modules)
    yield
    sys.path[:] = saved_sys_path
    for module_name in set(sys.modules) - saved_module_names:
        del sys.modules[module_name]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_toml(tmp_path: Path, text: str) -> Config:
    """Load `text` as tmp_path/tuiman.toml, with BASE_ENVIRON as tuiman's env and cwd = tmp_path."""
    config_path = write(tmp_path / "tuiman.toml", text)
    return load_config_text(
        config_path.read_text(encoding="utf-8"),
        config_path,
        display_name="tuiman.toml",
        cwd=tmp_path,
        environ=BASE_ENVIRON,
    )


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_toml(tmp_path, text)
    return raised.value.errors


def watcher_errors(tmp_path: Path, body: str, *, cmd: str = 'cmd = "sleep 1"') -> list[str]:
    """Errors of a single `[watchers.web]` table holding `cmd` and `body`."""
    return errors_of(tmp_path, f"[watchers.web]\n{cmd}\n{textwrap.dedent(body)}")


def load_watcher(tmp_path: Path, body: str) -> WatcherConfig:
    config = load_toml(tmp_path, f'[watchers.web]\ncmd = "sleep 1"\n{textwrap.dedent(body)}')
    return config.watcher("web")


# --- files and syntax --------------------------------------------------------------------------


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", '[watchers.web]\ncmd = "x"\nnumprocesses = \n')
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == ["tuiman.toml: line 3, column 16: Invalid value"]


def test_syntax_error_at_end_of_document_gets_a_position(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", "[watchers.web]\ncmd = [1,")
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == ["tuiman.toml: line 2, column 10: Invalid value"]


def test_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    assert errors_of(tmp_path, '[watchers.web]\ncmd = "a"\ncmd = "b"\n') == [
        "tuiman.toml: line 3, column 10: Cannot overwrite a value"
    ]


def test_error_label_is_the_path_as_given(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "services.toml", "[watchers.web]\n")
    with pytest.raises(ConfigError) as raised:
        load_config("conf/services.toml", cwd=tmp_path)
    assert raised.value.errors == ["conf/services.toml: watchers.web.cmd: missing required key"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config("absent.toml", cwd=tmp_path)
    assert raised.value.errors == ["absent.toml: cannot read: No such file or directory"]


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "tuiman.toml").write_bytes(b'[watchers.web]\ncmd = "\xff"\n')
    with pytest.raises(ConfigError) as raised:
        load_config("tuiman.toml", cwd=tmp_path)
    assert raised.value.errors == ["tuiman.toml: line 2: not valid UTF-8"]


def test_config_error_message_lists_every_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_toml(tmp_path, "[watchers.a]\n[watchers.b]\n")
    assert str(raised.value) == (
        "tuiman.toml: watchers.a.cmd: missing required key\n"
        "tuiman.toml: watchers.b.cmd: missing required key"
    )


def test_default_path_is_tuiman_toml_in_cwd(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", '[watchers.web]\ncmd = "sleep 1"\n')
    config = load_config(None, cwd=tmp_path)
    assert config.source == str((tmp_path / "tuiman.toml").resolve())
    assert [watcher.name for watcher in config.watchers] == ["web"]


def test_default_path_errors_are_labelled_tuiman_toml(tmp_path: Path) -> None:
    write(tmp_path / "tuiman.toml", "[watchers.web]\n")
    with pytest.raises(ConfigError) as raised:
        load_config(None, cwd=tmp_path)
    assert raised.value.errors == ["tuiman.toml: watchers.web.cmd: missing required key"]


def test_without_tuiman_toml_the_embedded_demo_is_loaded(tmp_path: Path) -> None:
    if not (REPO_ROOT / "tuiman" / "demo.toml").exists():
        pytest.skip("tuiman/demo.toml is not written yet")
    config = load_config(None, cwd=tmp_path)
    assert config.source == f"demo:{tmp_path}"
    assert config.watchers


def test_source_is_the_real_path(tmp_path: Path) -> None:
    real_config = write(tmp_path / "real" / "tuiman.toml", '[watchers.web]\ncmd = "sleep 1"\n')
    (tmp_path / "link.toml").symlink_to(real_config)
    config = load_config(tmp_path / "link.toml")
    assert config.source == str(real_config.resolve())


def test_circus_ini_goes_to_the_circus_loader(tmp_path: Path) -> None:
    # Circus configs are covered by tests/core/test_circus_ini.py.
    with pytest.raises(ConfigError) as raised:
        load_config("circus.ini", cwd=tmp_path)
    assert raised.value.errors == ["circus.ini: cannot read: No such file or directory"]


# --- keys and types ----------------------------------------------------------------------------


def test_unknown_hook_name_matches_the_spec_example(tmp_path: Path) -> None:
    assert watcher_errors(tmp_path, '[watchers.web.hooks]\nbefore_strat = "x.y"\n') == [
        "tuiman.toml: watchers.web.hooks.before_strat: unknown hook (did you mean before_start?)"
    ]


def test_unknown_hook_name_without_close_match_lists_the_hooks(tmp_path: Path) -> None:
    assert watcher_errors(tmp_path, '[watchers.web.hooks]\nzzz = "x.y"\n') == [
        "tuiman.toml: watchers.web.hooks.zzz: unknown hook (expected one of: "
        + ", ".join(HOOK_NAMES)
        + ")"
    ]


def test_unknown_keys_with_did_you_mean(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """
        watcher = 1
        [tuiman]
        hook_timout = 3
        [watchers.web]
        cmd = "sleep 1"
        numprocess = 2
        frobnicate = true
        restart = { backof_max = 1 }
        output = { max_byte = 1 }
        """,
    )
    assert errors == [
        "tuiman.toml: watcher: unknown key (did you mean watchers?)",
        "tuiman.toml: tuiman.hook_timout: unknown key (did you mean hook_timeout?)",
        "tuiman.toml: watchers.web.restart.backof_max: unknown key (did you mean backoff_max?)",
        "tuiman.toml: watchers.web.output.max_byte: unknown key (did you mean max_bytes?)",
        "tuiman.toml: watchers.web.numprocess: unknown key (did you mean numprocesses?)",
        "tuiman.toml: watchers.web.frobnicate: unknown key",
    ]


def test_schema_key_is_ignored(tmp_path: Path) -> None:
    config = load_toml(tmp_path, '"$schema" = "x"\n[watchers.web]\ncmd = "sleep 1"\n')
    assert config.watcher("web").cmd == ("sleep", "1")


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    assert watcher_errors(tmp_path, "numprocesses = true\npriority = 1.5\n") == [
        "tuiman.toml: watchers.web.numprocesses: expected an integer, got boolean true",
        "tuiman.toml: watchers.web.priority: expected an integer, got float 1.5",
    ]


def test_numbers_accept_integers(tmp_path: Path) -> None:
    watcher = load_watcher(tmp_path, "graceful_timeout = 5\nmax_age = 60\n")
    assert watcher.graceful_timeout == 5.0
    assert isinstance(watcher.graceful_timeout, float)
    assert watcher.max_age == 60.0


def test_wrong_types(tmp_path: Path) -> None:
    assert watcher_errors(
        tmp_path,
        """
        autostart = "yes"
        graceful_timeout = "30"
        env = 3
        restart = "fast"
        working_dir = 1
        success_exit_codes = 0
        """,
    ) == [
        "tuiman.toml: watchers.web.env: expected a table, got integer 3",
        "tuiman.toml: watchers.web.working_dir: expected a string, got integer 1",
        'tuiman.toml: watchers.web.graceful_timeout: expected a number, got string "30"',
        "tuiman.toml: watchers.web.success_exit_codes: expected an array of integers, "
        "got integer 0",
        'tuiman.toml: watchers.web.autostart: expected a boolean, got string "yes"',
        'tuiman.toml: watchers.web.restart: expected a table, got string "fast"',
    ]


def test_ranges(tmp_path: Path) -> None:
    assert watcher_errors(
        tmp_path,
        """
        numprocesses = -1
        graceful_timeout = -0.5
        max_retry = -2
        warmup_delay = inf
        [watchers.web.restart]
        flap_attempts = 0
        flap_max_retry = -3
        """,
    ) == [
        "tuiman.toml: watchers.web.numprocesses: must be >= 0, got -1",
        "tuiman.toml: watchers.web.graceful_timeout: must be >= 0, got -0.5",
        "tuiman.toml: watchers.web.warmup_delay: expected a finite number, got inf",
        "tuiman.toml: watchers.web.max_retry: must be >= -1, got -2",
        "tuiman.toml: watchers.web.restart.flap_attempts: must be >= 1, got 0",
        "tuiman.toml: watchers.web.restart.flap_max_retry: must be >= -1, got -3",
    ]


def test_arbiter_ranges(tmp_path: Path) -> None:
    assert errors_of(
        tmp_path, "[tuiman]\nhook_threads = 0\nhook_timeout = 0\nstats_interval = -1\n"
    ) == [
        "tuiman.toml: tuiman.hook_timeout: must be > 0, got 0",
        "tuiman.toml: tuiman.hook_threads: must be >= 1, got 0",
        "tuiman.toml: tuiman.stats_interval: must be > 0, got -1",
    ]


def test_arbiter_values_and_defaults(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path, '[tuiman]\nhook_timeout = 5\ncontrol_socket = "run/t.sock"\noutput_lines = 10\n'
    )
    assert config.arbiter == ArbiterConfig(
        hook_timeout=5.0, output_lines=10, control_socket=tmp_path / "run" / "t.sock"
    )
    assert config.watchers == ()


def test_singleton_allows_only_zero_or_one_process(tmp_path: Path) -> None:
    assert watcher_errors(tmp_path, "singleton = true\nnumprocesses = 2\n") == [
        "tuiman.toml: watchers.web.numprocesses: a singleton watcher runs 0 or 1 process, got 2"
    ]
    assert load_watcher(tmp_path, "singleton = true\nnumprocesses = 0\n").numprocesses == 0


@pytest.mark.parametrize(
    ("written", "expected"), [("true", True), ("false", False), ('"on-failure"', "on-failure")]
)
def test_respawn_values(tmp_path: Path, written: str, expected: object) -> None:
    assert load_watcher(tmp_path, f"respawn = {written}\n").respawn == expected


def test_respawn_rejects_other_strings(tmp_path: Path) -> None:
    assert watcher_errors(tmp_path, 'respawn = "always"\n') == [
        'tuiman.toml: watchers.web.respawn: expected true, false or "on-failure", '
        'got string "always"'
    ]


def test_success_exit_codes(tmp_path: Path) -> None:
    assert load_watcher(tmp_path, "success_exit_codes = [0, 3, 3]\n").success_exit_codes == (
        frozenset({0, 3})
    )
    assert watcher_errors(tmp_path, "success_exit_codes = [0, 300]\n") == [
        "tuiman.toml: watchers.web.success_exit_codes: expected exit codes 0..255 "
        "(or -N for signal N), got integer 300"
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('"TERM"', signal.SIGTERM),
        ('"SIGINT"', signal.SIGINT),
        ('"hup"', signal.SIGHUP),
        ('"SigQuit"', signal.SIGQUIT),
        ("9", signal.SIGKILL),
    ],
)
def test_stop_signal_spellings(tmp_path: Path, written: str, expected: int) -> None:
    assert load_watcher(tmp_path, f"stop_signal = {written}\n").stop_signal == int(expected)


def test_bad_signals(tmp_path: Path) -> None:
    assert errors_of(
        tmp_path,
        """
        [watchers.a]
        cmd = "x"
        stop_signal = "TREM"
        [watchers.b]
        cmd = "x"
        stop_signal = 999
        [watchers.c]
        cmd = "x"
        stop_signal = true
        """,
    ) == [
        'tuiman.toml: watchers.a.stop_signal: unknown signal "TREM" (did you mean TERM?)',
        "tuiman.toml: watchers.b.stop_signal: unknown signal number 999",
        "tuiman.toml: watchers.c.stop_signal: expected a signal name or number, got boolean true",
    ]


# --- cmd and args ------------------------------------------------------------------------------


def test_missing_and_empty_cmd(tmp_path: Path) -> None:
    assert errors_of(
        tmp_path,
        """
        [watchers.a]
        args = ["x"]
        [watchers.b]
        cmd = "  "
        [watchers.c]
        cmd = []
        [watchers.d]
        cmd = ["python", 3]
        [watchers.e]
        cmd = 'echo "unclosed'
        [watchers.f]
        cmd = 42
        """,
    ) == [
        "tuiman.toml: watchers.a.cmd: missing required key",
        "tuiman.toml: watchers.b.cmd: empty command",
        "tuiman.toml: watchers.c.cmd: empty command",
        "tuiman.toml: watchers.d.cmd[1]: expected a string, got integer 3",
        "tuiman.toml: watchers.e.cmd: cannot split the command line: No closing quotation",
        "tuiman.toml: watchers.f.cmd: expected a string or an array of strings, got integer 42",
    ]


def test_cmd_string_is_split_and_args_appended(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        """
        [watchers.a]
        cmd = "python -c 'print(1)'"
        args = "--x 'y z'"
        [watchers.b]
        cmd = ["my prog", "--flag"]
        args = ["a b"]
        """,
    )
    assert config.watcher("a").cmd == ("python", "-c", "print(1)", "--x", "y z")
    assert config.watcher("b").cmd == ("my prog", "--flag", "a b")


def test_shell_cmd_is_one_command_line(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        """
        [watchers.a]
        shell = true
        cmd = "echo $HOME | tr a-z A-Z"
        args = "&& true"
        [watchers.b]
        shell = true
        cmd = ["echo", "1"]
        args = ["2"]
        """,
    )
    assert config.watcher("a").cmd == ("echo $HOME | tr a-z A-Z && true",)
    assert config.watcher("b").cmd == ("echo 1 2",)


# --- watcher names -----------------------------------------------------------------------------


def test_duplicate_watcher_names_ignore_case(tmp_path: Path) -> None:
    assert errors_of(tmp_path, '[watchers.web]\ncmd = "x"\n[watchers.WEB]\ncmd = "x"\n') == [
        "tuiman.toml: watchers.WEB: duplicate watcher name (same as web, ignoring case)"
    ]


def test_invalid_watcher_names(tmp_path: Path) -> None:
    assert errors_of(
        tmp_path,
        '[watchers."a b"]\ncmd = "x"\n[watchers."ok-1_2.3"]\ncmd = "x"\n[watchers.""]\ncmd = "x"\n'
        '[watchers."café"]\ncmd = "x"\n',
    ) == [
        f"tuiman.toml: watchers.{name}: invalid watcher name (ASCII only: letters A-Z and a-z, "
        "digits, '-', '_' and '.')"
        for name in ('"a b"', '""', '"café"')
    ]


def test_watcher_names_may_hold_dots(tmp_path: Path) -> None:
    config = load_toml(tmp_path, '[watchers."api.v2"]\ncmd = "x"\n')
    assert [watcher.name for watcher in config.watchers] == ["api.v2"]


def test_watcher_must_be_a_table(tmp_path: Path) -> None:
    assert errors_of(tmp_path, 'watchers = { web = "sleep 1" }\n') == [
        'tuiman.toml: watchers.web: expected a table, got string "sleep 1"'
    ]


def test_all_errors_are_collected_across_tables(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """
        [tuiman]
        hook_threads = 0
        [env]
        GOOD = "1"
        BAD = [1]
        [watchers.a]
        numprocesses = -1
        [watchers.b]
        cmd = "x"
        stop_signal = "NOPE"
        """,
    )
    assert errors == [
        "tuiman.toml: tuiman.hook_threads: must be >= 1, got 0",
        "tuiman.toml: env.BAD: expected a string, got an array",
        "tuiman.toml: watchers.a.cmd: missing required key",
        "tuiman.toml: watchers.a.numprocesses: must be >= 0, got -1",
        'tuiman.toml: watchers.b.stop_signal: unknown signal "NOPE"',
    ]


# --- paths -------------------------------------------------------------------------------------


def test_working_dir_defaults_to_config_dir(tmp_path: Path) -> None:
    config_path = write(tmp_path / "conf" / "tuiman.toml", '[watchers.web]\ncmd = "x"\n')
    watcher = load_config(config_path).watcher("web")
    assert watcher.working_dir == tmp_path / "conf"


def test_relative_paths_are_relative_to_the_config_dir(tmp_path: Path) -> None:
    (tmp_path / "conf" / "app").mkdir(parents=True)
    config_path = write(
        tmp_path / "conf" / "tuiman.toml",
        """
        [tuiman]
        control_socket = "../run/tuiman.sock"
        [watchers.web]
        cmd = "x"
        working_dir = "app"
        [watchers.web.output]
        stdout_file = "logs/web.out"
        stderr_file = "/var/log/web.err"
        """,
    )
    config = load_config(str(config_path), cwd=Path("/"))
    watcher = config.watcher("web")
    assert watcher.working_dir == tmp_path / "conf" / "app"
    assert watcher.output == OutputConfig(
        stdout_file=tmp_path / "conf" / "logs" / "web.out", stderr_file=Path("/var/log/web.err")
    )
    assert config.arbiter.control_socket == tmp_path / "run" / "tuiman.sock"


def test_working_dir_must_exist_and_be_a_directory_at_start(tmp_path: Path) -> None:
    # Loading succeeds (the other watchers run); the start of each fails, and check lists it.
    write(tmp_path / "file.txt", "x")
    config = load_toml(
        tmp_path,
        """
        [watchers.a]
        cmd = "sleep 1"
        working_dir = "missing"
        [watchers.b]
        cmd = "sleep 1"
        working_dir = "file.txt"
        """,
    )
    assert watcher_environment_problems(config, "tuiman.toml") == [
        f"tuiman.toml: watchers.a.working_dir: directory {tmp_path / 'missing'} does not exist",
        f"tuiman.toml: watchers.b.working_dir: {tmp_path / 'file.txt'} is not a directory",
    ]


def test_output_file_cannot_be_combined_with_stream_files(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    assert watcher_errors(
        tmp_path,
        '[watchers.web.output]\nfile = "a.log"\nstdout_file = "b.log"\nstderr_file = "logs"\n',
    ) == [
        f"tuiman.toml: watchers.web.output.stderr_file: {tmp_path / 'logs'} is a directory",
        "tuiman.toml: watchers.web.output.file: cannot be combined with stdout_file or stderr_file",
    ]


def test_restart_table_and_backoff_order(tmp_path: Path) -> None:
    watcher = load_watcher(tmp_path, "[watchers.web.restart]\nretry_in = 2\nflap_max_retry = -1\n")
    assert watcher.restart == RestartConfig(retry_in=2.0, flap_max_retry=-1)
    assert watcher_errors(
        tmp_path, "[watchers.web.restart]\nbackoff_initial = 5\nbackoff_max = 1\n"
    ) == ["tuiman.toml: watchers.web.restart.backoff_max: must be >= backoff_initial (5), got 1"]


# --- users and limits --------------------------------------------------------------------------


def test_uid_and_gid_by_name_and_number(tmp_path: Path) -> None:
    own_user = pwd.getpwuid(os.geteuid())
    watcher = load_watcher(tmp_path, f'uid = "{own_user.pw_name}"\ngid = {os.getegid()}\n')
    assert (watcher.uid, watcher.gid) == (os.geteuid(), os.getegid())


def test_unknown_user_and_group_are_looked_up_again_at_start(tmp_path: Path) -> None:
    watcher = load_watcher(tmp_path, 'uid = "no-such-user-xyz"\ngid = "no-such-group-xyz"\n')
    assert (watcher.uid, watcher.gid) == (None, None)
    assert (watcher.user, watcher.group) == ("no-such-user-xyz", "no-such-group-xyz")
    config = Config("x", ArbiterConfig(), (watcher,))
    # The first problem of the ids stops their lookup: the group is named once the user exists.
    assert watcher_environment_problems(config, "tuiman.toml") == [
        'tuiman.toml: watchers.web.uid: unknown user "no-such-user-xyz"'
    ]


def test_another_uid_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    monkeypatch.setattr(os, "getegid", lambda: 4242)
    assert watcher_errors(tmp_path, "uid = 0\ngid = 4242\n") == [
        "tuiman.toml: watchers.web.uid: setting uid to another than tuiman's own requires "
        "running as root"
    ]


def test_rlimits(tmp_path: Path) -> None:
    # Limits whose hard limit is already unlimited: accepted whoever runs the test.
    unlimited = [
        name
        for name in ("core", "fsize", "cpu")
        if resource.getrlimit(RLIMIT_NAMES[name])[1] == resource.RLIM_INFINITY
    ]
    if len(unlimited) < 2:
        pytest.skip("fewer than two limits with an unlimited hard limit here")
    first, second = unlimited[:2]
    watcher = load_watcher(
        tmp_path,
        f'[watchers.web.rlimits]\nnofile = 1024\nRLIMIT_{first.upper()} = "unlimited"\n'
        f"{second} = -1\n",
    )
    assert watcher.rlimits == {
        "nofile": 1024,
        first: resource.RLIM_INFINITY,
        second: resource.RLIM_INFINITY,
    }


def test_bad_rlimits(tmp_path: Path) -> None:
    assert watcher_errors(
        tmp_path, '[watchers.web.rlimits]\nnofiles = 1\ncore = "lots"\nnproc = -5\n'
    ) == [
        "tuiman.toml: watchers.web.rlimits.nofiles: unknown resource limit (did you mean nofile?)",
        'tuiman.toml: watchers.web.rlimits.core: expected an integer or "unlimited", '
        'got string "lots"',
        "tuiman.toml: watchers.web.rlimits.nproc: must be >= 0 (or -1 for unlimited), got -5",
    ]


def test_raising_a_hard_limit_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard_limit == resource.RLIM_INFINITY:
        pytest.skip("RLIMIT_NOFILE has no hard limit here")
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    assert watcher_errors(tmp_path, f"rlimits = {{ nofile = {hard_limit + 1} }}\n") == [
        f"tuiman.toml: watchers.web.rlimits.nofile: {hard_limit + 1} exceeds the hard limit "
        f"{hard_limit} (only root can raise it)"
    ]


# --- environment -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$HOME/x", "/home/tester/x"),
        ("${HOME}x", "/home/testerx"),
        ("$PWD", "/srv/here"),
        ("${PWD}/lib", "/srv/here/lib"),
        ("$$HOME", "$HOME"),
        ("cost: $$5", "cost: $5"),
        ("$UNSET-", "-"),
        ("${UNSET}", ""),
        ("80$(tuiman.wid)", "80$(tuiman.wid)"),
        ("$(circus.env.HOME)", "$(circus.env.HOME)"),
        ("a $ b $1 ${1} $(date)", "a $ b $1 ${1} $(date)"),
        ("$home", ""),
    ],
)
def test_expand_env_value(value: str, expected: str) -> None:
    assert expand_env_value(value, {"HOME": "/home/tester", "PWD": "/stale"}, "/srv/here") == (
        expected
    )


def test_env_precedence_and_expansion(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        """
        [env]
        LOG_LEVEL = "info"
        SHARED = "global"
        FROM_HOME = "$HOME/global"
        [watchers.web]
        cmd = "x"
        [watchers.web.env]
        SHARED = "watcher"
        PORT = 8000
        PYTHONPATH = "$PYTHONPATH:$PWD"
        LANG = "$LOG_LEVEL"
        """,
    )
    assert config.watcher("web").env == {
        "HOME": "/home/tester",
        "PYTHONPATH": f"/opt/base:{tmp_path}",
        "LANG": "",  # expanded against tuiman's environment, not [env]
        "LOG_LEVEL": "info",
        "SHARED": "watcher",
        "FROM_HOME": "/home/tester/global",
        "PORT": "8000",
    }


def test_copy_env_false_starts_empty(tmp_path: Path) -> None:
    watcher = load_watcher(tmp_path, 'copy_env = false\nenv = { A = "$HOME" }\n')
    assert watcher.env == {"A": "/home/tester"}


def test_bad_env_entries(tmp_path: Path) -> None:
    assert errors_of(tmp_path, '[env]\n"A=B" = "x"\nFLAG = true\nNUL = "a\\u0000b"\n') == [
        'tuiman.toml: env."A=B": invalid environment variable name',
        "tuiman.toml: env.FLAG: expected a string, got boolean true",
        "tuiman.toml: env.NUL: contains a NUL character",
    ]


def test_unknown_expansion_tokens_are_errors(tmp_path: Path) -> None:
    assert watcher_errors(
        tmp_path,
        'args = ["$(tuiman.wdi)"]\nenv = { P = "$(circus.sockets.web)" }\n',
    ) == [
        "tuiman.toml: watchers.web.args: unknown expansion $(tuiman.wdi) "
        "(did you mean $(tuiman.wid)?)",
        "tuiman.toml: watchers.web.env.P: unknown socket 'web' (none is defined)",
    ]


def test_unset_env_token_is_a_warning(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path, '[watchers.web]\ncmd = "x $(tuiman.env.NOPE) $(tuiman.env.HOME)"\n'
    )
    assert config.warnings == (
        "tuiman.toml: watchers.web.cmd: $(tuiman.env.NOPE) is not in the watcher's "
        "environment and expands to an empty string",
    )


# --- per-spawn expansion -----------------------------------------------------------------------


def test_spawn_argv_env_expands_tokens(tmp_path: Path) -> None:
    watcher = load_watcher(
        tmp_path,
        """
        copy_env = false
        args = ["--port", "80$(tuiman.wid)", "--name=$(tuiman.name)",
                "-n", "$(circus.numprocesses)", "--host", "$(tuiman.env.HOST)",
                "--mode", "$(CIRCUS.ENV.mode)", "$(tuiman.env.GONE)"]
        env = { HOST = "10.0.0.$(circus.wid)", MODE = "fast", URL = "http://$(tuiman.env.HOST)/" }
        """,
    )
    argv, spawn_env = spawn_argv_env(watcher, 3, 4)
    assert argv == [
        "sleep",
        "1",
        "--port",
        "803",
        "--name=web",
        "-n",
        "4",
        "--host",
        "10.0.0.3",
        "--mode",
        "fast",
        "",
    ]
    assert spawn_env == {"HOST": "10.0.0.3", "MODE": "fast", "URL": "http://10.0.0.3/"}
    assert watcher.env["HOST"] == "10.0.0.$(circus.wid)"  # the template is untouched


def test_spawn_argv_env_for_shell_watchers(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        '[watchers.sh]\nshell = true\ncopy_env = false\ncmd = "echo $(tuiman.wid) $HOME"\n',
    )
    argv, spawn_env = spawn_argv_env(config.watcher("sh"), 2, 2)
    assert argv == ["/bin/sh", "-c", "echo 2 $HOME"]
    assert spawn_env == {}


# --- hooks -------------------------------------------------------------------------------------

HOOK_MODULE = """
def check(watcher, arbiter, hook_name, **kwargs):
    return "checked"

def spawned(watcher, arbiter, hook_name, pid):
    return pid

def reaped(*, watcher, arbiter, hook_name, process_pid, time, exit_code, process_status):
    return exit_code

async def async_check(watcher, arbiter, hook_name, **kwargs):
    return True

def needs_extra(watcher, arbiter, hook_name, extra, **kwargs):
    return True

def too_few(watcher, arbiter):
    return True

def positional_only(watcher, arbiter, hook_name, /, **kwargs):
    return True

class Holder:
    @staticmethod
    def method(watcher, arbiter, hook_name, **kwargs):
        return "method"

NOT_CALLABLE = 3
"""


def hook_errors(tmp_path: Path, hooks_toml: str) -> list[str]:
    write(tmp_path / "tm_hooks.py", HOOK_MODULE)
    return watcher_errors(tmp_path, "[watchers.web.hooks]\n" + textwrap.dedent(hooks_toml))


def test_hooks_resolve_from_the_config_directory(tmp_path: Path) -> None:
    write(tmp_path / "tm_hooks.py", HOOK_MODULE)
    config = load_toml(
        tmp_path,
        """
        [tuiman]
        hook_timeout = 12
        [watchers.web]
        cmd = "x"
        [watchers.web.hooks]
        before_start = "tm_hooks.check"
        after_spawn = "tm_hooks:spawned"
        after_reap = { path = "tm_hooks.reaped", ignore_failure = true, timeout = 2 }
        before_stop = "tm_hooks.async_check"
        extended_stats = { path = "tm_hooks:Holder.method", ignore_failure = false }
        """,
    )
    hooks = config.watcher("web").hooks
    assert list(hooks) == [
        "before_start",
        "after_spawn",
        "after_reap",
        "before_stop",
        "extended_stats",
    ]
    assert hooks["before_start"].func(watcher=None, arbiter=None, hook_name="x") == "checked"
    assert hooks["after_spawn"].path == "tm_hooks:spawned"
    assert hooks["after_spawn"].func(watcher=None, arbiter=None, hook_name="x", pid=7) == 7
    assert [(spec.ignore_failure, spec.timeout) for spec in hooks.values()] == [
        (False, 12.0),
        (False, 12.0),
        (True, 2.0),
        (True, 12.0),
        (False, 12.0),
    ]
    assert hooks["extended_stats"].func(watcher=1, arbiter=2, hook_name="x") == "method"
    # Appended (the config dir, then PYTHONPATH), never in front of the stdlib.
    assert sys.path[-2:] == [str(tmp_path), "/opt/base"]


def test_ignore_failure_defaults_follow_circus() -> None:
    assert (
        frozenset({"before_stop", "after_stop", "before_signal", "after_signal", "extended_stats"})
        == IGNORED_FAILURE_HOOKS
    )


def test_hooks_resolve_through_the_watchers_pythonpath(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "tm_libhooks" / "__init__.py", "")
    write(tmp_path / "lib" / "tm_libhooks" / "checks.py", HOOK_MODULE)
    write(tmp_path / "rel" / "tm_relhooks.py", HOOK_MODULE)
    conf_dir = tmp_path / "conf"
    config_path = write(
        conf_dir / "tuiman.toml",
        """
        [watchers.web]
        cmd = "x"
        env = { PYTHONPATH = "$PWD/lib:rel" }
        hooks = { before_start = "tm_libhooks.checks.check", before_spawn = "tm_relhooks.check" }
        """,
    )
    config = load_config_text(config_path.read_text(), config_path, cwd=tmp_path, environ={})
    hooks = config.watcher("web").hooks
    assert hooks["before_start"].func.__module__ == "tm_libhooks.checks"
    assert hooks["before_spawn"].func.__module__ == "tm_relhooks"
    assert sys.path[-3:] == [str(conf_dir), str(tmp_path / "lib"), str(tmp_path / "rel")]


def test_hook_import_errors(tmp_path: Path) -> None:
    write(tmp_path / "tm_broken.py", "import tm_not_there\n")
    write(tmp_path / "tm_syntax.py", "def f(:\n")
    write(tmp_path / "tm_exits.py", "raise SystemExit(3)\n")
    assert hook_errors(
        tmp_path,
        """
        before_start = "tm_missing.check"
        after_start = "tm_broken.check"
        before_spawn = "tm_syntax.check"
        before_stop = "tm_exits.check"
        """,
    ) == [
        "tuiman.toml: watchers.web.hooks.before_start: cannot import tm_missing: "
        "ModuleNotFoundError: No module named 'tm_missing'",
        "tuiman.toml: watchers.web.hooks.after_start: cannot import tm_broken: "
        "ModuleNotFoundError: No module named 'tm_not_there'",
        "tuiman.toml: watchers.web.hooks.before_spawn: cannot import tm_syntax: "
        "SyntaxError: invalid syntax (tm_syntax.py, line 1)",
        "tuiman.toml: watchers.web.hooks.before_stop: cannot import tm_exits: SystemExit: 3",
    ]


def test_hook_attribute_and_callable_errors(tmp_path: Path) -> None:
    assert hook_errors(
        tmp_path,
        """
        before_start = "tm_hooks.nope"
        after_start = "tm_hooks.NOT_CALLABLE"
        before_spawn = "check"
        after_stop = "tm_hooks:"
        """,
    ) == [
        "tuiman.toml: watchers.web.hooks.before_start: tm_hooks has no attribute nope",
        "tuiman.toml: watchers.web.hooks.after_start: tm_hooks.NOT_CALLABLE is not callable "
        "(it is int)",
        'tuiman.toml: watchers.web.hooks.before_spawn: expected "module.function" or '
        '"module:function", got "check"',
        'tuiman.toml: watchers.web.hooks.after_stop: expected "module.function" or '
        '"module:function", got "tm_hooks:"',
    ]


def test_hook_signature_errors(tmp_path: Path) -> None:
    assert hook_errors(
        tmp_path,
        """
        before_start = "tm_hooks.needs_extra"
        after_start = "tm_hooks.too_few"
        before_spawn = "tm_hooks.positional_only"
        after_reap = "tm_hooks.spawned"
        before_signal = "tm_hooks.spawned"
        """,
    ) == [
        "tuiman.toml: watchers.web.hooks.before_start: tm_hooks.needs_extra cannot take the "
        "before_start call (watcher=, arbiter=, hook_name=): missing a required argument: "
        "'extra'",
        "tuiman.toml: watchers.web.hooks.after_start: tm_hooks.too_few cannot take the "
        "after_start call (watcher=, arbiter=, hook_name=): got an unexpected keyword argument "
        "'hook_name'",
        "tuiman.toml: watchers.web.hooks.before_spawn: tm_hooks.positional_only cannot take the "
        "before_spawn call (watcher=, arbiter=, hook_name=): 'watcher' parameter is positional "
        "only, but was passed as a keyword",
        "tuiman.toml: watchers.web.hooks.after_reap: tm_hooks.spawned cannot take the after_reap "
        "call (watcher=, arbiter=, hook_name=, process_pid=, time=, exit_code=, "
        "process_status=): missing a required argument: 'pid'",
        "tuiman.toml: watchers.web.hooks.before_signal: tm_hooks.spawned cannot take the "
        "before_signal call (watcher=, arbiter=, hook_name=, pid=, signum=): got an unexpected "
        "keyword argument 'signum'",
    ]


def test_explicit_keyword_signature_is_enough(tmp_path: Path) -> None:
    write(tmp_path / "tm_hooks.py", HOOK_MODULE)
    watcher = load_watcher(tmp_path, '[watchers.web.hooks]\nafter_reap = "tm_hooks.reaped"\n')
    assert watcher.hooks["after_reap"].func.__name__ == "reaped"


def test_hook_table_errors(tmp_path: Path) -> None:
    assert hook_errors(
        tmp_path,
        """
        before_start = { ignore_failure = "no", timout = 3 }
        after_start = { path = "tm_hooks.check", timeout = 0 }
        before_spawn = 3
        """,
    ) == [
        "tuiman.toml: watchers.web.hooks.before_start.path: missing required key",
        "tuiman.toml: watchers.web.hooks.before_start.ignore_failure: expected a boolean, "
        'got string "no"',
        "tuiman.toml: watchers.web.hooks.before_start.timout: unknown key (did you mean timeout?)",
        "tuiman.toml: watchers.web.hooks.after_start.timeout: must be > 0, got 0",
        "tuiman.toml: watchers.web.hooks.before_spawn: expected a dotted path or a table, "
        "got integer 3",
    ]


def test_hook_module_shadowing_the_stdlib_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "json.py", HOOK_MODULE)
    assert watcher_errors(tmp_path, '[watchers.web.hooks]\nbefore_start = "json.check"\n') == [
        "tuiman.toml: watchers.web.hooks.before_start: module json shadows a standard-library "
        "module (rename your module)"
    ]


def test_local_hook_module_hidden_by_an_installed_one_is_refused(tmp_path: Path) -> None:
    import pytest as installed_pytest

    write(tmp_path / "pytest.py", HOOK_MODULE)
    installed_location = Path(installed_pytest.__file__).resolve().parent
    assert watcher_errors(tmp_path, '[watchers.web.hooks]\nbefore_start = "pytest.check"\n') == [
        f"tuiman.toml: watchers.web.hooks.before_start: module pytest is imported from "
        f"{installed_location}, not from {tmp_path / 'pytest.py'} (rename your module)"
    ]


# --- the documented example --------------------------------------------------------------------


def test_config_example_loads_and_documents_the_defaults() -> None:
    example_path = REPO_ROOT / "config.example.toml"
    config = load_config(example_path)
    assert config.warnings == ()
    assert config.arbiter == ArbiterConfig()
    watcher = config.watcher("example")
    assert watcher.cmd == ("sleep", "3600")
    assert watcher.env["EXAMPLE_PORT"] == "80$(tuiman.wid)"
    assert watcher.env["EXAMPLE_LOG_LEVEL"] == "info"
    expected = WatcherConfig(
        name="example",
        cmd=("sleep", "3600"),
        working_dir=REPO_ROOT,
        env=watcher.env,
    )
    assert watcher == expected


def test_config_example_mentions_every_key() -> None:
    example_text = (REPO_ROOT / "config.example.toml").read_text()
    documented_keys = {
        *ArbiterConfig.__dataclass_fields__,
        *WatcherConfig.__dataclass_fields__,
        *RestartConfig.__dataclass_fields__,
        *OutputConfig.__dataclass_fields__,
        *SocketConfig.__dataclass_fields__,
        "args",
        "ignore_failure",
        "timeout",
        "path",
    } - {"name", "user", "group"}  # internal: a uid/gid name looked up again at start
    missing = sorted(
        key
        for key in documented_keys
        if f"{key} =" not in example_text and f"[watchers.example.{key}]" not in example_text
    )
    assert missing == []


# --- robustness (bad input never crashes: docs/reliability.md#bad-input-never-crashes-tuiman) -----

_toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["TERM", "on-failure", ".", "$(tuiman.wid)", "$HOME", "nofile", "root"])
)
_toml_values = st.recursive(
    _toml_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_watcher_keys = sorted(
    ({*WatcherConfig.__dataclass_fields__, "args"} - {"name", "hooks"}) | {"unknown_key"}
)


@settings(max_examples=150, deadline=None)
@given(
    watcher_table=st.dictionaries(st.sampled_from(_watcher_keys), _toml_values, max_size=6),
    arbiter_table=st.dictionaries(
        st.sampled_from([*ArbiterConfig.__dataclass_fields__, "other"]), _toml_values, max_size=3
    ),
)
def test_random_values_give_a_config_or_config_errors(
    watcher_table: dict[str, object], arbiter_table: dict[str, object]
) -> None:
    text = tomli_w.dumps({"tuiman": arbiter_table, "watchers": {"web": watcher_table}})
    try:
        config = load_config_text(text, Path("/nonexistent/tuiman.toml"), environ=BASE_ENVIRON)
    except ConfigError as error:
        assert error.errors
        assert all(
            "\n" not in line and line.startswith("/nonexistent/tuiman.toml: ")
            for line in error.errors
        )
    else:
        assert config.watcher("web").cmd

"""Circus INI configs (docs/circus.md): loading, `tuiman convert` round trips, exact errors and
warnings."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import kill_quietly
from tuiman.core.circus.loader import convert_circus_config, load_circus_config
from tuiman.core.config.expand import spawn_argv_env
from tuiman.core.config.loader import ConfigError, load_config_text
from tuiman.core.config.model import Config, HookSpec, OutputConfig, RestartConfig, WatcherConfig
from tuiman.core.configfile import load_config

ENVIRON = {
    "HOME": "/home/tester",
    "PYTHONPATH": "/opt/base",
    "LANG": "C.UTF-8",
    "WORKERS": "3",
}
TUIMAN = [sys.executable, "-m", "tuiman"]
NO_FLAPPING_PLUGIN = RestartConfig(flap_max_retry=-1)


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


def load_ini(tmp_path: Path, text: str, name: str = "circus.ini") -> Config:
    write(tmp_path / name, text)
    return load_circus_config(tmp_path / name, display_name=name, cwd=tmp_path, environ=ENVIRON)


def ini_errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_ini(tmp_path, text)
    return raised.value.errors


def ini_warnings(tmp_path: Path, text: str) -> list[str]:
    return list(load_ini(tmp_path, text).warnings)


def converted(tmp_path: Path, name: str = "circus.ini") -> Config:
    """Convert tmp_path/NAME, write the TOML next to it and load that."""
    conversion = convert_circus_config(
        tmp_path / name, display_name=name, cwd=tmp_path, environ=ENVIRON
    )
    toml_path = write(tmp_path / "converted.toml", conversion.toml_text)
    return load_config_text(
        toml_path.read_text(encoding="utf-8"), toml_path, cwd=tmp_path, environ=ENVIRON
    )


def assert_same_config(ini_config: Config, toml_config: Config) -> None:
    assert ini_config.arbiter == toml_config.arbiter
    assert [w.name for w in ini_config.watchers] == [w.name for w in toml_config.watchers]
    for ini_watcher, toml_watcher in zip(ini_config.watchers, toml_config.watchers, strict=True):
        for watcher_field in dataclasses.fields(WatcherConfig):
            ini_value = getattr(ini_watcher, watcher_field.name)
            toml_value = getattr(toml_watcher, watcher_field.name)
            assert ini_value == toml_value, f"{ini_watcher.name}.{watcher_field.name}"


def round_trip(tmp_path: Path, text: str) -> Config:
    """Load the INI, check its conversion loads to the same watchers, return the INI's config."""
    ini_config = load_ini(tmp_path, text)
    assert_same_config(ini_config, converted(tmp_path))
    return ini_config


# --- five configs in the style of Circus' own examples ----------------------------------------


def test_priorities_numprocesses_and_stop_options(tmp_path: Path) -> None:
    config = round_trip(
        tmp_path,
        """\
        [circus]
        check_delay = 5
        endpoint = tcp://127.0.0.1:5555
        warmup_delay = 1

        [watcher:web]
        cmd = python -m myapp.web
        args = --port 80$(circus.wid) --workers $(circus.numprocesses)
        numprocesses = 4
        priority = 2
        warmup_delay = 0.5

        [watcher:redis]
        cmd = redis-server --port 6390
        priority = 3
        stop_signal = QUIT
        graceful_timeout = 10

        [watcher:worker]
        cmd = python -m myapp.worker
        numprocesses = 2
        stop_signal = SIGINT
        graceful_timeout = 0
        max_age = 3600
        max_age_variance = 60
        """,
    )
    assert config.arbiter.warmup_delay == 1.0
    assert [w.name for w in config.watchers] == ["redis", "web", "worker"]  # sorted, as Circus
    redis, web, worker = config.watchers
    assert redis == WatcherConfig(
        name="redis",
        cmd=("redis-server", "--port", "6390"),
        priority=3,
        working_dir=tmp_path,  # Circus: the directory it was started in
        copy_env=False,
        stop_signal=signal.SIGQUIT,
        graceful_timeout=10.0,
        stop_children=False,
        restart=NO_FLAPPING_PLUGIN,
    )
    assert (web.numprocesses, web.priority, web.warmup_delay) == (4, 2, 0.5)
    assert spawn_argv_env(web, 3, 4)[0] == [
        "python",
        "-m",
        "myapp.web",
        "--port",
        "803",
        "--workers",
        "4",
    ]
    assert (worker.stop_signal, worker.graceful_timeout) == (signal.SIGINT, 0.0)
    assert (worker.max_age, worker.max_age_variance) == (3600.0, 60.0)
    assert config.warnings == (
        "circus.ini: [circus]: tuiman ignores check_delay: "
        "tuiman sees every exit at once instead of polling",
        "circus.ini: [circus]: tuiman ignores endpoint: "
        "tuiman is controlled through its own Unix socket (tuiman ctl), not ZeroMQ",
    )


def test_env_sections_globs_and_copy_env(tmp_path: Path) -> None:
    config = round_trip(
        tmp_path,
        """\
        [env]
        LANG = C
        LOG_DIR = $HOME/logs

        [watcher:web-1]
        cmd = app
        copy_env = true

        [watcher:web-2]
        cmd = app

        [watcher:worker]
        cmd = worker
        copy_env = False

        [env:web-*,worker]
        PYTHONPATH = $PYTHONPATH:$PWD
        LITERAL = ${HOME} and $lower and $HOMEx and $$ and 100$

        [env:worker]
        ROLE = worker
        LANG = fr
        """,
    )
    web_1, web_2, worker = config.watchers
    shared = {
        "LANG": "C",
        "LOG_DIR": "/home/tester/logs",
        "PYTHONPATH": f"/opt/base:{tmp_path}",
        # Circus expands only $ + an uppercase name; ${HOME} stays as written.
        "LITERAL": "${HOME} and $lower and /home/testerx and $$ and 100$",
    }
    assert web_1.copy_env and web_1.env == {**ENVIRON, **shared}
    assert not web_2.copy_env and web_2.env == shared
    assert worker.env == {**shared, "ROLE": "worker", "LANG": "fr"}  # later section wins


def test_hooks_with_ignore_failure_flags(tmp_path: Path) -> None:
    write(
        tmp_path / "lib" / "ex_hooks.py",
        """\
        def check_redis(watcher, arbiter, hook_name, **kwargs):
            return True

        def report(watcher, arbiter, hook_name, **kwargs):
            pass
        """,
    )
    config = round_trip(
        tmp_path,
        """\
        [watcher:web]
        cmd = python app.py
        copy_env = True
        hooks.before_start = ex_hooks.check_redis, true
        hooks.after_reap = ex_hooks.report
        hooks.before_stop = ex_hooks:report, false

        [env:web]
        PYTHONPATH = $PWD/lib
        """,
    )
    import ex_hooks  # type: ignore[import-not-found]

    hooks = config.watcher("web").hooks
    assert hooks == {
        "before_start": HookSpec(
            "before_start",
            "ex_hooks.check_redis",
            ex_hooks.check_redis,
            ignore_failure=True,
            timeout=30.0,
        ),
        "after_reap": HookSpec(
            "after_reap", "ex_hooks.report", ex_hooks.report, ignore_failure=False, timeout=30.0
        ),
        # Circus always ignores before_stop failures; `, false` cannot change that.
        "before_stop": HookSpec(
            "before_stop", "ex_hooks:report", ex_hooks.report, ignore_failure=True, timeout=30.0
        ),
    }


def test_flapping_plugin_and_file_streams(tmp_path: Path) -> None:
    config = round_trip(
        tmp_path,
        """\
        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        attempts = 3
        window = 2.5
        retry_in = 4
        max_retry = 2

        [watcher:api]
        cmd = api-server
        stdout_stream.class = FileStream
        stdout_stream.filename = logs/api.out.log
        stdout_stream.max_bytes = 1048576
        stdout_stream.backup_count = 3
        stderr_stream.class = FileStream
        stderr_stream.filename = logs/api.err.log
        stderr_stream.max_bytes = 1048576
        stderr_stream.backup_count = 3

        [watcher:batch]
        cmd = batch
        flapping.max_retry = -1
        flapping.retry_in = 1
        stdout_stream.filename = logs/batch.log
        stderr_stream.class = circus.stream.FileStream
        stderr_stream.filename = logs/batch.log

        [watcher:cron]
        cmd = cron
        flapping.active = false
        """,
    )
    api, batch, cron = config.watchers
    assert api.restart == RestartConfig(
        flap_attempts=3, flap_window=2.5, retry_in=4.0, flap_max_retry=2
    )
    assert api.output == OutputConfig(
        stdout_file=tmp_path / "logs/api.out.log",
        stderr_file=tmp_path / "logs/api.err.log",
        max_bytes=1048576,
        backup_count=3,
        line_format="raw",  # FileStream writes the lines as the process wrote them
    )
    assert batch.restart == RestartConfig(
        flap_attempts=3, flap_window=2.5, retry_in=1.0, flap_max_retry=-1
    )
    # One file for both streams; FileStream's defaults never rotate.
    assert batch.output == OutputConfig(
        file=tmp_path / "logs/batch.log", max_bytes=0, backup_count=0, line_format="raw"
    )
    assert cron.restart == NO_FLAPPING_PLUGIN and cron.output == OutputConfig()


def test_shell_args_includes_rlimits_and_one_shot_jobs(tmp_path: Path) -> None:
    write(
        tmp_path / "conf.d" / "shell.ini",
        """\
        [watcher:sh]
        cmd = echo hello && sleep 1
        shell = true
        stop_children = true

        [env:once]
        ROLE = primary
        """,
    )
    config = round_trip(
        tmp_path,
        """\
        [circus]
        include = conf.d/*.ini

        [watcher:once]
        cmd = python3
        args = -c "print($(circus.wid))" --name $(circus.env.ROLE) --home ((circus.env.home))
        respawn = False
        autostart = false
        max_retry = -1
        singleton = true
        rlimit_nofile = 256
        rlimit_core = 0
        """,
    )
    once, shell = config.watchers
    assert (once.respawn, once.autostart, once.max_retry) == (False, False, -1)
    assert once.singleton
    assert once.rlimits == {"nofile": 256, "core": 0}
    argv, env = spawn_argv_env(once, 2, 1)
    # ROLE is in the watcher's env: expanded per spawn. HOME is not (copy_env = false): Circus
    # put tuiman's value in at load time.
    assert argv == ["python3", "-c", "print(2)", "--name", "primary", "--home", "/home/tester"]
    assert env == {"ROLE": "primary"}
    # Circus quotes every word of a shell command; the same words reach the shell.
    assert (shell.shell, shell.cmd, shell.stop_children) == (
        True,
        ("echo hello '&&' sleep 1",),
        True,
    )
    assert config.warnings == (
        "conf.d/shell.ini: [watcher:sh] cmd: with shell = true Circus quotes every word, "
        "so && reaches the shell as plain text; tuiman does the same",
    )


def test_loader_reads_ini_files_as_circus_configs(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "circus.ini", "[watcher:web]\ncmd = sleep 1\nworking_dir = data\n")
    (tmp_path / "data").mkdir()
    config = load_config("conf/circus.ini", cwd=tmp_path)
    assert config.source == str((tmp_path / "conf" / "circus.ini").resolve())
    # Relative paths start where tuiman runs, as in Circus (not at the config's directory).
    assert config.watcher("web").working_dir == tmp_path / "data"


# --- expansion ---------------------------------------------------------------------------------


def test_circus_env_tokens_in_options_expand_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    web = load_ini(
        tmp_path,
        f"""\
        [env]
        BASE = {tmp_path}

        [watcher:web]
        cmd = app
        numprocesses = $(circus.env.workers)
        working_dir = $(circus.env.BASE)/srv
        """,
    ).watcher("web")
    assert (web.numprocesses, web.working_dir) == (3, tmp_path / "srv")


def test_circus_env_tokens_in_commands_take_the_value_as_written_at_load(
    tmp_path: Path,
) -> None:
    # Circus' load-time pass fills in every variable set at load, whatever copy_env says, with
    # its value as written ($HOME stays $HOME: real circusd gives the same); one set nowhere
    # stays for each spawn (a hook may set it).
    config = round_trip(
        tmp_path,
        """\
        [env]
        LOG = $HOME/log

        [watcher:a]
        cmd = echo $(circus.env.HOME) $(circus.env.LOG) $(circus.env.unset)

        [watcher:b]
        cmd = echo $(circus.env.HOME) $(circus.env.log)
        copy_env = true
        """,
    )
    assert config.watcher("a").cmd == ("echo", "/home/tester", "$HOME/log", "$(circus.env.unset)")
    assert config.watcher("b").cmd == ("echo", "/home/tester", "$HOME/log")


def test_env_option_and_empty_values(tmp_path: Path) -> None:
    web = round_trip(
        tmp_path,
        """\
        [env:web]
        A = from-section
        EMPTY = ""

        [watcher:web]
        cmd = app ;  a comment after whitespace
        args = a;b
        env = A=from-option, B = $LANG
        """,
    ).watcher("web")
    assert web.cmd == ("app", "a;b")
    # Circus 0.19 replaces a watcher's `env` option with its env sections' variables.
    assert web.env == {"A": "from-section", "EMPTY": ""}
    assert ini_warnings(tmp_path, (tmp_path / "circus.ini").read_text()) == [
        "circus.ini: [watcher:web] env: ignored, as Circus 0.19 ignores it: "
        "put the variables in [env:web]"
    ]


# --- warnings ----------------------------------------------------------------------------------


def test_circus_plumbing_is_ignored_with_one_warning_each(tmp_path: Path) -> None:
    warnings = ini_warnings(
        tmp_path,
        """\
        [circus]
        pubsub_endpoint = tcp://127.0.0.1:5556
        stats_endpoint = tcp://127.0.0.1:5557
        statsd = true
        httpd = 1
        httpd_port = 8080
        multicast_endpoint = udp://237.219.251.97:12027
        loglevel = debug
        logoutput = -
        debug = false
        pidfile = /run/circus.pid

        [watcher:web]
        cmd = app
        check_flapping = false
        stdout_stream.class = StdoutStream
        stderr_stream.class = FileStream
        stderr_stream.filename = err.log
        stderr_stream.time_format = %Y-%m-%d
        flapping.attempts = 3
        """,
    )
    assert warnings == [
        "circus.ini: [circus]: tuiman ignores pubsub_endpoint: "
        "tuiman ctl events streams the events",
        "circus.ini: [circus]: tuiman ignores stats_endpoint: "
        "tuiman samples stats itself (the UI, tuiman ctl stats)",
        "circus.ini: [circus]: tuiman ignores statsd: in Circus it runs circusd-stats, a ZeroMQ "
        "stats stream; tuiman samples stats itself (the UI, tuiman ctl stats, the control "
        "socket's stats_stream). For statsd datagrams: the statsd plugin",
        "circus.ini: [circus]: tuiman ignores httpd: "
        "tuiman has no web UI (use the terminal UI or tuiman attach)",
        "circus.ini: [circus]: tuiman ignores httpd_port: "
        "tuiman has no web UI (use the terminal UI or tuiman attach)",
        "circus.ini: [circus]: tuiman ignores multicast_endpoint: tuiman has no cluster discovery",
        "circus.ini: [circus]: tuiman ignores loglevel: "
        "tuiman reports what it does as events (headless: on stdout)",
        "circus.ini: [circus]: tuiman ignores logoutput: "
        "tuiman reports what it does as events (headless: on stdout)",
        "circus.ini: [circus]: tuiman ignores debug: "
        "tuiman reports what it does as events (headless: on stdout)",
        "circus.ini: [circus]: tuiman ignores pidfile: tuiman writes no pid file",
        "circus.ini: [watcher:web]: tuiman ignores flapping.attempts: "
        "Circus uses it only with [plugin:flapping]",
        "circus.ini: [watcher:web]: tuiman ignores stdout_stream.class = StdoutStream: "
        "tuiman always shows process output (the UI's output view; headless: stdout)",
        "circus.ini: [watcher:web]: tuiman ignores check_flapping: "
        "Circus ignores it too (flapping.active switches the plugin off)",
    ]


def test_repeated_options_empty_sections_and_unmatched_env_sections_warn(tmp_path: Path) -> None:
    config = load_ini(
        tmp_path,
        """\
        [watcher:web]
        cmd = first
        cmd = second

        [watcher:idle]

        [env:wbe]
        A = 1

        [watcher:web]
        numprocesses = 2
        """,
    )
    assert config.watcher("web").cmd == ("first",)  # as Circus: the first value wins
    assert config.watcher("web").numprocesses == 2  # a repeated section extends the first
    assert config.warnings == (
        "circus.ini: [watcher:web] cmd: set more than once: the first value is used, as in Circus",
        "circus.ini: [watcher:idle]: empty section: skipped, as Circus does",
        "circus.ini: [env:wbe]: matches no watcher",
    )


def test_unset_circus_env_token_warns(tmp_path: Path) -> None:
    assert ini_warnings(tmp_path, "[watcher:web]\ncmd = app $(circus.env.NOPE)\n") == [
        "circus.ini: [watcher:web] cmd: $(tuiman.env.NOPE) is not in the watcher's "
        "environment and expands to an empty string"
    ]


def test_problems_with_env_variables_name_the_env_section(tmp_path: Path) -> None:
    warnings = ini_warnings(
        tmp_path,
        """\
        [env]
        URL = http://$(circus.env.NOPE)/

        [watcher:web]
        cmd = app
        """,
    )
    assert warnings == [
        "circus.ini: [env] URL: $(tuiman.env.NOPE) is not in the watcher's environment "
        "and expands to an empty string"
    ]


def test_absolute_includes_are_labelled_by_their_path(tmp_path: Path) -> None:
    included = write(tmp_path / "shared" / "web.ini", "[watcher:web]\ncmd = app\nbad = 1\n")
    assert ini_warnings(tmp_path, f"[circus]\ninclude = {included.parent}/*.ini\n") == [
        f"{included}: [watcher:web] bad: unknown option, ignored as Circus does"
    ]


# --- errors ------------------------------------------------------------------------------------


def test_unsupported_sections_are_errors(tmp_path: Path) -> None:
    assert ini_errors(
        tmp_path,
        """\
        [circus]
        umask = 002

        [plugin:redis]
        use = circus.plugins.redis_observer.RedisObserver

        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        attempt = 3

        [plugin:flapping2]
        use = circus.plugins.flapping.Flapping

        [watchers:web]
        cmd = app

        [DEFAULT]
        copy_env = true
        """,
    ) == [
        "circus.ini: [watchers:web]: unknown section (did you mean [watcher:web]?)",
        "circus.ini: [DEFAULT]: not supported: its options would apply to every section; "
        "copy them into the sections that need them",
        "circus.ini: [plugin:redis]: plugin circus.plugins.redis_observer.RedisObserver is not "
        "supported (tuiman maps circus.plugins.flapping.Flapping onto its restart policy, "
        "circus.plugins.command_reloader.CommandReloader onto restart on change and "
        "HttpObserver and ResourceWatcher onto liveness checks, and runs "
        "circus.plugins.statsd.FullStats, circus.plugins.statsd.StatsdEmitter, "
        "circus.plugins.watchdog.WatchDog)",
        "circus.ini: [plugin:flapping2]: a second flapping plugin (the first is [plugin:flapping])",
    ]


def test_unsupported_watcher_options_are_errors(tmp_path: Path) -> None:
    assert ini_errors(
        tmp_path,
        """\
        [watcher:web]
        cmd = app --fd $(circus.sockets.web)
        use_sockets = true
        close_child_stdin = false
        close_child_stdout = false
        executable = /usr/bin/python3
        stdout_stream.class = QueueStream
        stdout_stream.filename = out.log
        """,
    ) == [
        "circus.ini: [watcher:web] stdout_stream.class: stream class QueueStream "
        "does not map onto tuiman's output (FileStream, TimedRotatingFileStream and "
        "WatchedFileStream do)",
        "circus.ini: [watcher:web] close_child_stdin: not supported: "
        "tuiman always gives processes /dev/null as stdin",
        "circus.ini: [watcher:web] executable: not supported: "
        "tuiman runs the command's first word; put the program in cmd",
        "circus.ini: [watcher:web] cmd: unknown socket 'web' (none is defined)",
    ]


def test_wrong_values_and_typos_name_section_and_option(tmp_path: Path) -> None:
    write(tmp_path / "ex_typos.py", "def check(watcher, arbiter, hook_name, **kwargs):\n    pass\n")
    assert ini_errors(
        tmp_path,
        """\
        [watcher:web]
        cmd = app $WID
        numprocesses = many
        copy_env = maybe
        graceful_timout = 3
        stop_signal = SIGTREM
        working_dir = missing
        rlimit_nofiles = 10
        hooks.befor_start = ex_typos.check
        hooks.after_start = ex_typos.nope, sure

        [watcher:Web]
        cmd = app
        priority = -1.5
        stdout_stream.filename = a.log
        stdout_stream.max_bytes = 10000
        stdout_stream.backup_count = 1
        stderr_stream.filename = b.log
        stderr_stream.max_bytes = 20000
        stderr_stream.backup_count = 1
        """,
    ) == [
        'circus.ini: [watcher:Web] priority: expected an integer, got "-1.5"',
        "circus.ini: [watcher:Web] stderr_stream.max_bytes: max_bytes = 20000 differs from "
        "stdout_stream's (10000): tuiman writes both files alike",
        "circus.ini: [watcher:web] copy_env: expected a boolean "
        '(true/false, yes/no, on/off or 1/0), got "maybe"',
        "circus.ini: [watcher:web] cmd: $WID is not supported (Circus deprecated it): "
        "write $(circus.wid)",
        'circus.ini: [watcher:web] numprocesses: expected an integer, got "many"',
        "circus.ini: [watcher:web] hooks.after_start: ignore-failure flag: expected a boolean "
        '(true/false, yes/no, on/off or 1/0), got "sure"',
        "circus.ini: [watcher:web]: duplicate watcher name (same as Web, ignoring case)",
        'circus.ini: [watcher:web] stop_signal: unknown signal "SIGTREM" (did you mean TERM?)',
        "circus.ini: [watcher:web] rlimit_nofiles: unknown resource limit (did you mean nofile?)",
        "circus.ini: [watcher:web] hooks.befor_start: unknown hook (did you mean before_start?)",
        "circus.ini: [watcher:web] hooks.after_start: ex_typos has no attribute nope",
    ]


def test_missing_cmd_and_bad_flapping_values(tmp_path: Path) -> None:
    assert ini_errors(
        tmp_path,
        """\
        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        attempts = 0

        [watcher:a]
        numprocesses = 1

        [watcher:b]
        cmd = b
        flapping.window = soon
        """,
    ) == [
        'circus.ini: [watcher:b] flapping.window: expected a number, got "soon"',
        "circus.ini: [watcher:a] cmd: missing required key",
        "circus.ini: [plugin:flapping] attempts: must be >= 1, got 0",
    ]


def test_syntax_errors_carry_the_line(tmp_path: Path) -> None:
    assert ini_errors(tmp_path, "cmd = app\n[watcher:web]\n") == [
        "circus.ini: line 1: expected a [section] first, got 'cmd = app\\n'"
    ]
    assert ini_errors(tmp_path, "[watcher:web]\ncmd = app\nnot an option\nalso bad\n") == [
        "circus.ini: line 3: expected NAME = VALUE, got 'not an option\\n'",
        "circus.ini: line 4: expected NAME = VALUE, got 'also bad\\n'",
    ]


def test_errors_in_included_files_name_that_file(tmp_path: Path) -> None:
    write(tmp_path / "conf.d" / "web.ini", "[watcher:web]\ncmd = app\nnumprocesses = x\n")
    assert ini_errors(tmp_path, "[circus]\ninclude_dir = conf.d\ninclude = none/*.ini\n") == [
        'conf.d/web.ini: [watcher:web] numprocesses: expected an integer, got "x"',
    ]


# --- tuiman convert and tuiman -c circus.ini, as a user runs them ------------------------------


def test_convert_command_writes_toml_that_loads_to_the_same_watchers(tmp_path: Path) -> None:
    write(
        tmp_path / "circus.ini",
        """\
        [circus]
        endpoint = tcp://127.0.0.1:5555

        [watcher:web]
        cmd = python -m http.server 80$(circus.wid)
        numprocesses = 2
        stop_signal = INT

        [env:web]
        GREETING = ${NAME} $$
        """,
    )
    result = subprocess.run(
        [*TUIMAN, "convert", "circus.ini", "-o", "tuiman.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "warning: circus.ini: [circus]: tuiman ignores endpoint: "
        "tuiman is controlled through its own Unix socket (tuiman ctl), not ZeroMQ\n"
    )
    toml_text = (tmp_path / "tuiman.toml").read_text(encoding="utf-8")
    assert 'GREETING = "$${NAME} $$$$"' in toml_text
    assert_same_config(
        load_config("circus.ini", cwd=tmp_path), load_config("tuiman.toml", cwd=tmp_path)
    )
    to_stdout = subprocess.run(
        [*TUIMAN, "convert", "circus.ini"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (to_stdout.returncode, to_stdout.stdout) == (0, toml_text)


def test_convert_command_reports_errors_with_exit_code_2(tmp_path: Path) -> None:
    write(tmp_path / "circus.ini", "[watcher:web]\ncmd = app\non_demand = true\n")
    result = subprocess.run(
        [*TUIMAN, "convert", "circus.ini", "-o", "tuiman.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "circus.ini: [watcher:web] on_demand: "
        "needs use_sockets = true (or stdin_socket): the processes it starts must get the socket\n"
    )
    assert not (tmp_path / "tuiman.toml").exists()


PROBE = """\
import json, os, sys
with open(os.path.join(os.getcwd(), "out-" + sys.argv[2] + ".json"), "w") as out:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ), "pid": os.getpid()}, out)
"""


def test_headless_runs_a_circus_config(tmp_path: Path) -> None:
    write(tmp_path / "probe.py", PROBE)
    (tmp_path / "work").mkdir()
    write(
        tmp_path / "circus.ini",
        f"""\
        [watcher:probe]
        cmd = {sys.executable} {tmp_path}/probe.py
        args = --wid $(circus.wid) --role $(circus.env.role)
        numprocesses = 2
        respawn = False
        working_dir = work

        [env:pro*]
        ROLE = tester
        GREETING = hello $CIRCUS_TEST_NAME ${{CIRCUS_TEST_NAME}}
        """,
    )
    process = subprocess.Popen(
        [*TUIMAN, "--headless", "--no-output", "-c", "circus.ini"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "CIRCUS_TEST_NAME": "world"},
        start_new_session=True,
    )
    reports: dict[str, dict[str, object]] = {}
    try:
        _stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        for wid in ("1", "2"):
            reports[wid] = json.loads((tmp_path / "work" / f"out-{wid}.json").read_text())
    finally:
        if process.poll() is None:
            kill_quietly(process.pid)
            process.wait(5)
        for report in reports.values():
            pid = report["pid"]
            assert isinstance(pid, int)
            kill_quietly(pid)
    for wid, report in reports.items():
        assert report["argv"] == ["--wid", wid, "--role", "tester"]
        # copy_env defaults to false in Circus configs: only the env sections reach the child
        # (besides tuiman's instance and watcher markers, and LC_CTYPE that Python sets in itself).
        env = report["env"]
        assert isinstance(env, dict)
        env.pop("TUIMAN_INSTANCE")
        assert env.pop("TUIMAN_WATCHER") == "probe"
        env.pop("LC_CTYPE", None)
        assert env == {"ROLE": "tester", "GREETING": "hello world ${CIRCUS_TEST_NAME}"}


def test_launch_options_and_streams_round_trip(tmp_path: Path) -> None:
    config = round_trip(
        tmp_path,
        """\
        [circus]
        umask = 002

        [watcher:web]
        cmd = app
        copy_env = true
        virtualenv = venv
        virtualenv_py_ver = 3.9
        copy_path = true
        send_hup = true
        stdout_stream.class = TimedRotatingFileStream
        stdout_stream.filename = out.log
        stdout_stream.rotate_when = D
        stdout_stream.rotate_interval = 2
        stdout_stream.backup_count = 7
        stdout_stream.time_format = %H:%M

        [watcher:worker]
        cmd = app
        umask = 077
        stdout_stream.class = circus.stream.WatchedFileStream
        stdout_stream.filename = work.log
        """,
    )
    assert config.arbiter.umask == 0o002
    web, worker = config.watchers
    assert (web.virtualenv, web.virtualenv_py_ver) == (tmp_path / "venv", "3.9")
    assert (web.copy_path, web.send_hup, web.umask) == (True, True, 0o002)
    assert web.output == OutputConfig(
        stdout_file=tmp_path / "out.log",
        max_bytes=0,
        backup_count=7,
        time_format="%H:%M",
        rotate_when="D",
        rotate_interval=2,
    )
    assert worker.umask == 0o077
    assert worker.output == OutputConfig(
        stdout_file=tmp_path / "work.log",
        max_bytes=0,
        backup_count=0,
        line_format="raw",
        reopen_moved=True,
    )
    assert ini_warnings(tmp_path, (tmp_path / "circus.ini").read_text()) == [
        "circus.ini: [watcher:worker] umask: Circus 0.19 ignores a watcher's umask "
        "(only [circus] umask counts); tuiman applies it to this watcher's processes"
    ]


def test_unknown_options_are_warnings_with_the_likely_option(tmp_path: Path) -> None:
    config = load_ini(
        tmp_path,
        """\
        [circus]
        endpont = tcp://127.0.0.1:5555

        [watcher:web]
        cmd = app
        workding_dir = /tmp
        user = www-data
        group = www-data
        graceful_timout = 3

        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        attempt = 3
        """,
    )
    web = config.watcher("web")
    assert (web.working_dir, web.graceful_timeout, web.uid) == (tmp_path, 30.0, None)
    assert list(config.warnings) == [
        "circus.ini: [circus] endpont: unknown option, ignored as Circus does "
        "(did you mean endpoint?)",
        "circus.ini: [plugin:flapping] attempt: unknown option, ignored as Circus does "
        "(did you mean attempts?)",
        "circus.ini: [watcher:web] workding_dir: unknown option, ignored as Circus does "
        "(did you mean working_dir?)",
        "circus.ini: [watcher:web] user: unknown option, ignored as Circus does "
        "(did you mean uid?)",
        "circus.ini: [watcher:web] group: unknown option, ignored as Circus does "
        "(did you mean gid?)",
        "circus.ini: [watcher:web] graceful_timout: unknown option, ignored as Circus does "
        "(did you mean graceful_timeout?)",
    ]

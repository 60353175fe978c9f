"""Read the `[watchers.NAME]` tables (docs/configuration.md#keys) and the environment tables
(docs/configuration.md#expansion).

Each reader takes a `TableReader` for its table, records problems on it and returns a checked
value (or the default after a problem), so one pass finds every error of the file.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuiman.core.config.dotenv import DotenvFileError, read_dotenv_file
from tuiman.core.config.environment import EnvironmentProblem, watcher_environment
from tuiman.core.config.expand import (
    SPAWN_TOKEN_FIELDS,
    expand_env_value,
    lookup_env,
    referenced_env_names,
    unknown_tokens,
)
from tuiman.core.config.hooks import read_hooks
from tuiman.core.config.launch_keys import read_launch_keys
from tuiman.core.config.model import (
    MAX_NUMPROCESSES,
    ArbiterConfig,
    OutputConfig,
    RestartConfig,
    WatcherConfig,
)
from tuiman.core.config.output_keys import read_output_format
from tuiman.core.config.probes import read_alive, read_depends_on, read_ready
from tuiman.core.config.terminal import check_one_stdin, read_terminal_keys
from tuiman.core.config.validate import (
    InvalidValue,
    KeyPath,
    Problems,
    TableReader,
    as_bool,
    as_exit_codes,
    as_gid,
    as_respawn,
    as_rlimit_value,
    as_signal,
    as_str,
    as_table,
    as_uid,
    check_rlimit_raisable,
    describe_value,
    integer_in_range,
    number_in_range,
    primary_gid,
    rlimit_name,
)
from tuiman.core.config.watch_keys import read_file_watch

_WATCHER_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class LoadContext:
    """What every watcher reader needs besides its own table."""

    problems: Problems
    config_dir: Path
    cwd: Path
    environ: Mapping[str, str]  # tuiman's own environment
    arbiter: ArbiterConfig
    global_env: dict[str, str]  # [env], expanded
    # The `.env` files' variables (docs/configuration.md#env-files): in every watcher's
    # environment, with or without copy_env; `environ` already includes them.
    dotenv: Mapping[str, str] = field(default_factory=dict)


def absolute_path(path_text: str, config_dir: Path) -> Path:
    """`path_text` (`~` expanded) relative to the config file's directory, normalised."""
    return Path(os.path.normpath(config_dir / os.path.expanduser(path_text)))


# --- environment -------------------------------------------------------------------------------


def read_env_table(
    env_table: Mapping[str, Any],
    key_path: KeyPath,
    problems: Problems,
    environ: Mapping[str, str],
    cwd: Path,
) -> dict[str, str]:
    """`[env]` or a watcher's `env`: names → values expanded against tuiman's environment."""
    expanded: dict[str, str] = {}
    for variable_name, raw_value in env_table.items():
        value_path = (*key_path, variable_name)
        if not variable_name or "=" in variable_name or "\0" in variable_name:
            problems.error(value_path, "invalid environment variable name")
            continue
        try:
            value = _env_value_text(raw_value)
        except InvalidValue as problem:
            problems.error(value_path, str(problem))
            continue
        _check_tokens(value, value_path, problems)
        expanded[variable_name] = expand_env_value(value, environ, str(cwd))
    return expanded


def _env_value_text(raw_value: object) -> str:
    """Env values are strings; integers and floats are accepted as their TOML text."""
    if isinstance(raw_value, int | float) and not isinstance(raw_value, bool):
        return str(raw_value)
    value = as_str(raw_value)
    if "\0" in value:
        raise InvalidValue("contains a NUL character")
    return value


def _check_tokens(text: str, key_path: KeyPath, problems: Problems) -> None:
    for token in unknown_tokens(text):
        import difflib  # only for a mistake: ~0.2 MiB a manager need not keep

        field = token[2:-1].partition(".")[2].lower()
        close_fields = difflib.get_close_matches(field, SPAWN_TOKEN_FIELDS, n=1)
        hint = f" (did you mean $(tuiman.{close_fields[0]})?)" if close_fields else ""
        problems.error(key_path, f"unknown expansion {token}{hint}")


def _warn_unset_env_tokens(
    text: str, key_path: KeyPath, environment: Mapping[str, str], problems: Problems
) -> None:
    for variable_name in referenced_env_names(text):
        if lookup_env(environment, variable_name) is None:
            problems.warn(
                key_path,
                f"$(tuiman.env.{variable_name}) is not in the watcher's environment "
                "and expands to an empty string",
            )


# --- watchers ----------------------------------------------------------------------------------


def read_watchers(watchers_table: Mapping[str, Any], context: LoadContext) -> list[WatcherConfig]:
    """Every `[watchers.NAME]` table, in file order."""
    watchers: list[WatcherConfig] = []
    first_name_by_folded: dict[str, str] = {}
    for name, raw_table in watchers_table.items():
        watcher_path: KeyPath = ("watchers", name)
        if not _WATCHER_NAME.fullmatch(name):
            context.problems.error(
                watcher_path,
                "invalid watcher name (ASCII only: letters A-Z and a-z, digits, '-', '_' and '.')",
            )
        folded_name = name.casefold()
        if folded_name in first_name_by_folded:
            context.problems.error(
                watcher_path,
                f"duplicate watcher name (same as {first_name_by_folded[folded_name]}, "
                "ignoring case)",
            )
        first_name_by_folded.setdefault(folded_name, name)
        try:
            watcher_table = as_table(raw_table)
        except InvalidValue as problem:
            context.problems.error(watcher_path, str(problem))
            continue
        watcher_reader = TableReader(watcher_table, watcher_path, context.problems)
        watchers.append(_read_watcher(name, watcher_reader, context))
    return watchers


def _read_watcher(name: str, reader: TableReader, context: LoadContext) -> WatcherConfig:
    defaults = WatcherConfig(name=name, cmd=())
    shell = reader.get("shell", as_bool, defaults.shell)
    copy_env = reader.get("copy_env", as_bool, defaults.copy_env)
    env = _read_watcher_env(reader, copy_env, context)
    cmd = _read_command(reader, shell, env)
    singleton = reader.get("singleton", as_bool, defaults.singleton)
    numprocesses = reader.get(
        "numprocesses", integer_in_range(0, MAX_NUMPROCESSES), defaults.numprocesses
    )
    if singleton and numprocesses > 1:
        context.problems.error(
            reader.path("numprocesses"),
            f"a singleton watcher runs 0 or 1 process, got {numprocesses}",
        )
    uid, gid, user, group = _read_user_and_group(reader)
    pty, stdin = read_terminal_keys(reader)
    launch = read_launch_keys(
        reader,
        copy_env=copy_env,
        config_dir=context.config_dir,
        default_umask=context.arbiter.umask,
    )
    watcher = WatcherConfig(
        name=name,
        cmd=cmd,
        numprocesses=numprocesses,
        priority=reader.get("priority", integer_in_range(), defaults.priority),
        working_dir=_read_working_dir(reader, context),
        env=env,
        copy_env=copy_env,
        stop_signal=reader.get("stop_signal", as_signal, defaults.stop_signal),
        graceful_timeout=reader.get(
            "graceful_timeout", number_in_range(0), defaults.graceful_timeout
        ),
        stop_children=reader.get("stop_children", as_bool, defaults.stop_children),
        respawn=reader.get("respawn", as_respawn, defaults.respawn),
        success_exit_codes=reader.get(
            "success_exit_codes", as_exit_codes, defaults.success_exit_codes
        ),
        autostart=reader.get("autostart", as_bool, defaults.autostart),
        warmup_delay=reader.get("warmup_delay", number_in_range(0), defaults.warmup_delay),
        max_retry=reader.get("max_retry", integer_in_range(-1), defaults.max_retry),
        singleton=singleton,
        shell=shell,
        uid=uid,
        gid=gid,
        rlimits=_read_rlimits(reader),
        max_age=reader.get("max_age", number_in_range(0), defaults.max_age),
        max_age_variance=reader.get(
            "max_age_variance", number_in_range(0), defaults.max_age_variance
        ),
        restart=_read_restart(reader),
        output=_read_output(reader, context.config_dir),
        hooks=read_hooks(
            reader,
            _hook_import_env(name, env, launch),
            context.arbiter.hook_timeout,
            config_dir=context.config_dir,
            cwd=context.cwd,
            import_timeout=context.arbiter.hook_import_timeout,
            isolated=reader.get("isolated_hooks", as_bool, False),
        ),
        pty=pty,
        stdin=stdin,
        port=_read_port(reader, numprocesses),
        use_sockets=reader.get("use_sockets", as_bool, defaults.use_sockets),
        on_demand=reader.get("on_demand", as_bool, defaults.on_demand),
        stdin_socket=_lowercase(reader.get_optional("stdin_socket", as_str)),
        watch=read_file_watch(reader, context.config_dir),
        ready=read_ready(reader),
        alive=read_alive(reader),
        depends_on=read_depends_on(reader),
        user=user,
        group=group,
        **launch,
    )
    check_one_stdin(watcher, reader)
    reader.report_unknown_keys()
    return watcher


def _lowercase(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _hook_import_env(name: str, env: dict[str, str], launch: dict[str, Any]) -> dict[str, str]:
    """Hook modules are found on the PYTHONPATH a virtualenv gives too, as in Circus; a missing
    virtualenv is the start's problem, not the import's."""
    try:
        return watcher_environment(WatcherConfig(name=name, cmd=(), env=env, **launch))
    except EnvironmentProblem:
        return env


def _read_command(reader: TableReader, shell: bool, env: Mapping[str, str]) -> tuple[str, ...]:
    """`cmd` + `args` as an argv, or for a shell watcher one command line (a 1-tuple)."""
    if not reader.has("cmd"):
        reader.has("args")
        reader.problems.error(reader.path("cmd"), "missing required key")
        return ()
    cmd_parts = _command_parts(reader, "cmd", shell, env)
    args_parts = _command_parts(reader, "args", shell, env) if reader.has("args") else []
    if cmd_parts is not None and not "".join(cmd_parts).strip():
        reader.problems.error(reader.path("cmd"), "empty command")
        return ()
    if cmd_parts is None or args_parts is None:
        return ()
    if shell:
        return (" ".join(cmd_parts + args_parts),)
    return tuple(cmd_parts + args_parts)


def _command_parts(
    reader: TableReader, key: str, shell: bool, env: Mapping[str, str]
) -> list[str] | None:
    """A string (shlex-split unless `shell`) or a list of strings; None after an error."""
    raw_value = reader.table[key]
    if isinstance(raw_value, str):
        parts = [raw_value] if shell else _split_command_line(reader, key, raw_value)
    elif isinstance(raw_value, list):
        parts = _string_items(reader, key, raw_value)
    else:
        reader.problems.error(
            reader.path(key),
            "expected a string or an array of strings, got " + describe_value(raw_value),
        )
        return None
    if parts is None:
        return None
    for position, part in enumerate(parts):
        if "\0" in part:
            reader.problems.error(reader.path(key, position), "contains a NUL character")
            return None
        _check_tokens(part, reader.path(key), reader.problems)
        if not _env_set_by_hooks(reader):
            _warn_unset_env_tokens(part, reader.path(key), env, reader.problems)
    return parts


def _env_set_by_hooks(reader: TableReader) -> bool:
    """A before_start or before_spawn hook may set the variable (Circus' examples/example10.ini
    does): no warning for a command that expands it (docs/hooks.md#what-a-hook-can-see)."""
    hooks_table = reader.table.get("hooks")
    return isinstance(hooks_table, dict) and bool(
        {"before_start", "before_spawn"} & set(hooks_table)
    )


def _split_command_line(reader: TableReader, key: str, command_line: str) -> list[str] | None:
    try:
        return shlex.split(command_line)
    except ValueError as error:
        reader.problems.error(reader.path(key), f"cannot split the command line: {error}")
        return None


def _string_items(reader: TableReader, key: str, items: list[Any]) -> list[str] | None:
    strings: list[str] = []
    for position, item in enumerate(items):
        try:
            strings.append(as_str(item))
        except InvalidValue as problem:
            reader.problems.error(reader.path(key, position), str(problem))
            return None
    return strings


def _read_watcher_env(reader: TableReader, copy_env: bool, context: LoadContext) -> dict[str, str]:
    """The complete environment template: tuiman's (with copy_env) < [env] < the watcher's env."""
    environment: dict[str, str] = dict(context.environ) if copy_env else dict(context.dotenv)
    environment.update(context.global_env)
    environment.update(_read_env_files(reader, context))
    watcher_env = read_env_table(
        reader.get_table("env"), reader.path("env"), context.problems, context.environ, context.cwd
    )
    environment.update(watcher_env)
    for variable_name, value in environment.items():
        if variable_name in watcher_env or variable_name in context.global_env:
            _warn_unset_env_tokens(
                value, reader.path("env", variable_name), environment, context.problems
            )
    return environment


def _read_env_files(reader: TableReader, context: LoadContext) -> dict[str, str]:
    """`env_file`: one path or an array of them (relative to the config's directory), later
    files overriding earlier ones."""
    if not reader.has("env_file"):
        return {}
    raw_value = reader.table["env_file"]
    paths = [raw_value] if isinstance(raw_value, str) else raw_value
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        reader.problems.error(
            reader.path("env_file"),
            "expected a path or an array of paths, got " + describe_value(raw_value),
        )
        return {}
    values: dict[str, str] = {}
    for path_text in paths:
        path = absolute_path(path_text, context.config_dir)
        try:
            values.update(read_dotenv_file(path, str(path), context.environ, values))
        except DotenvFileError as error:
            reader.problems.error(reader.path("env_file"), str(error))
    return values


def _read_port(reader: TableReader, numprocesses: int) -> int | None:
    port = reader.get_optional("port", integer_in_range(1, 65535))
    if port is not None and port + max(numprocesses, 1) - 1 > 65535:
        reader.problems.error(
            reader.path("port"), f"{port} + {numprocesses} processes goes past port 65535"
        )
    return port


def _read_working_dir(reader: TableReader, context: LoadContext) -> Path:
    """A missing directory is checked at start (docs/configuration.md#environment-problems)."""
    path_text = reader.get_optional("working_dir", as_str)
    if path_text is None:
        return context.config_dir
    return absolute_path(path_text, context.config_dir)


def _read_user_and_group(
    reader: TableReader,
) -> tuple[int | None, int | None, str | None, str | None]:
    """uid, gid, and the user and group names not found here (looked up again at start)."""
    user = _unknown_name(reader, "uid", pwd.getpwnam)
    group = _unknown_name(reader, "gid", grp.getgrnam)
    uid = None if user is not None else reader.get_optional("uid", as_uid)
    gid = None if group is not None else reader.get_optional("gid", as_gid)
    if uid is not None and gid is None and group is None and os.geteuid() == 0:
        # Running as root: without an explicit gid, drop to the user's own group, not root's.
        gid = primary_gid(uid)
    return uid, gid, user, group


def _unknown_name(reader: TableReader, key: str, lookup: Callable[[str], object]) -> str | None:
    value = reader.table.get(key)
    if not isinstance(value, str) or not value or value.isdigit() or "\0" in value:
        return None
    reader.has(key)
    try:
        lookup(value)
    except KeyError:
        return value
    return None


def _read_rlimits(reader: TableReader) -> dict[str, int]:
    rlimits: dict[str, int] = {}
    for key, raw_limit in reader.get_table("rlimits").items():
        try:
            name = rlimit_name(key)
            limit = as_rlimit_value(raw_limit)
            check_rlimit_raisable(name, limit)
        except InvalidValue as problem:
            reader.problems.error(reader.path("rlimits", key), str(problem))
            continue
        rlimits[name] = limit
    return rlimits


def _read_restart(reader: TableReader) -> RestartConfig:
    restart_reader = TableReader(
        reader.get_table("restart"), reader.path("restart"), reader.problems
    )
    defaults = RestartConfig()
    non_negative = number_in_range(0)
    restart = RestartConfig(
        backoff_initial=restart_reader.get(
            "backoff_initial", non_negative, defaults.backoff_initial
        ),
        backoff_max=restart_reader.get("backoff_max", non_negative, defaults.backoff_max),
        reset_after=restart_reader.get("reset_after", non_negative, defaults.reset_after),
        flap_attempts=restart_reader.get(
            "flap_attempts", integer_in_range(1), defaults.flap_attempts
        ),
        flap_window=restart_reader.get("flap_window", non_negative, defaults.flap_window),
        retry_in=restart_reader.get("retry_in", non_negative, defaults.retry_in),
        flap_max_retry=restart_reader.get(
            "flap_max_retry", integer_in_range(-1), defaults.flap_max_retry
        ),
    )
    if restart.backoff_max < restart.backoff_initial:
        reader.problems.error(
            restart_reader.path("backoff_max"),
            f"must be >= backoff_initial ({restart.backoff_initial:g}), "
            f"got {restart.backoff_max:g}",
        )
    restart_reader.report_unknown_keys()
    return restart


def _read_output(reader: TableReader, config_dir: Path) -> OutputConfig:
    output_reader = TableReader(reader.get_table("output"), reader.path("output"), reader.problems)
    defaults = OutputConfig()
    paths = {
        key: _read_output_path(output_reader, key, config_dir)
        for key in ("file", "stdout_file", "stderr_file")
    }
    if paths["file"] is not None and (paths["stdout_file"] or paths["stderr_file"]):
        reader.problems.error(
            output_reader.path("file"), "cannot be combined with stdout_file or stderr_file"
        )
    fields = {
        "max_bytes": output_reader.get("max_bytes", _log_file_size, defaults.max_bytes),
        **read_output_format(output_reader),
    }
    output = OutputConfig(
        file=paths["file"],
        stdout_file=paths["stdout_file"],
        stderr_file=paths["stderr_file"],
        backup_count=output_reader.get(
            "backup_count", integer_in_range(0, MAX_BACKUP_COUNT), defaults.backup_count
        ),
        **fields,
    )
    output_reader.report_unknown_keys()
    return output


# Each rotation renames every backup, so a huge count or a tiny size turns logging into a
# busy loop on the writer thread (docs/reliability.md#log-files-never-stall-tuiman).
MAX_BACKUP_COUNT = 1000
MIN_ROTATED_BYTES = 4096
MAX_ROTATED_BYTES = 1 << 40


def _log_file_size(value: object) -> int:
    size = integer_in_range(0, MAX_ROTATED_BYTES)(value)
    if 0 < size < MIN_ROTATED_BYTES:
        raise InvalidValue(f"must be 0 (never rotate) or >= {MIN_ROTATED_BYTES}, got {size}")
    return size


def _read_output_path(reader: TableReader, key: str, config_dir: Path) -> Path | None:
    path_text = reader.get_optional(key, as_str)
    if path_text is None:
        return None
    if not path_text.strip():
        reader.problems.error(reader.path(key), "empty path")
        return None
    output_path = absolute_path(path_text, config_dir)
    if os.path.isdir(output_path):
        reader.problems.error(reader.path(key), f"{output_path} is a directory")
        return None
    return output_path

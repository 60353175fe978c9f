"""Load and validate a tuiman TOML config (docs/configuration.md) into the frozen `Config` model.

Everything is checked before anything starts: every problem becomes one line
`FILE: dotted.key: problem`, all of them are collected, and `ConfigError` carries the list.
Hooks are imported and their signatures checked here (docs/hooks.md#configuration), so the core
never meets a broken one.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuiman.core.config.launch_keys import as_umask
from tuiman.core.config.load_options import LoadOptions
from tuiman.core.config.model import ArbiterConfig, Config
from tuiman.core.config.plugins import read_plugins
from tuiman.core.config.probes import WatcherDependencies, check_dependencies
from tuiman.core.config.sockets import check_socket_use, read_sockets
from tuiman.core.config.validate import (
    Problems,
    TableReader,
    as_str,
    integer_in_range,
    number_in_range,
)
from tuiman.core.config.watchers import LoadContext, absolute_path, read_env_table, read_watchers

DEFAULT_CONFIG_NAME = "tuiman.toml"
DEMO_CONFIG_NAME = "demo.toml"
MAX_CONFIG_BYTES = 16 << 20  # per file (a Circus include too)
_FILE_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}

_TOML_ERROR_POSITION = re.compile(
    r"^(?P<message>.*) \(at (?P<where>line \d+, column \d+|end of document)\)$"
)
_IGNORED_TOP_LEVEL_KEYS = ("$schema",)


class ConfigError(Exception):
    """The config cannot be used; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


# --- entry points ------------------------------------------------------------------------------


def load_config_text(
    text: str,
    source_path: Path,
    *,
    display_name: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    source: str | None = None,
    dotenv: Mapping[str, str] | None = None,
    load_options: LoadOptions | None = None,
) -> Config:
    """Validate TOML `text` as if read from `source_path` (relative paths start at its directory).

    `display_name` prefixes every error (default: `source_path` as given); `environ` is tuiman's
    environment (default `os.environ`); `source` overrides `Config.source` (default: the real
    path of `source_path`).
    """
    file_label = display_name if display_name is not None else str(source_path)
    problems = Problems(file_label)
    document = _parse_toml(text, file_label)
    working_dir = Path(cwd) if cwd is not None else Path.cwd()
    absolute_source = Path(os.path.abspath(working_dir / source_path))
    config = build_config(
        document,
        problems,
        config_dir=absolute_source.parent,
        cwd=working_dir,
        environ=os.environ if environ is None else environ,
        source=source if source is not None else real_path(absolute_source),
        dotenv=dotenv,
        load_options=load_options,
    )
    if problems.errors:
        raise ConfigError(problems.errors)
    return config


def load_demo_config(*, cwd: Path | None = None) -> Config:
    """The embedded demo config (`tuiman/demo.toml`), with source `demo:<cwd>`."""
    working_dir = Path(cwd) if cwd is not None else Path.cwd()
    from importlib import resources  # only for the demo: a sizeable import for every start

    demo_resource = resources.files("tuiman").joinpath(DEMO_CONFIG_NAME)
    try:
        text = demo_resource.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            [f"{DEMO_CONFIG_NAME}: embedded demo config unavailable: {error}"]
        ) from None
    return load_config_text(
        text,
        Path(str(demo_resource)),
        display_name=DEMO_CONFIG_NAME,
        cwd=working_dir,
        source=f"demo:{working_dir}",
    )


def real_path(path: Path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # a symlink loop: keep the absolute path
        return str(path)


def read_text(file_path: Path, file_label: str) -> str:
    """The file's text: a regular file of at most MAX_CONFIG_BYTES, else a ConfigError."""
    try:
        raw_bytes = _read_regular_file(file_path, file_label)
    except OSError as error:
        raise ConfigError([f"{file_label}: cannot read: {error.strerror or error}"]) from None
    except ValueError as error:  # e.g. an embedded NUL byte in the path
        raise ConfigError([f"{file_label}: cannot read: {error}"]) from None
    try:
        return raw_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        line_number = raw_bytes[: error.start].count(b"\n") + 1
        raise ConfigError([f"{file_label}: line {line_number}: not valid UTF-8"]) from None


def _read_regular_file(file_path: Path, file_label: str) -> bytes:
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
    fd = os.open(file_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(mode), "a special file")
            raise ConfigError([f"{file_label}: cannot read: not a regular file ({kind})"])
        os.set_blocking(fd, True)
        # Bounded: a config never comes near this; a huge or endless file is an error, not a
        # MemoryError.
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CONFIG_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_CONFIG_BYTES:
            limit = f"{MAX_CONFIG_BYTES // (1 << 20)} MiB"
            raise ConfigError([f"{file_label}: cannot read: larger than {limit}"])
        return b"".join(chunks)
    finally:
        os.close(fd)


def _parse_toml(text: str, file_label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([_format_toml_error(str(error), text, file_label)]) from None
    except RecursionError:  # tomllib recurses once per nesting level of arrays and tables
        raise ConfigError([f"{file_label}: arrays or tables nested too deeply"]) from None


def _format_toml_error(message: str, text: str, file_label: str) -> str:
    match = _TOML_ERROR_POSITION.match(message)
    if match is None:
        return f"{file_label}: {message}"
    where = match.group("where")
    if where == "end of document":
        lines = text.split("\n")
        where = f"line {len(lines)}, column {len(lines[-1]) + 1}"
    return f"{file_label}: {where}: {match.group('message')}"


# --- document ----------------------------------------------------------------------------------


def build_config(
    document: dict[str, Any],
    problems: Problems,
    *,
    config_dir: Path,
    cwd: Path,
    environ: Mapping[str, str],
    source: str,
    dotenv: Mapping[str, str] | None = None,
    load_options: LoadOptions | None = None,
) -> Config:
    """The `Config` of a parsed document; `dotenv` holds the `.env` files' variables (they
    override `environ` for expansion and reach every watcher)."""
    dotenv = dotenv or {}
    if dotenv:
        environ = {**environ, **dotenv}
    top_level = TableReader(document, (), problems)
    arbiter_table = top_level.get_table("tuiman")
    env_table = top_level.get_table("env")
    watchers_table = top_level.get_table("watchers")
    plugins_table = top_level.get_table("plugins")
    sockets_table = top_level.get_table("sockets")
    top_level.report_unknown_keys(ignored=_IGNORED_TOP_LEVEL_KEYS)

    arbiter = _read_arbiter(TableReader(arbiter_table, ("tuiman",), problems), config_dir)
    context = LoadContext(
        problems=problems,
        config_dir=config_dir,
        cwd=cwd,
        environ=environ,
        arbiter=arbiter,
        global_env=read_env_table(env_table, ("env",), problems, environ, cwd),
        dotenv=dotenv,
    )
    watchers = tuple(read_watchers(watchers_table, context))
    sockets = tuple(read_sockets(sockets_table, problems, config_dir))
    check_socket_use(watchers, sockets, problems)
    check_dependencies(
        [
            WatcherDependencies(w.name, w.depends_on, w.ready is not None, w.respawn is True)
            for w in watchers
        ],
        problems,
    )
    return Config(
        source=source,
        arbiter=arbiter,
        watchers=watchers,
        warnings=tuple(problems.warnings),
        plugins=read_plugins(plugins_table, problems),
        load_options=load_options or LoadOptions(),
        sockets=sockets,
    )


def _read_arbiter(reader: TableReader, config_dir: Path) -> ArbiterConfig:
    defaults = ArbiterConfig()
    control_socket = reader.get_optional("control_socket", as_str)
    arbiter = ArbiterConfig(
        hook_timeout=reader.get(
            "hook_timeout", number_in_range(0, allow_minimum=False), defaults.hook_timeout
        ),
        hook_threads=reader.get("hook_threads", integer_in_range(1), defaults.hook_threads),
        hook_import_timeout=reader.get(
            "hook_import_timeout",
            number_in_range(0, allow_minimum=False),
            defaults.hook_import_timeout,
        ),
        stats_interval=reader.get(
            "stats_interval", number_in_range(0, allow_minimum=False), defaults.stats_interval
        ),
        output_lines=reader.get("output_lines", integer_in_range(0), defaults.output_lines),
        output_bytes=reader.get("output_bytes", integer_in_range(0), defaults.output_bytes),
        warmup_delay=reader.get("warmup_delay", number_in_range(0), defaults.warmup_delay),
        control_socket=absolute_path(control_socket, config_dir) if control_socket else None,
        umask=reader.get_optional("umask", as_umask),
    )
    reader.report_unknown_keys()
    return arbiter

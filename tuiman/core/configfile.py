"""Which reader a config file needs: tuiman's TOML, a Circus INI or a Procfile; and the `.env`
files that go with it (docs/configuration.md#env-files).

It sits above every reader (`config`, `circus`, `procfile`), so none has to know the others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tuiman.core.config.dotenv import DotenvFileError, read_dotenv_file
from tuiman.core.config.load_options import DEFAULT_ENV_FILE, LoadOptions
from tuiman.core.config.loader import (
    DEFAULT_CONFIG_NAME,
    ConfigError,
    load_config_text,
    load_demo_config,
    read_text,
)
from tuiman.core.config.model import Config
from tuiman.core.procfile.parse import is_procfile_name, looks_like_procfile

if TYPE_CHECKING:
    from tuiman.core.procfile.loader import ProcfileConversion

TOML, CIRCUS, PROCFILE = "toml", "circus", "procfile"


@dataclass(frozen=True)
class EnvFiles:
    """The variables of the `.env` files that apply, and how to name them in an error."""

    values: dict[str, str]
    label: str


def load_config(
    path: str | Path | None,
    *,
    cwd: Path | None = None,
    options: LoadOptions | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load `path`; without one, `./tuiman.toml` if it exists, else the embedded demo
    (docs/configuration.md#files-and-lookup)."""
    load_options = options or LoadOptions()
    environment = os.environ if environ is None else environ
    working_dir = Path(cwd) if cwd is not None else Path.cwd()
    if path is None:
        default_path = working_dir / DEFAULT_CONFIG_NAME
        if not os.path.isfile(default_path):
            _refuse_procfile_options(load_options, "the demo config")
            if load_options.env_files:
                raise ConfigError(["-e/--env-file: the embedded demo config reads no env files"])
            return load_demo_config(cwd=working_dir)
        path = DEFAULT_CONFIG_NAME
    file_label = str(path)
    file_path = resolve(path, working_dir)
    env_files = read_env_files(file_path.parent, working_dir, load_options, environment)
    # Absolute from here on: a reload reads the same files whatever the working directory.
    load_options = replace(
        load_options,
        env_files=tuple(str(resolve(name, working_dir)) for name in load_options.env_files),
    )
    config_format = detect_format(file_path)
    if config_format == PROCFILE:
        from tuiman.core.procfile.loader import load_procfile_config

        return load_procfile_config(
            file_path,
            file_label,
            cwd=working_dir,
            environ=environment,
            dotenv=env_files.values,
            dotenv_label=env_files.label,
            load_options=load_options,
        )
    _refuse_procfile_options(load_options, file_label)
    if config_format == CIRCUS:
        # Imported here: the Circus reader is four modules that a TOML config never needs.
        from tuiman.core.circus.loader import load_circus_config

        return load_circus_config(
            file_path,
            display_name=file_label,
            cwd=working_dir,
            environ=environment,
            dotenv=env_files.values,
            load_options=load_options,
        )
    text = read_text(file_path, file_label)
    return load_config_text(
        text,
        file_path,
        display_name=file_label,
        cwd=working_dir,
        environ=environment,
        dotenv=env_files.values,
        load_options=load_options,
    )


def resolve(path: str | Path, working_dir: Path) -> Path:
    file_path = Path(os.path.expanduser(path))
    return file_path if file_path.is_absolute() else working_dir / file_path


def detect_format(file_path: Path) -> str:
    """By suffix (`.ini`, `.toml`) or name (`Procfile`, `Procfile.dev`); else by content."""
    suffix = file_path.suffix.lower()
    if suffix == ".ini":
        return CIRCUS
    if is_procfile_name(str(file_path)):
        return PROCFILE
    if suffix == ".toml":
        return TOML
    try:
        text = read_text(file_path, str(file_path))
    except ConfigError:
        return TOML  # the TOML reader names the problem
    return PROCFILE if looks_like_procfile(text) else TOML


def read_env_files(
    config_dir: Path, working_dir: Path, options: LoadOptions, environ: Mapping[str, str]
) -> EnvFiles:
    """The `-e` files (relative to `working_dir`) if any were given, else `.env` next to the
    config if it exists (and `--no-env-file` was not given); later files win."""
    if options.env_files:
        paths = [(resolve(name, working_dir), name) for name in options.env_files]
    elif options.default_env_file and os.path.isfile(config_dir / DEFAULT_ENV_FILE):
        paths = [(config_dir / DEFAULT_ENV_FILE, str(config_dir / DEFAULT_ENV_FILE))]
    else:
        paths = []
    values: dict[str, str] = {}
    for env_path, label in paths:
        try:
            values.update(read_dotenv_file(env_path, label, environ, values))
        except DotenvFileError as error:
            raise ConfigError([str(error)]) from None
    return EnvFiles(values, ", ".join(label for _, label in paths) or "(no .env)")


def _refuse_procfile_options(options: LoadOptions, file_label: str) -> None:
    if options.formation:
        raise ConfigError([f"-m/--formation: applies to a Procfile only, not {file_label}"])
    if options.port is not None:
        raise ConfigError([f"-p/--port: applies to a Procfile only, not {file_label}"])


def is_procfile(path: str | Path, *, cwd: Path | None = None) -> bool:
    return detect_format(resolve(path, Path(cwd) if cwd is not None else Path.cwd())) == PROCFILE


def convert_procfile_file(
    path: str | Path,
    *,
    cwd: Path | None = None,
    options: LoadOptions | None = None,
    environ: Mapping[str, str] | None = None,
) -> ProcfileConversion:
    """`tuiman convert Procfile`: the TOML of a Procfile, with its `.env` files' PORT."""
    from tuiman.core.procfile.loader import convert_procfile

    load_options = options or LoadOptions()
    environment = os.environ if environ is None else environ
    working_dir = Path(cwd) if cwd is not None else Path.cwd()
    file_path = resolve(path, working_dir)
    env_files = read_env_files(file_path.parent, working_dir, load_options, environment)
    return convert_procfile(
        file_path,
        str(path),
        cwd=working_dir,
        environ=environment,
        dotenv=env_files.values,
        dotenv_label=env_files.label,
        load_options=load_options,
    )


def watcher_environment_problems(config: Config, file_label: str) -> list[str]:
    """What would fail each watcher at start (`tuiman check`), one line each, named as the
    file names the watcher (`watchers.NAME.key` or `[watcher:NAME] key`)."""
    from tuiman.core.config.environment import environment_problems

    is_ini = str(file_label).lower().endswith(".ini")
    lines: list[str] = []
    for watcher in config.watchers:
        for problem in environment_problems(watcher):
            where = f"[watcher:{watcher.name}] " if is_ini else f"watchers.{watcher.name}."
            lines.append(f"{file_label}: {where}{problem}")
    return lines

"""A Procfile as a tuiman config: each process type a shell watcher, with foreman's and
honcho's `PORT` and formation.

The Procfile becomes the document a TOML config would be (`procfile_document`), and that goes
through the TOML pipeline, so loading a Procfile and loading its conversion give the same
watchers, with every check of a TOML config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman.core.config.conversion_file import write_converted
from tuiman.core.config.load_options import DEFAULT_ENV_FILE, LoadOptions
from tuiman.core.config.loader import ConfigError, build_config, read_text, real_path
from tuiman.core.config.model import MAX_NUMPROCESSES, Config
from tuiman.core.config.validate import Problems
from tuiman.core.procfile.parse import ProcessType, ProcfileError, parse_procfile

DEFAULT_PORT = 5000
PORT_STEP = 100  # between process types, in file order (+1 between instances of one type)
PROCESS_NAME_VARIABLE = "TUIMAN_PROCESS_NAME"


@dataclass(frozen=True)
class ProcfileConversion:
    """`tuiman convert`'s result for a Procfile."""

    toml_text: str
    config: Config


def load_procfile_config(
    file_path: Path,
    file_label: str,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    dotenv_label: str,
    load_options: LoadOptions,
) -> Config:
    """Load a Procfile; `ConfigError` lists the problem."""
    return _load(file_path, file_label, cwd, environ, dotenv, dotenv_label, load_options)[1]


def convert_procfile(
    file_path: Path,
    file_label: str,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    dotenv_label: str,
    load_options: LoadOptions,
) -> ProcfileConversion:
    """The TOML equivalent of a Procfile, ports and formation included."""
    import tomli_w

    document, config = _load(
        file_path, file_label, cwd, environ, dotenv, dotenv_label, load_options
    )
    header = (
        f"# Converted from {os.path.basename(file_label)} by tuiman convert.\n"
        "# PORT: each watcher's `port` is its first process' PORT (the next ones count up).\n\n"
    )
    return ProcfileConversion(header + tomli_w.dumps(document), config)


def base_port(
    load_options: LoadOptions,
    dotenv: Mapping[str, str],
    dotenv_label: str,
    environ: Mapping[str, str],
) -> int:
    """The first process type's PORT: -p, else the `.env` files' PORT, else tuiman's own
    $PORT, else 5000."""
    if load_options.port is not None:
        return load_options.port
    for source, label in ((dotenv, dotenv_label), (environ, "$PORT")):
        text = source.get("PORT")
        if text is None or not text.strip():
            continue
        try:
            port = int(text.strip())
        except ValueError:
            raise ConfigError([f"{label}: PORT: expected a port number, got {text!r}"]) from None
        if not 1 <= port <= 65535:
            raise ConfigError([f"{label}: PORT: must be 1..65535, got {port}"])
        return port
    return DEFAULT_PORT


def procfile_document(
    process_types: list[ProcessType], counts: Mapping[str, int], first_port: int
) -> dict[str, Any]:
    """The TOML document of a Procfile: one shell watcher per process type, in file order."""
    watchers: dict[str, Any] = {}
    for index, process_type in enumerate(process_types):
        watchers[process_type.name] = {
            "cmd": process_type.command,
            "shell": True,
            "numprocesses": counts[process_type.name],
            "port": first_port + PORT_STEP * index,
        }
    return {
        "env": {PROCESS_NAME_VARIABLE: "$(tuiman.name).$(tuiman.wid)"},
        "watchers": watchers,
    }


def formation_counts(
    process_types: list[ProcessType], formation: tuple[tuple[str, int], ...], file_label: str
) -> dict[str, int]:
    """Processes per type: 1 each, foreman's `all=N` for every type, then each NAME=N."""
    names = [process_type.name for process_type in process_types]
    counts = dict.fromkeys(names, 1)
    for name, count in formation:
        if count > MAX_NUMPROCESSES:
            raise ConfigError([f"-m/--formation: {name}: at most {MAX_NUMPROCESSES}, got {count}"])
        if name == "all":
            counts = dict.fromkeys(names, count)
        elif name not in counts:
            known = ", ".join(names)
            raise ConfigError(
                [f"-m/--formation: no process type {name} in {file_label} (it has {known})"]
            )
    for name, count in formation:
        if name != "all":
            counts[name] = count
    return counts


def _load(
    file_path: Path,
    file_label: str,
    cwd: Path,
    environ: Mapping[str, str],
    dotenv: Mapping[str, str],
    dotenv_label: str,
    load_options: LoadOptions,
) -> tuple[dict[str, Any], Config]:
    text = read_text(file_path, file_label)
    try:
        process_types = parse_procfile(text, file_label)
    except ProcfileError as error:
        raise ConfigError([str(error)]) from None
    counts = formation_counts(process_types, load_options.formation, file_label)
    first_port = base_port(load_options, dotenv, dotenv_label, environ)
    document = procfile_document(process_types, counts, first_port)
    problems = Problems(file_label)
    config = build_config(
        document,
        problems,
        config_dir=file_path.parent,
        cwd=cwd,
        environ=environ,
        source=real_path(file_path),
        dotenv=dotenv,
        load_options=load_options,
    )
    if problems.errors:
        raise ConfigError(problems.errors)
    return document, config


def write_procfile_conversion(
    conversion: ProcfileConversion, procfile_path: Path, output_path: str | Path
) -> list[str]:
    """Write `conversion` to `output_path` (atomically); returns warnings about the move."""
    output = write_converted(conversion.toml_text, procfile_path, output_path, "the Procfile")
    dotenv_path = procfile_path.parent / DEFAULT_ENV_FILE
    if output.parent != procfile_path.parent and dotenv_path.is_file():
        return [f"{output_path}: {dotenv_path} is not next to it: pass it with -e"]
    return []

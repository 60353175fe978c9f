"""The command-line options that change how a config file loads: `.env` files, and a
Procfile's formation and port (docs/configuration.md#procfiles)."""

from __future__ import annotations

import argparse

from tuiman.core.config.load_options import LoadOptions
from tuiman.core.procfile.parse import parse_formation


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-e",
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read variables from FILE (repeatable; replaces the automatic .env)",
    )
    parser.add_argument(
        "--no-env-file", action="store_true", help="do not read the .env next to the config"
    )
    parser.add_argument(
        "-m",
        "--formation",
        type=_formation,
        metavar="NAME=N,...",
        help="Procfile: processes per type, e.g. web=2,worker=1 (all=N for every type)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=_port,
        metavar="PORT",
        help="Procfile: PORT of the first process type (default: .env, $PORT, 5000)",
    )


def load_options_from(options: argparse.Namespace) -> LoadOptions:
    return LoadOptions(
        env_files=tuple(options.env_file),
        default_env_file=not options.no_env_file,
        formation=options.formation or (),
        port=options.port,
    )


def _formation(text: str) -> tuple[tuple[str, int], ...]:
    try:
        return parse_formation(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1..65535, got {port}")
    return port

"""`tuiman schema`: print (or write) the JSON Schema of the TOML config, generated from the
loader (docs/configuration.md#editor-completion)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tuiman.argparsing import ArgumentParser
from tuiman.console import say, write_line


def schema_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="tuiman schema",
        description="Print the JSON Schema of tuiman's TOML config (for Taplo, Tombi, ...).",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    return parser


def main(args: Sequence[str]) -> int:
    options = schema_parser().parse_args(list(args))
    from tuiman.core.config.schema import schema_text

    text = schema_text()
    if options.output is None:
        return 0 if write_line(text.removesuffix("\n")) else 1
    output = Path(options.output)
    temporary = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, output)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        say(f"{options.output}: cannot write: {error.strerror or error}", prefix="")
        return 1
    return 0

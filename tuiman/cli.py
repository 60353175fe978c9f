"""Command line entry point: `tuiman`, `tuiman --headless`, `tuiman check`, `tuiman ctl`.

Kept import-light: `--version`, `check`, `ctl` and headless mode never import Textual or Rich,
and `--version` imports neither argparse nor the config model (bench/startup.py measures it).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys

from tuiman import __version__
from tuiman.console import ensure_standard_streams, say, settle, write_line
from tuiman.core.startup_trace import mark as mark_startup

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy knows it)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

VERSION_LINE = f"tuiman {__version__}"

SUBCOMMANDS = ("check", "ctl", "convert", "attach", "completion", "schema", "export")


def main_parser() -> argparse.ArgumentParser:
    from tuiman.argparsing import ArgumentParser
    from tuiman.load_arguments import add_load_arguments

    parser = ArgumentParser(
        prog="tuiman",
        description="Interactive terminal process manager with Circus-style lifecycle hooks.",
        epilog=(
            "Subcommands: tuiman check [-c CONFIG], tuiman ctl COMMAND, tuiman attach,"
            " tuiman convert CIRCUS.ini|Procfile [-o OUT.toml], tuiman completion SHELL,"
            " tuiman schema, tuiman export systemd [-c CONFIG] [--user] [-o DIR]"
        ),
    )
    parser.add_argument("--version", action="version", version=VERSION_LINE)
    parser.add_argument("-c", "--config", help="config file (.toml, a Circus .ini, or a Procfile)")
    parser.add_argument("--headless", action="store_true", help="no UI: print events on stdout")
    parser.add_argument("--json", action="store_true", help="headless: one JSON object per line")
    parser.add_argument("--no-output", action="store_true", help="headless: hide process output")
    parser.add_argument(
        "-D",
        "--detach",
        action="store_true",
        help="run headless in the background (output to a log file); reach it with tuiman attach",
    )
    parser.add_argument("--run", metavar="CMD", help="headless: run CMD once services are ready")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --run (default 60)",
    )
    parser.add_argument(
        "--exit-on",
        choices=("first",),
        help="headless: 'first': the first process to exit stops everything; its code is ours",
    )
    add_load_arguments(parser)
    return parser


def check_parser() -> argparse.ArgumentParser:
    from tuiman.argparsing import ArgumentParser
    from tuiman.load_arguments import add_load_arguments

    parser = ArgumentParser(
        prog="tuiman check", description="Validate a config and exit 0 (valid) or 2."
    )
    parser.add_argument("-c", "--config", help="config file (default ./tuiman.toml)")
    add_load_arguments(parser)
    return parser


def convert_parser() -> argparse.ArgumentParser:
    from tuiman.argparsing import ArgumentParser
    from tuiman.load_arguments import add_load_arguments

    parser = ArgumentParser(
        prog="tuiman convert",
        description="Write the tuiman TOML equivalent of a Circus INI config or a Procfile.",
    )
    parser.add_argument(
        "config", metavar="CIRCUS.ini|Procfile", help="the Circus config or Procfile to convert"
    )
    parser.add_argument("-o", "--output", metavar="OUT.toml", help="write here (default: stdout)")
    add_load_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    ensure_standard_streams()
    try:
        return dispatch(list(sys.argv[1:] if argv is None else argv))
    finally:
        settle()  # a broken stdout/stderr never changes the exit code


def dispatch(args: list[str]) -> int:
    if args == ["--version"]:
        return 0 if write_line(VERSION_LINE) else 1  # what argparse would do, without it
    if args and args[0] == "check":
        return run_check(check_parser().parse_args(args[1:]))
    if args and args[0] == "convert":
        return run_convert(convert_parser().parse_args(args[1:]))
    if args and args[0] == "attach":
        from tuiman.launch.attach import main as attach_main

        return attach_main(args[1:])
    if args and args[0] == "export":
        from tuiman.launch.export_systemd import main as export_main

        return export_main(args[1:])
    if args and args[0] == "ctl":
        from tuiman.control.ctl import main as ctl_main

        return ctl_main(args[1:])
    if args and args[0] == "completion":
        from tuiman.completion import main as completion_main

        return completion_main(args[1:])
    if args and args[0] == "schema":
        from tuiman.schema_command import main as schema_main

        return schema_main(args[1:])
    options = main_parser().parse_args(args)
    if options.ready_timeout <= 0:
        main_parser().error("--ready-timeout must be > 0")
    if options.exit_on is not None and options.run is not None:
        main_parser().error("--exit-on cannot be combined with --run")
    if options.detach:
        from tuiman.launch.detach import run_detached

        return run_detached(options, args)
    if options.run is not None:
        # The process the caller waits on is not the one running hooks (launch/run_guard.py).
        from tuiman.launch.run_guard import run_guarded

        run_guarded(lambda: launch_run(options))
    return launch_run(options)


def launch_run(options: argparse.Namespace) -> int:
    mark_startup("cli imports, arguments")
    from tuiman.launch.early import EarlyStart

    early = EarlyStart()  # the watchdog, and the cgroup subtree in a thread, while we import
    # The instance's imports allocate many objects and free few: collections during them find
    # nothing to free and cost ~3 % of the import (bench/startup.py). What they made lives as
    # long as tuiman: frozen, it is never scanned again; left in generation 0, the first
    # collection after them would walk all of it (~8 ms) just before the first spawn.
    gc.disable()
    try:
        from tuiman.core.lazy_ssl import import_asyncio

        import_asyncio()  # first, and without ssl: OpenSSL only once an https probe needs it
        from tuiman.launch.run import run_tuiman
    except BaseException:
        early.abandon()
        raise
    finally:
        gc.freeze()
        gc.enable()

    mark_startup("imports of the instance (tuiman.launch.run)")

    return run_tuiman(options, early)


def run_check(options: argparse.Namespace) -> int:
    from tuiman.argparsing import EXIT_USAGE
    from tuiman.core.config.loader import DEFAULT_CONFIG_NAME, ConfigError
    from tuiman.core.configfile import load_config, watcher_environment_problems
    from tuiman.load_arguments import load_options_from

    if options.config is None and not os.path.isfile(DEFAULT_CONFIG_NAME):
        # Running tuiman without a config starts the demo; checking nothing must not pass.
        say(
            f"tuiman check: no config to check: ./{DEFAULT_CONFIG_NAME} does not exist "
            "(name one with -c FILE)",
            prefix="",
        )
        return EXIT_USAGE
    try:
        config = load_config(options.config, options=load_options_from(options))
    except ConfigError as error:
        for line in error.errors:
            say(line, prefix="")
        return EXIT_USAGE
    for warning in config.warnings:
        say(f"warning: {warning}", prefix="")
    if problems := watcher_environment_problems(config, options.config or config.source):
        for line in problems:
            say(line, prefix="")
        return EXIT_USAGE
    names = ", ".join(w.name for w in config.watchers) or "none"
    write_line(f"{options.config or config.source}: ok ({len(config.watchers)} watchers: {names})")
    return 0


def run_convert(options: argparse.Namespace) -> int:
    from tuiman.argparsing import EXIT_USAGE
    from tuiman.core.circus.loader import convert_circus_config, write_conversion
    from tuiman.core.config.loader import ConfigError
    from tuiman.core.configfile import is_procfile

    if is_procfile(options.config):
        return run_convert_procfile(options)
    try:
        conversion = convert_circus_config(options.config)
        for warning in conversion.warnings:
            say(f"warning: {warning}", prefix="")
        if options.output is None:
            if not write_line(conversion.toml_text.removesuffix("\n")):
                return 1  # the conversion is this command's output: losing it is a failure
        else:
            for warning in write_conversion(conversion, options.config, options.output):
                say(f"warning: {warning}", prefix="")
    except ConfigError as error:
        for line in error.errors:
            say(line, prefix="")
        return EXIT_USAGE
    return 0


def run_convert_procfile(options: argparse.Namespace) -> int:
    from pathlib import Path

    from tuiman.argparsing import EXIT_USAGE
    from tuiman.core.config.loader import ConfigError
    from tuiman.core.configfile import convert_procfile_file
    from tuiman.core.procfile.loader import write_procfile_conversion
    from tuiman.load_arguments import load_options_from

    try:
        conversion = convert_procfile_file(options.config, options=load_options_from(options))
        if options.output is None:
            if not write_line(conversion.toml_text.removesuffix("\n")):
                return 1
        else:
            procfile_path = Path(os.path.abspath(options.config))
            for warning in write_procfile_conversion(conversion, procfile_path, options.output):
                say(f"warning: {warning}", prefix="")
    except ConfigError as error:
        for line in error.errors:
            say(line, prefix="")
        return EXIT_USAGE
    return 0


def entry() -> None:
    code = main()
    exit_even_if_threads_linger(code)
    sys.exit(code)


def exit_even_if_threads_linger(code: int) -> None:
    """Leave now if a thread tuiman did not start would hold the interpreter's exit.

    A hook module may start a non-daemon thread at import, or never finish importing
    (docs/hooks.md#configuration): Python's normal exit would wait for it forever. Everything of
    tuiman's own is finished by now; only the standard streams still need flushing.
    """
    import threading

    lingering = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    if not lingering:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

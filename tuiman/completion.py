"""`tuiman completion bash|zsh|tcsh`: a completion script made by shtab from tuiman's own
parsers (docs/completion.md).

The parsers of `tuiman`, `check`, `convert`, `attach`, `ctl`, `completion` and `schema` are put
together as one parser with subcommands, the shape shtab reads; each stays the one its command
parses with, so a new option completes without touching this file. Watcher names come from the
running instance when the shell completes them: `tuiman completion --watchers` asks it over the
control socket and prints nothing at all when there is no single instance to ask (a completer
must not write into the command line being edited).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence

import shtab

from tuiman.argparsing import ArgumentParser
from tuiman.console import write_line

SHELLS = ("bash", "zsh", "tcsh")
WATCHER_ARGUMENTS = {"watcher", "target"}  # ctl's positionals that start with a watcher name
FILE_OPTIONS = {"--config", "--env-file", "--output", "--socket"}
COMPLETION_TIMEOUT = 1.0  # seconds: a TAB must not hang on a stuck instance

# bash passes the word being completed as $1; -c/--socket on the line pick the instance.
_BASH_WATCHERS = r"""
_tuiman_watchers() {
  local args=() i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -c|--config|--socket) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
    esac
  done
  compgen -W "$(command tuiman completion --watchers "${args[@]}" 2>/dev/null)" -- "$1"
}
"""
WATCHER_NAMES = {
    "bash": "_tuiman_watchers",
    "zsh": "($(command tuiman completion --watchers 2>/dev/null))",
    "tcsh": "`tuiman completion --watchers`",  # tcsh cannot silence stderr: --watchers is quiet
    "preamble": {"bash": _BASH_WATCHERS},
}


def completion_args_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="tuiman completion",
        description="Print a shell completion script: eval it, or save it where your shell "
        "loads completions.",
    )
    parser.add_argument("shell", nargs="?", choices=SHELLS)
    # For the scripts themselves: the running instance's watcher names, one a line.
    parser.add_argument("--watchers", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-c", "--config", help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    return parser


def completion_parser() -> argparse.ArgumentParser:
    """`tuiman`'s parser with every subcommand's parser as a subparser."""
    from tuiman.cli import check_parser, convert_parser, main_parser
    from tuiman.control.ctl import build_parser as ctl_parser
    from tuiman.launch.attach import attach_parser
    from tuiman.launch.export_systemd import build_parser as export_parser
    from tuiman.schema_command import schema_parser

    parser = main_parser()
    subcommands = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    builders: list[tuple[str, Callable[[], argparse.ArgumentParser]]] = [
        ("check", check_parser),
        ("ctl", ctl_parser),
        ("convert", convert_parser),
        ("attach", attach_parser),
        ("completion", completion_args_parser),
        ("schema", schema_parser),
        ("export", export_parser),
    ]
    for name, build in builders:
        command = build()
        subcommands.add_parser(
            name, parents=[command], add_help=False, help=command.description or name
        )
    for action in all_actions(parser):
        if action.dest in WATCHER_ARGUMENTS and not action.option_strings:
            action.complete = WATCHER_NAMES  # type: ignore[attr-defined]
        elif FILE_OPTIONS.intersection(action.option_strings):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    return parser


def all_actions(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            for subparser in dict.fromkeys(action.choices.values()):
                yield from all_actions(subparser)


def completion_script(shell: str) -> str:
    return str(shtab.complete(completion_parser(), shell=shell))


def watcher_names(socket_option: str | None, config_option: str | None) -> list[str]:
    """The watchers of the instance `tuiman ctl` would talk to; none when it cannot tell."""
    from tuiman.control.client import ControlConnection, Unreachable
    from tuiman.control.locate import NoInstance, locate_socket

    try:
        socket_path = locate_socket(socket_option, config_option)
        with ControlConnection(socket_path, COMPLETION_TIMEOUT, COMPLETION_TIMEOUT) as connection:
            reply = connection.request("list")
    except (NoInstance, Unreachable, OSError):
        return []
    names = reply.get("watchers") if reply.get("ok") else None
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def main(args: Sequence[str]) -> int:
    parser = completion_args_parser()
    options = parser.parse_args(list(args))
    if options.watchers:
        names = watcher_names(options.socket, options.config)
        return 0 if not names or write_line("\n".join(names)) else 1
    if options.shell is None:
        parser.error("the following arguments are required: shell")
    return 0 if write_line(completion_script(options.shell).rstrip("\n")) else 1

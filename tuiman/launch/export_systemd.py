"""`tuiman export systemd`: a unit file that runs an instance headless at boot (docs/systemd.md).

The unit is `Type=notify` (tuiman sends `READY=1` itself, see `systemd_notify`), reloads the
config with `tuiman ctl reloadconfig`, and uses `KillMode=mixed` so that systemd's SIGTERM goes
to tuiman alone and tuiman's own graceful stop (hooks, stop signals, graceful timeouts) runs
before anything is killed. Every path in it is absolute.
"""

from __future__ import annotations

import argparse
import math
import os
import pwd
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from tuiman.argparsing import EXIT_USAGE, ArgumentParser
from tuiman.console import say, write_line
from tuiman.core.config.model import Config, WatcherConfig
from tuiman.load_arguments import add_load_arguments, load_options_from

EXIT_OK, EXIT_FAILURE = 0, 1
_STOP_HOOKS = ("before_stop", "after_stop", "before_signal", "after_signal", "before_reap")
_STOP_MARGIN = 15  # seconds on top of the longest graceful stop the config asks for
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\-]+")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="tuiman export",
        description="Write a file that starts this config at boot.",
    )
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    systemd = formats.add_parser(
        "systemd",
        help="a systemd service unit (Type=notify)",
        description="Write a systemd unit that runs the config headless, Type=notify.",
    )
    systemd.add_argument("-c", "--config", help="config file (default ./tuiman.toml)")
    systemd.add_argument(
        "--user", action="store_true", help="a user unit (systemctl --user), not a system one"
    )
    systemd.add_argument(
        "-o", "--output", metavar="DIR", help="write the unit into DIR (default: stdout)"
    )
    systemd.add_argument("--name", help="the unit's name (default tuiman-<config's name>)")
    add_load_arguments(systemd)  # checked now, and passed on to the unit's command
    return parser


def main(argv: Sequence[str]) -> int:
    options = build_parser().parse_args(list(argv))
    from tuiman.core.config.loader import ConfigError
    from tuiman.core.configfile import load_config

    try:
        config = load_config(options.config, options=load_options_from(options))
    except ConfigError as error:
        for line in error.errors:
            say(line, prefix="")
        return EXIT_USAGE
    if config.source.startswith("demo:"):
        say("tuiman export systemd: no config file (give -c CONFIG; the demo is not exported)")
        return EXIT_USAGE
    name = options.name or unit_name(Path(config.source))
    if not name.endswith(".service"):
        name += ".service"
    if not _UNIT_NAME.fullmatch(name):
        say(f"tuiman export systemd: --name {name!r}: use letters, digits and :_.-")
        return EXIT_USAGE
    text = unit_text(config, user=options.user, load_args=load_arguments(options))
    if options.output is None:
        return EXIT_OK if write_line(text.removesuffix("\n")) else EXIT_FAILURE
    target = Path(options.output).expanduser().absolute() / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as error:
        say(f"tuiman export systemd: cannot write {target}: {error.strerror or error}")
        return EXIT_FAILURE
    scope = "--user " if options.user else ""
    write_line(f"wrote {target}")
    write_line(
        f"start it now and at boot: systemctl {scope}daemon-reload && "
        f"systemctl {scope}enable --now {name}"
    )
    return EXIT_OK


def unit_name(config_path: Path) -> str:
    """`tuiman-<stem>`, or `tuiman-<directory>` for a tuiman.toml, circus.ini or Procfile."""
    stem = config_path.stem
    base = config_path.parent.name if stem in ("tuiman", "circus", "Procfile", "") else stem
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "instance"
    return f"tuiman-{slug}.service"


def load_arguments(options: argparse.Namespace) -> list[str]:
    """The options that change how the config loads, as the unit's command gives them."""
    arguments: list[str] = []
    for env_file in options.env_file:
        arguments += ["-e", str(Path(env_file).expanduser().absolute())]
    if options.no_env_file:
        arguments.append("--no-env-file")
    if options.formation:
        arguments += ["-m", ",".join(f"{name}={count}" for name, count in options.formation)]
    if options.port is not None:
        arguments += ["-p", str(options.port)]
    return arguments


def unit_text(config: Config, *, user: bool, load_args: Sequence[str] = ()) -> str:
    """The unit file for `config` (an absolute path in `config.source`); `load_args` are
    `-e`, `--no-env-file`, `-m`, `-p` as `load_arguments` gives them."""
    config_path = Path(config.source)
    python = sys.executable or "/usr/bin/python3"
    run = [python, "-m", "tuiman"]
    lines = [
        "# Written by tuiman export systemd (docs/systemd.md).",
        "[Unit]",
        f"Description={_escape(f'tuiman: {config_path}')}",
    ]
    if not user:
        lines += ["Wants=network-online.target", "After=network-online.target"]
    lines += [
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={_command([*run, '--headless', '-c', str(config_path), *load_args])}",
        f"ExecReload={_command([*run, 'ctl', '-c', str(config_path), 'reloadconfig'])}",
        f"WorkingDirectory={_escape(str(config_path.parent))}",
        f"Environment={_quote('PATH=' + os.environ.get('PATH', os.defpath), command=False)}",
        # SIGTERM to tuiman alone: its own stop ladder ends the processes; whatever is left
        # after TimeoutStopSec gets SIGKILL from systemd.
        "KillMode=mixed",
        f"TimeoutStopSec={stop_timeout(config)}",
        "Restart=on-failure",
        "RestartSec=2",
        "# WatchdogSec=30  # tuiman then tells systemd it is alive every 15 s",
    ]
    if not user and os.geteuid() != 0:
        account = pwd.getpwuid(os.geteuid())
        lines.append(f"User={account.pw_name}")
    lines += ["", "[Install]", f"WantedBy={'default.target' if user else 'multi-user.target'}"]
    return "\n".join(lines) + "\n"


def stop_timeout(config: Config) -> int:
    """Seconds a graceful stop of everything may take: priority levels stop one after another,
    each as long as its slowest watcher (its graceful_timeout and its stop hooks' timeouts)."""
    by_priority: dict[int, float] = {}
    for watcher in config.watchers:
        by_priority[watcher.priority] = max(
            by_priority.get(watcher.priority, 0.0), _watcher_stop_time(watcher)
        )
    return math.ceil(sum(by_priority.values())) + _STOP_MARGIN


def _watcher_stop_time(watcher: WatcherConfig) -> float:
    hooks = sum(spec.timeout for name, spec in watcher.hooks.items() if name in _STOP_HOOKS)
    return watcher.graceful_timeout + hooks


def _escape(text: str) -> str:
    """A value systemd reads as it is: `%` starts a specifier, so it is doubled."""
    return text.replace("%", "%%")


def _quote(word: str, *, command: bool = True) -> str:
    """One word of a systemd command line (where `$` expands) or of an assignment, quoted
    when it needs to be."""
    escaped = _escape(word)
    if command:
        escaped = escaped.replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./$-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _command(words: list[str]) -> str:
    return " ".join(_quote(word) for word in words)

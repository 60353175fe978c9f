"""`tuiman --detach` (`-D`): start the instance in the background, headless; say how to reach it.

The parent checks the config (a bad one is its one-line error and exit 2, as in the foreground),
starts `tuiman --headless` with the same arguments in a new session with its output appended to
a log file beside the instance's control socket, waits until that instance answers on the socket,
prints where the log is and how to attach or stop it, and exits 0. If the instance ends before it
answers, the parent exits with the instance's code and shows the end of its log.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tuiman.console import say, write_line
from tuiman.control.client import ControlConnection, Unreachable
from tuiman.control.paths import ControlSetupError, ensure_private_dir
from tuiman.control.server import socket_path_for
from tuiman.core.config.loader import ConfigError
from tuiman.core.configfile import load_config
from tuiman.load_arguments import load_options_from

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
DETACH_FLAGS = frozenset({"-D", "--detach"})
ANSWER_TIMEOUT = 30.0  # a slow machine importing hook modules; the instance is never killed for it
LOG_TAIL_LINES = 15


def detached_log_path(socket_path: Path) -> Path:
    """The background instance's stdout/stderr: `<id>.log` beside its `<id>.sock`."""
    return socket_path.with_name(socket_path.name.removesuffix(".sock") + ".log")


def instance_argv(args: Sequence[str]) -> list[str]:
    """The foreground command line of the background instance: same options, headless."""
    kept = [arg for arg in args if arg not in DETACH_FLAGS]
    return [sys.executable, "-m", "tuiman", "--headless", *kept]


def run_detached(options: argparse.Namespace, args: Sequence[str]) -> int:
    if options.run is not None:
        say("--detach cannot be combined with --run (a CI run waits in the foreground)")
        return EXIT_USAGE
    try:
        config = load_config(options.config, options=load_options_from(options))
    except ConfigError as error:
        for line in error.errors:
            say(line, prefix="")
        return EXIT_USAGE
    socket_path = socket_path_for(config)
    log_path = detached_log_path(socket_path)
    try:
        if config.arbiter.control_socket is None:
            ensure_private_dir(socket_path.parent)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except (ControlSetupError, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        say(f"--detach: cannot open the instance's log {log_path}: {reason}")
        return EXIT_FAILURE
    start_offset = os.lseek(log_fd, 0, os.SEEK_END)
    try:
        instance = subprocess.Popen(
            instance_argv(args),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,  # no controlling terminal: a closed terminal never stops it
        )
    finally:
        os.close(log_fd)
    code = wait_for_answer(instance, socket_path)
    if code is not None:
        say(f"--detach: the instance exited with code {code} before it answered; {log_path} ends:")
        for line in log_tail(log_path, start_offset):
            say(f"  {line}", prefix="")
        return code or EXIT_FAILURE
    config_arg = f" -c {options.config}" if options.config else ""
    write_line(f"tuiman is running in the background (pid {instance.pid}): {config.source}")
    write_line(f"  log:    {log_path}")
    write_line(f"  attach: tuiman attach{config_arg}")
    write_line(f"  stop:   tuiman ctl{config_arg} quit")
    return EXIT_OK


def wait_for_answer(instance: subprocess.Popen[bytes], socket_path: Path) -> int | None:
    """None once `instance` answers `hello` on its socket, else its exit code (or 1: no answer)."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while time.monotonic() < deadline:
        code = instance.poll()
        if code is not None:
            return code
        if answers_as(socket_path, instance.pid):
            return None
        time.sleep(0.05)
    say(f"--detach: pid {instance.pid} did not answer on {socket_path} in {ANSWER_TIMEOUT:g}s")
    return EXIT_FAILURE


def answers_as(socket_path: Path, pid: int) -> bool:
    try:
        with ControlConnection(socket_path, 1.0, 2.0) as connection:
            hello = connection.request("hello")
    except (Unreachable, OSError):
        return False
    return bool(hello.get("ok")) and hello.get("pid") == pid


def log_tail(log_path: Path, offset: int) -> list[str]:
    """The last lines this start wrote to the log (not an earlier run's)."""
    try:
        with open(log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-LOG_TAIL_LINES:]

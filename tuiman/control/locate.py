"""Which instance `tuiman ctl` talks to (docs/control-protocol.md#tuiman-ctl).

In order: `--socket PATH`; `-c CONFIG` (its real path gives the socket, or its
`[tuiman].control_socket`); `TUIMAN_SOCKET`; `./tuiman.toml` if present; else the only running
instance of this user found in the default socket directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tuiman.control.client import ControlConnection, Unreachable
from tuiman.control.paths import (
    DEFAULT_CONFIG_NAME,
    SOCKET_SUFFIX,
    is_private_dir,
    runtime_dir,
    socket_for_config_file,
)

PROBE_TIMEOUT = 2.0


class NoInstance(Exception):
    """No single instance could be chosen; the message says why (exit 1)."""


@dataclass(frozen=True, slots=True)
class RunningInstance:
    socket: Path
    pid: int | None
    config: str


def locate_socket(
    socket_option: str | None,
    config_option: str | None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path:
    env = os.environ if environ is None else environ
    working_dir = cwd if cwd is not None else Path.cwd()
    if socket_option:
        return Path(socket_option)
    if config_option:
        return socket_for_config_file(config_option, working_dir)
    if env.get("TUIMAN_SOCKET"):
        return Path(env["TUIMAN_SOCKET"])
    if (working_dir / DEFAULT_CONFIG_NAME).is_file():
        return socket_for_config_file(DEFAULT_CONFIG_NAME, working_dir)
    directory = runtime_dir(env)
    instances = running_instances(directory)
    if len(instances) == 1:
        return instances[0].socket
    if not instances:
        raise NoInstance(f"no tuiman is running for this user (looked in {directory})")
    listing = "\n".join(
        f"  {instance.socket}  pid {instance.pid}  {instance.config}" for instance in instances
    )
    raise NoInstance(
        f"{len(instances)} tuiman instances are running;"
        f" choose one with -c CONFIG or --socket PATH:\n{listing}"
    )


def running_instances(directory: Path) -> list[RunningInstance]:
    """The instances answering in `directory` (only if it is our private directory)."""
    if not is_private_dir(directory):
        return []
    found: list[RunningInstance] = []
    for socket_path in sorted(directory.glob(f"*{SOCKET_SUFFIX}")):
        try:
            with ControlConnection(socket_path, PROBE_TIMEOUT, PROBE_TIMEOUT) as connection:
                hello = connection.request("hello")
        except Unreachable:
            continue
        if hello.get("ok"):
            pid = hello.get("pid")
            found.append(
                RunningInstance(
                    socket_path, pid if isinstance(pid, int) else None, str(hello.get("config"))
                )
            )
    return found

"""Circus hooks that record what they see, for tests/core/test_circus_hook_parity.py.

Copied next to the INI and run unchanged by circusd and by tuiman; each call appends one JSON
line to the file named by PARITY_TRACE. Written as a Circus user writes hooks: plain
functions, no tuiman imports.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

_spawns = 0


def record(**fields: Any) -> None:
    with open(os.environ["PARITY_TRACE"], "a") as trace:
        trace.write(json.dumps(fields, sort_keys=False) + "\n")


def trace(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """Any hook: its name and pid."""
    pid = kwargs.get("pid", kwargs.get("process_pid"))
    record(hook=hook_name, pid=pid)
    return True


def set_env_on_start(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    watcher.env["FROM_START"] = "yes"
    record(hook=hook_name)
    return True


def set_env_per_spawn(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """Circus' examples/example10.ini sets the variable its cmd prints, before each spawn."""
    global _spawns
    _spawns += 1
    watcher.env["myvar"] = f"spawn-{_spawns}"
    record(hook=hook_name, seen=watcher.env.get("FROM_START"))
    return True


def slow_before_signal(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """A rolling before_signal: the next process' signal must wait for this one."""
    record(hook=hook_name, pid=kwargs["pid"], signum=kwargs["signum"])
    time.sleep(0.3)
    return True


def after_signal(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    record(hook=hook_name, pid=kwargs["pid"], signum=kwargs["signum"])
    return True


def extended(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    record(hook=hook_name, pid=kwargs["pid"], stats=kwargs["stats"])
    kwargs["stats"]["added_by_hook"] = 1
    return True


def before_reap(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    pid = kwargs["process_pid"]
    process = watcher.processes[pid]
    record(
        hook=hook_name, pid=pid, status=process.status, has_time=isinstance(kwargs["time"], float)
    )
    return True


def after_reap(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    pid = kwargs["process_pid"]
    record(
        hook=hook_name,
        pid=pid,
        in_processes=pid in watcher.processes,
        exit_code=kwargs["exit_code"],
        process_status=kwargs["process_status"],
    )
    return True

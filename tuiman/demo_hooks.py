"""Hooks used by the embedded demo config: small, real, and visible in the hook-event log."""

from __future__ import annotations

import time
from typing import Any


def check_port_range(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_start: a pre-flight check that always passes (and takes a visible moment)."""
    time.sleep(0.2)
    return True


def log_spawn(watcher: Any, arbiter: Any, hook_name: str, pid: int, **kwargs: Any) -> bool:
    arbiter.publish("demo_note", watcher=watcher.name, note=f"{watcher.name} spawned pid {pid}")
    return True


def slow_check(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_spawn: like the seed's check_redis, it sleeps; tuiman must not stutter."""
    time.sleep(0.3)
    return True


def report_exit(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> None:
    if kwargs.get("process_status") is not None and kwargs.get("exit_code"):
        raise RuntimeError(f"worker {kwargs['process_pid']} died with {kwargs['exit_code']}")


def queue_depth(
    watcher: Any, arbiter: Any, hook_name: str, pid: int, stats: dict[str, Any], **kwargs: Any
) -> None:
    stats["queue_depth"] = (pid * 7) % 23

"""State enums of watchers and processes, and the constants Circus hooks expect."""

from __future__ import annotations

from enum import StrEnum


class WatcherState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    FLAPPING = "flapping"  # at least one slot pauses after a crash loop
    FAILED = "failed"  # every slot gave up, or spawning failed max_retry times


class ProcessState(StrEnum):
    RUNNING = "running"
    STOPPING = "stopping"  # a stop signal was sent; waiting for the exit
    EXITED = "exited"  # exited, reap event not yet published


# Circus' process status constants (circus.process), used by after_reap's process_status.
RUNNING = 0
DEAD_OR_ZOMBIE = 1
UNEXISTING = 2
OTHER = 3


class Reason(StrEnum):
    """Reason codes carried by `state` and `failed` events (docs/events.md#reason-codes)."""

    COMMAND = "command"
    SPAWN_ERROR = "spawn_error"
    FLAP_PAUSE = "flap_pause"
    FLAP_EXHAUSTED = "flap_exhausted"
    EXITED = "exited"
    QUIT = "quit"
    ENVIRONMENT = "environment"  # its working_dir, virtualenv, user or program is missing
    FILE_CHANGE = "file_change"  # a restart for changed watched files

    @staticmethod
    def veto(hook_name: str) -> str:
        return f"veto:{hook_name}"

    @staticmethod
    def hook_failure(hook_name: str) -> str:
        return f"hook_failure:{hook_name}"

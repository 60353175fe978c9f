"""The per-slot restart policy (docs/supervision.md#restart-policy), as a pure state machine driven
by a clock value.

Kept free of asyncio so the backoff and flapping rules are tested with plain numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from tuiman.core.config.model import RestartConfig


class Action(StrEnum):
    RESPAWN = "respawn"  # after `delay` seconds (0 = at once)
    PAUSE = "pause"  # flapping: wait `delay` (retry_in), then one probe spawn
    PARK = "park"  # gave up: flap_max_retry pauses were used


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    delay: float = 0.0
    attempt: int = 0  # the pause number, for `flapping` events


@dataclass
class SlotHistory:
    """What one slot (wid) remembers about its recent runs."""

    policy: RestartConfig
    consecutive_short: int = 0
    short_exit_times: deque[float] = field(default_factory=deque)
    pauses: int = 0
    probing: bool = False
    parked: bool = False
    spawn_failures: int = 0

    def record_exit(self, now: float, run_seconds: float, tuiman_caused: bool) -> Decision:
        if tuiman_caused:
            return Decision(Action.RESPAWN)
        if run_seconds >= self.policy.reset_after:
            self.reset()
            return Decision(Action.RESPAWN)
        self.consecutive_short += 1
        self.short_exit_times.append(now)
        while self.short_exit_times and now - self.short_exit_times[0] > self.policy.flap_window:
            self.short_exit_times.popleft()
        if self.probing or len(self.short_exit_times) >= self.policy.flap_attempts:
            return self._pause()
        return Decision(Action.RESPAWN, self.backoff_delay())

    def backoff_delay(self) -> float:
        """0 after the first short run; then backoff_initial doubling up to backoff_max."""
        if self.consecutive_short < 2:
            return 0.0
        exponent = self.consecutive_short - 2
        if exponent > 60:
            return self.policy.backoff_max
        return min(self.policy.backoff_initial * 2.0**exponent, self.policy.backoff_max)

    def _pause(self) -> Decision:
        limit = self.policy.flap_max_retry
        if limit != -1 and self.pauses >= limit:
            self.parked = True
            self.probing = False
            return Decision(Action.PARK)
        self.pauses += 1
        self.probing = True
        self.short_exit_times.clear()
        return Decision(Action.PAUSE, self.policy.retry_in, self.pauses)

    def record_healthy(self) -> None:
        """A run reached reset_after while still alive."""
        self.reset()

    def reset(self) -> None:
        self.consecutive_short = 0
        self.short_exit_times.clear()
        self.pauses = 0
        self.probing = False
        self.parked = False
        self.spawn_failures = 0

    def spawn_failure_delay(self) -> float:
        exponent = max(self.spawn_failures - 1, 0)
        if exponent > 60:
            return self.policy.backoff_max
        return min(self.policy.backoff_initial * 2.0**exponent, self.policy.backoff_max)

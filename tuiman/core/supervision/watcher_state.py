"""A watcher's state: the transitions it may take, checked, and published in one place.

The table is what the watcher's commands and exit handling actually do; a move outside it is a
tuiman bug and raises `IllegalTransition` rather than publishing a state no client expects.
"""

from __future__ import annotations

from collections.abc import Callable

from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState

_S = WatcherState

ALLOWED_TRANSITIONS: dict[WatcherState, frozenset[WatcherState]] = {
    # start; a stop that finds processes left behind, or a spawn-error give-up queued after it;
    # a start that finds its environment missing (working_dir, virtualenv, user, program)
    _S.STOPPED: frozenset({_S.STARTING, _S.STOPPING, _S.FAILED}),
    # the start finished; a slot crash-looped during it; a veto or a stop ended it
    _S.STARTING: frozenset({_S.ACTIVE, _S.FLAPPING, _S.STOPPING}),
    _S.ACTIVE: frozenset({_S.FLAPPING, _S.STOPPING}),
    # every slot healthy again; a start re-fills the pausing slots; a stop
    _S.FLAPPING: frozenset({_S.ACTIVE, _S.STARTING, _S.STOPPING}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.FAILED}),
    # start again; a stop clears what a failure left (state becomes stopped)
    _S.FAILED: frozenset({_S.STARTING, _S.STOPPING}),
}

RUNNING_STATES = frozenset({_S.ACTIVE, _S.FLAPPING})
SPAWNING_STATES = frozenset({_S.ACTIVE, _S.STARTING, _S.FLAPPING})  # a slot may (re)spawn
HALTED_STATES = frozenset({_S.STOPPING, _S.STOPPED, _S.FAILED})


class IllegalTransition(RuntimeError):
    """A watcher was asked to move between two states the table does not link (a tuiman bug)."""

    def __init__(self, watcher: str, old: WatcherState, new: WatcherState) -> None:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[old])) or "nothing"
        super().__init__(
            f"watcher {watcher!r}: illegal state transition {old} -> {new} "
            f"(from {old} only {allowed})"
        )
        self.old = old
        self.new = new


class WatcherStatus:
    """The current state and the reason of the last change (or of the last veto)."""

    __slots__ = ("_bus", "_name", "_on_change", "reason", "state")

    def __init__(self, name: str, bus: Bus, on_change: Callable[[], None]) -> None:
        self.state = WatcherState.STOPPED
        self.reason: str | None = None
        self._name = name
        self._bus = bus
        self._on_change = on_change

    def move(self, new_state: WatcherState, reason: str) -> None:
        """Change state (a no-op when already there): checked, published, host told."""
        old_state = self.state
        if new_state == old_state:
            return
        if new_state not in ALLOWED_TRANSITIONS[old_state]:
            raise IllegalTransition(self._name, old_state, new_state)
        self.state = new_state
        self.reason = str(reason)
        self._bus.emit(
            Kind.STATE,
            self._name,
            {"old": str(old_state), "new": str(new_state), "reason": self.reason},
        )
        self._on_change()

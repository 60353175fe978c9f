"""The watcher state machine: every (from, to) pair is either an allowed edge or refused."""

from __future__ import annotations

import itertools

import pytest

from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.watcher_state import (
    ALLOWED_TRANSITIONS,
    IllegalTransition,
    WatcherStatus,
)

PAIRS = [(old, new) for old, new in itertools.product(WatcherState, WatcherState) if old != new]


def status_in(state: WatcherState) -> tuple[WatcherStatus, Bus, list[WatcherState]]:
    bus = Bus()
    told: list[WatcherState] = []
    status = WatcherStatus("web", bus, lambda: told.append(status.state))
    status.state = state  # put there directly: the edge under test is the only move
    return status, bus, told


def test_every_state_has_a_row_and_no_self_edge() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(WatcherState)
    assert all(state not in ALLOWED_TRANSITIONS[state] for state in WatcherState)


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{old}->{new}" for old, new in PAIRS])
def test_each_pair_is_an_allowed_edge_or_refused(old: WatcherState, new: WatcherState) -> None:
    status, bus, told = status_in(old)
    subscription = bus.subscribe(snapshot=False)
    if new in ALLOWED_TRANSITIONS[old]:
        status.move(new, "because")
        events = subscription.drain()
        assert [(e.kind, e.watcher, e.payload) for e in events] == [
            (Kind.STATE, "web", {"old": str(old), "new": str(new), "reason": "because"})
        ]
        assert (status.state, status.reason, told) == (new, "because", [new])
    else:
        with pytest.raises(IllegalTransition, match=f"{old} -> {new}"):
            status.move(new, "because")
        assert subscription.drain() == []
        assert (status.state, status.reason, told) == (old, None, [])


@pytest.mark.parametrize("state", list(WatcherState))
def test_moving_to_the_current_state_changes_nothing(state: WatcherState) -> None:
    status, bus, told = status_in(state)
    subscription = bus.subscribe(snapshot=False)
    status.move(state, "again")
    assert subscription.drain() == []
    assert (status.state, status.reason, told) == (state, None, [])


def test_a_watcher_life_follows_the_table() -> None:
    status, bus, told = status_in(WatcherState.STOPPED)
    subscription = bus.subscribe(snapshot=False)
    life = [
        WatcherState.STARTING,
        WatcherState.ACTIVE,
        WatcherState.FLAPPING,
        WatcherState.STOPPING,
        WatcherState.FAILED,
        WatcherState.STARTING,
        WatcherState.FLAPPING,
        WatcherState.ACTIVE,
        WatcherState.STOPPING,
        WatcherState.STOPPED,
    ]
    for state in life:
        status.move(state, "step")
    assert told == life
    assert [e.payload["new"] for e in subscription.drain()] == [str(state) for state in life]

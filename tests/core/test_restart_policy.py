"""The per-slot restart ladder (docs/supervision.md#restart-policy), driven by plain clock values
(no real time)."""

from __future__ import annotations

from tuiman.core.config.model import RestartConfig
from tuiman.core.supervision.restart import Action, SlotHistory


def crash(history: SlotHistory, now: float, ran: float = 0.01):  # type: ignore[no-untyped-def]
    return history.record_exit(now, ran, tuiman_caused=False)


def test_first_short_run_respawns_at_once_then_backs_off_exponentially() -> None:
    history = SlotHistory(RestartConfig(backoff_initial=0.1, backoff_max=0.3, flap_attempts=100))
    delays = [crash(history, n).delay for n in range(5)]
    assert delays == [0.0, 0.1, 0.2, 0.3, 0.3]


def test_healthy_run_resets_the_ladder() -> None:
    history = SlotHistory(RestartConfig(reset_after=10.0, flap_attempts=100))
    crash(history, 0)
    crash(history, 1)
    decision = history.record_exit(30.0, 15.0, tuiman_caused=False)
    assert decision.action == Action.RESPAWN and decision.delay == 0.0
    assert crash(history, 31).delay == 0.0


def test_tuiman_caused_exits_never_count() -> None:
    history = SlotHistory(RestartConfig(flap_attempts=2))
    for n in range(10):
        decision = history.record_exit(float(n), 0.01, tuiman_caused=True)
        assert decision.action == Action.RESPAWN and decision.delay == 0.0
    assert history.consecutive_short == 0


def test_flapping_pauses_then_probes_then_parks() -> None:
    policy = RestartConfig(flap_attempts=5, flap_window=10.0, retry_in=7.0, flap_max_retry=2)
    history = SlotHistory(policy)
    actions = [crash(history, n * 0.1).action for n in range(5)]
    assert actions == [Action.RESPAWN] * 4 + [Action.PAUSE]
    probe = crash(history, 8.0)  # the probe after the first pause was short
    assert probe.action == Action.PAUSE and probe.attempt == 2
    assert crash(history, 16.0).action == Action.PARK
    assert history.parked


def test_short_runs_outside_the_window_do_not_flap() -> None:
    history = SlotHistory(RestartConfig(flap_attempts=3, flap_window=1.0, backoff_max=0.5))
    actions = [crash(history, n * 2.0).action for n in range(10)]
    assert set(actions) == {Action.RESPAWN}


def test_flap_max_retry_minus_one_retries_forever() -> None:
    history = SlotHistory(RestartConfig(flap_attempts=1, flap_max_retry=-1))
    assert all(crash(history, float(n)).action == Action.PAUSE for n in range(50))


def test_spawn_failure_delay_doubles_to_the_cap() -> None:
    history = SlotHistory(RestartConfig(backoff_initial=0.1, backoff_max=1.0))
    delays = []
    for _ in range(6):
        history.spawn_failures += 1
        delays.append(history.spawn_failure_delay())
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]

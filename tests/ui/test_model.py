"""The UI model fed a history of bus events: what the tables, the hook log, the notifications
and the output pane would show. No Textual app and no processes: events in, text out."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from tests.support.events import make_event
from tuiman.core.events import Event, Kind
from tuiman.core.states import ProcessState
from tuiman.ui.model import Changes, CoreModel
from tuiman.ui.rows import process_rows, watcher_row
from tuiman.ui.views import ProcessView, WatcherView

T0 = 1_700_000_000.0


class History:
    """Events as the core would publish them: increasing seq, times T0 + offset."""

    def __init__(self) -> None:
        self._seq: Iterator[int] = count(1)

    def __call__(
        self, kind: str, watcher: str | None = None, at: float = 0.0, **payload: Any
    ) -> Event:
        return make_event(next(self._seq), T0 + at, kind, watcher, payload)


def snapshot_of(*watchers: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": "/srv/app/tuiman.toml",
        "started": T0 - 60,
        "pid": 999,
        "watchers": [*watchers],
    }


def watcher(
    name: str, state: str = "active", numprocesses: int = 2, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "state": state,
        "reason": "command",
        "numprocesses": numprocesses,
        "priority": 5,
        "graceful_timeout": 10.0,
        "autostart": True,
        "cmd": f"run-{name}",
        "hooks": [],
        "restarts": 0,
        "processes": [],
        "slots": [],
        "last_exit_codes": {},
    }
    data.update(extra)
    return data


def table(model: CoreModel, now: float) -> dict[str, tuple[str, ...]]:
    """The watchers table as text: name -> its cells (name, state, running, priority,
    restarts, cpu, mem, info)."""
    rows = (watcher_row(view, now) for view in model.watchers.values())
    return {key: tuple(text for text, _ in cells) for key, cells in rows}


def processes(model: CoreModel, name: str, now: float) -> list[tuple[str, ...]]:
    """The processes table of one watcher as text: (pid, wid, state, age, cpu, mem, exit)."""
    return [
        tuple(text for text, _ in cells) for _, cells in process_rows(model.watchers[name], now)
    ]


def log(changes: Changes) -> list[tuple[str, str, str, str]]:
    """Hook-log rows: (watcher, label, outcome, detail)."""
    return [(e.watcher, e.label, e.outcome.value, e.detail) for e in changes.log]


def alerts(changes: Changes) -> list[tuple[str, str, str]]:
    return [(a.title, a.message, a.severity) for a in changes.alerts]


@pytest.fixture
def ev() -> History:
    return History()


def booted(ev: History, *watchers: dict[str, Any]) -> CoreModel:
    model = CoreModel()
    changes = model.apply([ev(Kind.SNAPSHOT, None, **snapshot_of(*watchers))])
    assert changes.rebuilt
    return model


def test_a_snapshot_fills_both_tables(ev: History) -> None:
    web = watcher(
        "web",
        restarts=3,
        processes=[
            {"pid": 101, "wid": 1, "state": "running", "started": T0 - 30},
            {"pid": 102, "wid": 2, "state": "stopping", "started": T0 - 3700},
        ],
        last_exit_codes={"2": -9},
    )
    cron = watcher("cron", state="stopped", numprocesses=1, autostart=False, reason=None)
    model = booted(ev, web, cron)

    assert model.source == "/srv/app/tuiman.toml"
    assert table(model, T0) == {
        "web": ("web", "active", "2/2", "5", "3", "-", "-", ""),
        "cron": ("cron", "stopped", "0/1", "5", "0", "-", "-", "autostart off"),
    }
    assert processes(model, "web", T0) == [
        ("101", "1", "running", "30s", "-", "-", "-"),
        ("102", "2", "stopping", "1h01m", "-", "-", "KILL"),
    ]
    assert model.total_running() == 2 and model.total_target() == 2


def test_spawn_and_reap_move_processes_and_show_the_exit(ev: History) -> None:
    model = booted(ev, watcher("web", numprocesses=1))
    spawned = model.apply([ev(Kind.SPAWN, "web", at=1, process_pid=201, pid=201, wid=1)])
    assert "web" in spawned.processes
    assert log(spawned) == [("web", "spawn", "info", "wid=1")]
    assert processes(model, "web", T0 + 6) == [("201", "1", "running", "5s", "-", "-", "-")]
    assert table(model, T0 + 6)["web"][2] == "1/1"

    reaped = model.apply(
        [
            ev(
                Kind.REAP,
                "web",
                at=7,
                process_pid=201,
                pid=201,
                wid=1,
                exit_code=3,
                process_status=768,
            )
        ]
    )
    assert log(reaped) == [("web", "exit 3", "warn", "own exit")]
    assert processes(model, "web", T0 + 7) == []
    assert table(model, T0 + 7)["web"][2] == "0/1"
    # The running cell warns while an active watcher is short of processes.
    assert dict(watcher_row(model.watchers["web"], T0 + 7)[1][2:3]) == {"0/1": "warn"}

    model.apply([ev(Kind.SPAWN, "web", at=8, process_pid=202, pid=202, wid=1)])
    assert processes(model, "web", T0 + 8) == [("202", "1", "running", "0s", "-", "-", "3")]

    stopped = model.apply(
        [
            ev(
                Kind.REAP,
                "web",
                at=9,
                process_pid=202,
                pid=202,
                wid=1,
                exit_code=-15,
                process_status=None,
            )
        ]
    )
    assert log(stopped) == [("web", "exit TERM", "info", "stopped by tuiman")]


def test_state_changes_show_in_the_row_and_the_log(ev: History) -> None:
    model = booted(ev, watcher("web", numprocesses=1))
    model.apply([ev(Kind.SPAWN, "web", process_pid=301, pid=301, wid=1)])

    stopping = model.apply(
        [
            ev(Kind.STATE, "web", at=1, old="active", new="stopping", reason="command"),
            ev(Kind.KILL, "web", at=1, process_pid=301, pid=301, signum=15),
        ]
    )
    assert log(stopping) == [
        ("web", "→ stopping", "info", "from active (command)"),
        ("web", "kill TERM", "info", ""),
    ]
    assert table(model, T0 + 4)["web"][1] == "stopping"
    assert table(model, T0 + 4)["web"][7] == "SIGKILL in 7.0s"  # graceful_timeout 10 s
    assert table(model, T0 + 12)["web"][7] == "SIGKILL sent"
    assert processes(model, "web", T0 + 4)[0][2] == "stopping"

    model.apply(
        [
            ev(
                Kind.REAP,
                "web",
                at=2,
                process_pid=301,
                pid=301,
                wid=1,
                exit_code=-15,
                process_status=None,
            ),
            ev(Kind.STATE, "web", at=2, old="stopping", new="stopped", reason="command"),
        ]
    )
    assert table(model, T0 + 3)["web"][1:3] == ("stopped", "0/1")
    assert table(model, T0 + 3)["web"][7] == ""
    assert model.total_target() == 0


def test_flapping_shows_a_countdown_and_a_paused_slot(ev: History) -> None:
    model = booted(ev, watcher("flaky", numprocesses=1))
    changes = model.apply(
        [
            ev(
                Kind.REAP,
                "flaky",
                at=1,
                process_pid=401,
                pid=401,
                wid=1,
                exit_code=1,
                process_status=256,
            ),
            ev(Kind.STATE, "flaky", at=1, old="active", new="flapping", reason="flap_pause"),
            ev(Kind.FLAPPING, "flaky", at=1, wid=1, attempt=2, retry_in=4.0),
        ]
    )
    assert [entry[1:3] for entry in log(changes)] == [
        ("exit 1", "warn"),
        ("→ flapping", "warn"),
        ("flapping", "warn"),
    ]
    assert log(changes)[2][3] == "slot 1: pause 2, retry in 4.0s"
    assert table(model, T0 + 2)["flaky"][7] == "retry in 3.0s (pause 2)"
    assert processes(model, "flaky", T0 + 2) == [("slot 1", "1", "paused", "in 3s", "-", "-", "1")]

    model.apply(
        [ev(Kind.SPAWN, "flaky", at=5, process_pid=402, pid=402, wid=1)]
    )  # the probe: the pause is over
    assert [row[0] for row in processes(model, "flaky", T0 + 5)] == ["402"]


def test_a_vetoing_hook_alerts_and_explains_the_stopped_watcher(ev: History) -> None:
    model = booted(ev, watcher("web", state="stopped", numprocesses=1))
    changes = model.apply(
        [
            ev(Kind.STATE, "web", old="stopped", new="starting", reason="command"),
            ev(Kind.HOOK_SUCCESS, "web", at=1, name="before_start", vetoed=True, duration=0.002),
            ev(Kind.STATE, "web", at=1, old="starting", new="stopped", reason="veto:before_start"),
        ]
    )
    assert alerts(changes) == [
        ("web: before_start vetoed", "the hook returned a false value", "warning")
    ]
    assert log(changes)[1] == ("web", "before_start", "veto", "")
    assert log(changes)[2][1:3] == ("→ stopped", "warn")
    assert table(model, T0 + 2)["web"][1] == "stopped"
    assert table(model, T0 + 2)["web"][7] == "vetoed by before_start"

    # The next start clears the explanation.
    model.apply([ev(Kind.STATE, "web", at=3, old="stopped", new="starting", reason="command")])
    assert table(model, T0 + 3)["web"][7] == ""


def test_a_failing_hook_with_a_veto_is_an_error(ev: History) -> None:
    model = booted(ev, watcher("web", numprocesses=1))
    changes = model.apply(
        [
            ev(
                Kind.HOOK_FAILURE,
                "web",
                name="before_signal",
                duration=0.004,
                vetoed=True,
                error="RuntimeError: boom",
                signum=1,
                pid=77,
            ),
            ev(
                Kind.STATE,
                "web",
                old="active",
                new="stopped",
                reason="hook_failure:before_signal",
            ),
        ]
    )
    assert alerts(changes) == [("web: before_signal failed", "RuntimeError: boom", "error")]
    assert log(changes) == [
        ("web", "before_signal", "failure", "HUP RuntimeError: boom"),
        ("web", "→ stopped", "error", "from active (hook_failure:before_signal)"),
    ]
    assert table(model, T0)["web"][7] == "before_signal failed: RuntimeError: boom"
    row = dict(watcher_row(model.watchers["web"], T0)[1])
    assert row["before_signal failed: RuntimeError: boom"] == "error"


def test_an_ignored_hook_failure_is_logged_but_changes_nothing(ev: History) -> None:
    model = booted(ev, watcher("web", numprocesses=1))
    changes = model.apply(
        [
            ev(
                Kind.HOOK_FAILURE,
                "web",
                name="after_reap",
                duration=0.001,
                vetoed=False,
                error="OSError: disk",
            )
        ]
    )
    assert log(changes) == [("web", "after_reap", "ignored", "OSError: disk")]
    assert alerts(changes) == []
    assert table(model, T0)["web"][7] == ""


def test_output_lines_reach_the_output_pane_in_order(ev: History) -> None:
    model = booted(ev, watcher("web"))
    changes = model.apply(
        [
            ev(Kind.OUTPUT, "web", pid=101, wid=1, stream="stdout", line="listening on :8000"),
            ev(Kind.OUTPUT, "web", pid=102, wid=2, stream="stderr", line="warning: slow"),
        ]
    )
    shown = [(e.watcher, e.pid, e.stream, e.text) for e in model.output_of("web")]
    assert shown == [
        ("web", 101, "stdout", "listening on :8000"),
        ("web", 102, "stderr", "warning: slow"),
    ]
    assert [e.text for e in changes.output] == ["listening on :8000", "warning: slow"]
    assert changes.log == []  # output is not a hook-log row


def test_dropped_events_are_counted_for_the_user(ev: History) -> None:
    model = booted(ev, watcher("web"))
    changes = model.apply([ev(Kind.DROPPED, None, count=120), ev(Kind.DROPPED, None, count=5)])
    assert changes.dropped == 125
    assert changes.log == []


def test_stats_fill_the_cpu_and_memory_columns(ev: History) -> None:
    model = booted(
        ev,
        watcher(
            "web",
            processes=[
                {"pid": 101, "wid": 1, "state": "running", "started": T0},
                {"pid": 102, "wid": 2, "state": "running", "started": T0},
            ],
        ),
    )
    changes = model.apply(
        [
            ev(
                Kind.STATS,
                "web",
                cpu=12.5,
                rss=3 * 1024 * 1024,
                processes={
                    "101": {"cpu": 10.0, "rss": 2 * 1024 * 1024},
                    "102": {"cpu": 2.5, "rss": 1024 * 1024},
                    "999": {"cpu": 50.0, "rss": 1},  # not a process of ours any more
                },
            )
        ]
    )
    assert changes.stats == {"web"}
    assert table(model, T0)["web"][5:7] == ("12.5%", "3.0M")
    assert [row[4:6] for row in processes(model, "web", T0)] == [
        ("10.0%", "2.0M"),
        ("2.5%", "1.0M"),
    ]


def test_a_failed_watcher_and_leaked_pids_alert(ev: History) -> None:
    model = booted(ev, watcher("mailer", numprocesses=1), watcher("web", numprocesses=1))
    changes = model.apply(
        [
            ev(Kind.STATE, "mailer", old="flapping", new="failed", reason="flap_exhausted"),
            ev(Kind.FAILED, "mailer", reason="flap_exhausted", detail="crashed 5 times in 10s"),
            ev(Kind.STOP, "web", reason="quit", leaked_pids=[555, 556]),
        ]
    )
    assert alerts(changes) == [
        ("mailer failed", "crashed 5 times in 10s", "error"),
        ("web: processes survived SIGKILL", "555, 556", "error"),
    ]
    assert table(model, T0)["mailer"][7] == "crashed 5 times in 10s"
    assert table(model, T0)["web"][7] == "leaked pids 555, 556"
    assert log(changes)[2] == ("web", "stop", "error", "leaked [555, 556]")


def test_watchers_added_removed_and_scaled(ev: History) -> None:
    model = booted(ev, watcher("web"))
    settings = {
        "priority": 20,
        "graceful_timeout": 5.0,
        "autostart": False,
        "cmd": "python3 -m extra",
        "env": {},
        "hooks": [],
    }
    added = model.apply(
        [
            ev(Kind.ADD, "extra", numprocesses=2, settings=settings),
            ev(Kind.UPDATED, "web", numprocesses=4),
        ]
    )
    assert added.rebuilt
    # a higher priority starts first: the new row sorts into place, with its target and settings
    assert list(table(model, T0)) == ["extra", "web"]
    assert table(model, T0)["extra"][2:4] == ("0/2", "20")
    assert table(model, T0)["extra"][7] == "autostart off"
    assert model.watchers["extra"].cmd == "python3 -m extra"
    assert table(model, T0)["web"][2] == "0/4"

    removed = model.apply([ev(Kind.REMOVE, "extra")])
    assert removed.rebuilt
    assert list(table(model, T0)) == ["web"]


def test_events_of_unknown_watchers_do_not_invent_rows(ev: History) -> None:
    model = booted(ev, watcher("web"))
    changes = model.apply([ev(Kind.SPAWN, "ghost", process_pid=1, pid=1, wid=1)])
    assert list(table(model, T0)) == ["web"]
    assert log(changes)[0][:2] == ("ghost", "spawn")


def test_a_custom_arbiter_event_is_a_log_row(ev: History) -> None:
    model = booted(ev, watcher("web"))
    changes = model.apply([ev("deploy_done", None, version="1.2.3", pid=7)])
    assert log(changes) == [("tuiman", "deploy_done", "info", "version=1.2.3")]


def test_a_new_snapshot_replaces_what_was_known(ev: History) -> None:
    model = booted(ev, watcher("web"), watcher("old"))
    model.apply([ev(Kind.SPAWN, "web", process_pid=101, pid=101, wid=1)])
    rebuilt = model.apply([ev(Kind.SNAPSHOT, None, **snapshot_of(watcher("web", state="stopped")))])
    assert rebuilt.rebuilt
    assert table(model, T0) == {"web": ("web", "stopped", "0/2", "5", "0", "-", "-", "")}


def test_config_warnings_of_the_snapshot_alert_once_each(ev: History) -> None:
    warned = {
        **snapshot_of(watcher("web")),
        "warnings": ["circus.ini: [watcher:web] workding_dir: unknown option"],
    }
    model = CoreModel()
    first = model.apply([ev(Kind.SNAPSHOT, None, **warned)])
    assert alerts(first) == [
        ("config warning", "circus.ini: [watcher:web] workding_dir: unknown option", "warning")
    ]
    # A resync (or an attach's new snapshot) does not repeat them; a new one is shown.
    again = model.apply([ev(Kind.SNAPSHOT, None, **warned)])
    assert alerts(again) == []
    warned["warnings"] = [*warned["warnings"], "circus.ini: [circus] user: unknown option"]
    assert alerts(model.apply([ev(Kind.SNAPSHOT, None, **warned)])) == [
        ("config warning", "circus.ini: [circus] user: unknown option", "warning")
    ]


def test_a_stats_status_with_control_characters_is_made_safe() -> None:
    model = CoreModel()
    process = ProcessView(7, 1, ProcessState.RUNNING, 0.0)
    model.watchers["web"] = WatcherView("web", processes={7: process})
    entry = {"cpu": 1.5, "rss": 2048, "status": "\x1b]0;owned\x07T"}
    payload = {"cpu": 1.5, "rss": 2048, "processes": {"7": entry}}
    changes = model.apply([Event(seq=1, time=0.0, kind=Kind.STATS, watcher="web", payload=payload)])
    assert (process.cpu, process.rss) == (1.5, 2048)
    assert "\x1b" not in process.status and "\x07" not in process.status
    assert changes.stats == {"web"}

"""The cells of the watchers and processes tables, built from model views: text and role
(the colour the palette gives it) per cell. No Textual app and no processes."""

from __future__ import annotations

from typing import Any

from tuiman.core.states import ProcessState, WatcherState
from tuiman.ui.rows import describe_reason, extended_keys, process_rows, watcher_info, watcher_row
from tuiman.ui.views import ProcessView, SlotPause, WatcherView

NOW = 1_700_000_000.0


def view(
    name: str = "web", state: WatcherState = WatcherState.ACTIVE, **fields: Any
) -> WatcherView:
    fields.setdefault("numprocesses", 2)
    return WatcherView(name, state=state, **fields)


def running(*pids: int, started: float = NOW - 10) -> dict[int, ProcessView]:
    return {
        pid: ProcessView(pid, wid, ProcessState.RUNNING, started) for wid, pid in enumerate(pids, 1)
    }


def test_a_healthy_watcher_row() -> None:
    web = view(priority=7, processes=running(101, 102))
    key, cells = watcher_row(web, NOW)
    assert key == "web"
    assert cells == (
        ("web", "plain"),
        ("active", "ok"),
        ("2/2", "plain"),
        ("7", "muted"),
        ("0", "muted"),
        ("-", "plain"),  # no stats yet
        ("-", "plain"),
        ("", "plain"),
    )


def test_short_of_processes_restarted_and_measured() -> None:
    web = view(processes=running(101), restarts=4, cpu=150.0, rss=70 * 1024 * 1024)
    cells = dict(enumerate(watcher_row(web, NOW)[1]))
    assert cells[2] == ("1/2", "warn")  # active but short of its target
    assert cells[4] == ("4", "warn")
    assert cells[5] == ("150%", "plain")
    assert cells[6] == ("70M", "plain")


def test_stats_are_hidden_once_no_process_runs() -> None:
    web = view(state=WatcherState.STOPPED, cpu=3.0, rss=1024)
    assert watcher_row(web, NOW)[1][5:7] == (("-", "plain"), ("-", "plain"))
    assert watcher_row(web, NOW)[1][2] == ("0/2", "plain")  # stopped: not a shortfall


def test_state_cells_are_coloured_by_state() -> None:
    roles = {state: watcher_row(view(state=state), NOW)[1][1][1] for state in WatcherState}
    assert roles == {
        "active": "ok",
        "starting": "accent",
        "stopping": "warn",
        "stopped": "muted",
        "flapping": "warn",
        "failed": "error",
    }


def test_info_says_why_and_what_comes_next() -> None:
    pauses = {1: SlotPause(1, NOW + 4.25, 3)}
    cases = [
        (view(state=WatcherState.FLAPPING, pauses=pauses), ("retry in 4.2s (pause 3)", "warn")),
        (view(state=WatcherState.FLAPPING), ("probing after a pause", "warn")),
        (
            view(state=WatcherState.FAILED, reason="flap_exhausted"),
            (describe_reason("flap_exhausted"), "error"),
        ),
        (
            view(state=WatcherState.FAILED, failure="exec: no such file"),
            ("exec: no such file", "error"),
        ),
        (
            view(state=WatcherState.STOPPING, stopping_since=NOW - 5, graceful_timeout=30.0),
            ("SIGKILL in 25s", "warn"),
        ),
        (
            view(state=WatcherState.STOPPING, stopping_since=NOW - 31, graceful_timeout=30.0),
            ("SIGKILL sent", "error"),
        ),
        (
            view(state=WatcherState.STOPPED, veto="vetoed by before_start"),
            ("vetoed by before_start", "warn"),
        ),
        (
            view(state=WatcherState.STOPPED, veto="before_start failed: boom"),
            ("before_start failed: boom", "error"),
        ),
        (
            view(state=WatcherState.STOPPED, reason="veto:before_stop"),
            ("vetoed by before_stop", "warn"),
        ),
        (
            view(state=WatcherState.STOPPED, reason="hook_failure:after_start"),
            ("after_start failed", "error"),
        ),
        (view(state=WatcherState.STOPPED, reason="exited"), ("every process exited", "muted")),
        (view(state=WatcherState.STOPPED, autostart=False), ("autostart off", "muted")),
        (view(state=WatcherState.STOPPED, reason="command"), ("", "plain")),
        (view(leaked=[7, 8]), ("leaked pids 7, 8", "error")),
    ]
    for watcher, expected in cases:
        assert watcher_info(watcher, NOW) == expected, watcher


def test_reasons_in_words() -> None:
    assert describe_reason(None) == ""
    assert describe_reason("flap_exhausted") == "gave up: it kept crashing (flapping)"
    assert describe_reason("spawn_error") == "gave up: the program could not be started"
    assert describe_reason("veto:before_start") == "vetoed by before_start"
    assert describe_reason("hook_failure:before_spawn") == "before_spawn failed"
    assert describe_reason("something_new") == "something_new"


def test_process_rows_are_ordered_by_slot_then_age() -> None:
    web = view(
        processes={
            30: ProcessView(30, 2, ProcessState.RUNNING, NOW - 5),
            20: ProcessView(20, 1, ProcessState.STOPPING, NOW - 3700),
            10: ProcessView(10, 2, ProcessState.RUNNING, NOW - 90, cpu=1.25, rss=1536),
        },
        last_exit={2: -9},
    )
    rows = process_rows(web, NOW)
    assert [key for key, _ in rows] == ["20", "10", "30"]
    assert rows[0][1] == (
        ("20", "plain"),
        ("1", "plain"),
        ("stopping", "warn"),
        ("1h01m", "plain"),
        ("-", "plain"),
        ("-", "plain"),
        ("-", "muted"),
    )
    assert rows[1][1][2:] == (
        ("running", "ok"),
        ("1m", "plain"),
        ("1.2%", "plain"),
        ("1.5K", "plain"),
        ("KILL", "muted"),  # the slot's last exit, of a process that is gone: not an alarm
    )


def test_a_process_stopped_by_a_signal_says_so() -> None:
    web = view(processes={10: ProcessView(10, 1, ProcessState.RUNNING, NOW - 5, status="T")})
    [(_, cells)] = process_rows(web, NOW)
    assert cells[2] == ("stopped (T)", "warn")
    web.processes[10].status = "S"
    [(_, cells)] = process_rows(web, NOW)
    assert cells[2] == ("running", "ok")


def test_a_paused_slot_is_a_row_after_the_processes() -> None:
    flaky = view(
        state=WatcherState.FLAPPING,
        processes=running(101),
        pauses={2: SlotPause(2, NOW + 44.2, 1)},
        last_exit={2: 3},
    )
    rows = process_rows(flaky, NOW, extended=("queue", "mem"))
    assert [key for key, _ in rows] == ["101", "slot-2"]
    assert rows[1][1] == (
        ("slot 2", "muted"),
        ("2", "plain"),
        ("paused", "warn"),
        ("in 45s", "warn"),
        ("-", "muted"),
        ("-", "muted"),
        ("3", "error"),
        ("", "plain"),
        ("", "plain"),
    )


def test_extended_stats_columns() -> None:
    stats: dict[int, dict[str, Any]] = {
        101: {"pid": 101, "cpu": 1.0, "mem": 0.5, "queue_depth": 7, "children": []},
        102: {"pid": 102, "backlog": 2.0, "num_threads": 4},
    }
    keys = extended_keys(stats)
    assert keys == ("backlog", "queue_depth", "mem", "num_threads", "children")

    worker = view(
        processes={
            101: ProcessView(
                101,
                1,
                ProcessState.RUNNING,
                NOW,
                extended={"queue_depth": 7, "mem": 0.4567, "children": [5, 6]},
            )
        }
    )
    [(_, cells)] = process_rows(worker, NOW, extended=keys)
    assert cells[7:] == (
        ("-", "muted"),  # backlog: not reported for this process
        ("7", "plain"),
        ("0.5", "plain"),
        ("-", "muted"),
        ("2", "plain"),  # children are counted
    )


def test_an_unchanged_process_row_is_handed_out_again_and_any_change_makes_a_new_one() -> None:
    web = view(processes=running(101, 102, started=NOW - 90))
    first = process_rows(web, NOW)
    again = process_rows(web, NOW + 20)  # "1m" both times
    assert [a is b for a, b in zip(first, again, strict=True)] == [True, True]

    web.processes[101].cpu = 3.5
    web.last_exit[2] = None  # slot 2's last exit, status unknown
    later = process_rows(web, NOW + 40)  # 2m: every age cell changes
    assert later[0][1][4] == ("3.5%", "plain")
    assert later[1][1][6] == ("?", "muted")
    assert [cells[3][0] for _, cells in later] == ["2m", "2m"]
    # built as without a cache
    fresh = view(last_exit={2: None}, processes=running(101, 102, started=NOW - 90))
    fresh.processes[101].cpu = 3.5
    assert later == process_rows(fresh, NOW + 40)

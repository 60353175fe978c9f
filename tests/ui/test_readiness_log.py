"""Readiness events in the UI's hook-event log: one row each, in plain words
(docs/readiness.md#events)."""

from __future__ import annotations

from tests.ui.test_model import T0, History, booted, log, watcher
from tuiman.core.events import Kind
from tuiman.ui.readiness_view import process_ready_cell
from tuiman.ui.rows import watcher_row


def test_each_readiness_event_is_one_plain_row() -> None:
    ev = History()
    model = booted(ev, watcher("db"), watcher("web"))
    changes = model.apply(
        [
            ev(Kind.WAITING, "web", waiting_for=["db (ready)", "migrate (succeeded)"]),
            ev(
                Kind.PROBE,
                "db",
                pid=10,
                wid=1,
                probe="ready",
                check="tcp",
                ok=False,
                error="connection refused",
            ),
            ev(Kind.PROBE, "db", pid=10, wid=1, probe="ready", check="tcp", ok=True, error=None),
            ev(Kind.READY, "db", pid=10, wid=1),
            ev(Kind.READY, "db"),
            ev(Kind.NOTIFY, "db", pid=10, wid=1, status="serving"),
            ev(
                Kind.LIVENESS,
                "db",
                pid=10,
                wid=1,
                reason="liveness",
                detail="HTTP 503 (3)",
            ),
            ev(Kind.UNREADY, "db", pid=10, wid=1, reason="exited"),
            ev(
                Kind.BLOCKED,
                "web",
                dependency="migrate",
                condition="succeeded",
                reason="migrate exited with 1",
            ),
        ]
    )
    assert log(changes) == [
        ("web", "waiting", "info", "waiting for db (ready), migrate (succeeded)"),
        ("db", "probe", "warn", "ready probe (tcp) pid=10 failed: connection refused"),
        ("db", "probe", "info", "ready probe (tcp) pid=10 ok"),
        ("db", "ready", "ok", "ready pid=10 wid=1"),
        ("db", "ready", "ok", "ready (all processes)"),
        ("db", "notify", "info", "status pid=10: serving"),
        ("db", "liveness", "error", "liveness failed pid=10, restarting: HTTP 503 (3)"),
        ("db", "unready", "warn", "unready pid=10 wid=1: exited"),
        (
            "web",
            "blocked",
            "error",
            "blocked, not started: migrate exited with 1 (needs migrate succeeded)",
        ),
    ]


def test_the_ready_cells_follow_the_events_and_waiting_ends_with_the_start() -> None:
    ev = History()
    web_readiness = {
        "ready": False,
        "probe": "http",
        "waiting_for": [],
        "blocked": None,
        "processes": {},
        "errors": {},
        "status": {},
        "depends_on": {"db": "ready"},
    }
    model = booted(ev, watcher("web", "stopped", 1, reason=None, readiness=web_readiness))
    web = model.watchers["web"]

    def cells() -> tuple[str, str]:
        row = dict([watcher_row(web, T0, readiness=True)])["web"]
        return row[7][0], row[8][0]  # the ready column, then info

    model.apply([ev(Kind.WAITING, "web", waiting_for=["db (ready)"])])
    assert cells() == ("waiting", "waiting for db (ready)")
    model.apply(
        [
            ev(Kind.STATE, "web", old="stopped", new="starting", reason="command"),
            ev(Kind.SPAWN, "web", process_pid=7, pid=7, wid=1),
            ev(Kind.STATE, "web", old="starting", new="active", reason="command"),
        ]
    )
    assert cells() == ("waiting", "")
    model.apply(
        [ev(Kind.PROBE, "web", pid=7, wid=1, probe="ready", check="http", ok=False, error="503")]
    )
    assert cells() == ("probing", "not ready: ready http: 503")
    assert process_ready_cell(web, 7) == ("probing", "warn")
    model.apply([ev(Kind.READY, "web", pid=7, wid=1), ev(Kind.READY, "web")])
    assert cells() == ("ready", "")
    assert process_ready_cell(web, 7) == ("ready", "ok")
    model.apply(
        [
            ev(Kind.STATE, "web", old="active", new="stopping", reason="command"),
            ev(Kind.UNREADY, "web", reason="watcher stopping"),
            ev(Kind.UNREADY, "web", pid=7, wid=1, reason="exited"),
            ev(Kind.STATE, "web", old="stopping", new="stopped", reason="command"),
        ]
    )
    assert cells() == ("-", "")  # stopped by hand: no stale "waiting for"

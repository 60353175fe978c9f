"""Readiness events in the UI's hook-event log: one row each, in plain words
(docs/readiness.md#events)."""

from __future__ import annotations

from tests.ui.test_model import History, booted, log, watcher
from tuiman.core.events import Kind


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

"""SVG snapshots of readiness in the UI (docs/readiness.md): the ready columns, a watcher
waiting for its dependencies and one blocked, and the dependency view (`D`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.support.waiting import wait_until
from tests.ui.scripted import FROZEN, SOURCE, ScriptedClient, ScriptedStream, process, watcher
from tuiman.core.events import Event, Kind
from tuiman.ui.app import TuimanApp

pytestmark = pytest.mark.timeout(60)


def readiness(
    probe: str | None,
    ready: bool,
    depends_on: dict[str, str] | None = None,
    processes: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "ready": ready,
        "probe": probe,
        "waiting_for": extra.get("waiting_for", []),
        "blocked": extra.get("blocked"),
        "processes": processes or {},
        "errors": extra.get("errors", {}),
        "status": extra.get("status", {}),
        "depends_on": depends_on or {},
    }


SNAPSHOT: dict[str, Any] = {
    "config": SOURCE,
    "started": FROZEN - 60,
    "pid": 4000,
    "watchers": [
        watcher(
            "db",
            "active",
            0,
            1,
            cmd="redis-server --port 6390",
            processes=[process(5101, 1, 58)],
            readiness=readiness("tcp", True, processes={"5101": "ready"}),
        ),
        watcher(
            "migrate",
            "stopped",
            0,
            1,
            reason="exited",
            cmd="./manage.py migrate",
            last_exit_codes={"1": 1},
            readiness=readiness(None, False, {"db": "ready"}),
        ),
        watcher(
            "web",
            "stopped",
            0,
            2,
            reason=None,
            cmd="gunicorn shop.wsgi",
            readiness=readiness(
                "http",
                False,
                {"db": "ready", "migrate": "succeeded"},
                blocked="migrate exited with 1",
            ),
        ),
        watcher(
            "api",
            "active",
            0,
            2,
            cmd="uvicorn shop.api:app --port 900$(tuiman.wid)",
            processes=[process(5301, 1, 20), process(5302, 2, 20)],
            readiness=readiness(
                "http",
                False,
                {"db": "ready"},
                processes={"5301": "ready", "5302": "probing"},
                errors={"5302": "http: HTTP 503 Service Unavailable"},
            ),
        ),
        watcher(
            "report",
            "stopped",
            0,
            1,
            reason=None,
            cmd="./report.sh",
            readiness=readiness(None, False, {"api": "ready"}, waiting_for=["api (ready)"]),
        ),
    ],
}

LIVE: list[Event] = [
    Event(
        101,
        FROZEN - 1.0,
        Kind.PROBE,
        "api",
        {
            "pid": 5302,
            "wid": 2,
            "probe": "ready",
            "check": "http",
            "ok": False,
            "error": "HTTP 503 Service Unavailable",
        },
    ),
    Event(102, FROZEN - 0.5, Kind.NOTIFY, "api", {"pid": 5301, "wid": 1, "status": "serving"}),
]


class ReadinessClient(ScriptedClient):
    def __init__(self) -> None:
        super().__init__()
        snapshot = Event(100, FROZEN - 10.0, Kind.SNAPSHOT, None, SNAPSHOT)
        self.stream = ScriptedStream([snapshot, *LIVE])

    async def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        if command in ("hook_events", "logs"):
            return {"ok": True, "events": [], "lines": []}
        return await super().request(command, **arguments)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def app(tmp_path: Path) -> TuimanApp:
    return TuimanApp(ReadinessClient(), settings=tmp_path / "none.toml", clock=lambda: FROZEN)


def then(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        tui = pilot.app
        assert isinstance(tui, TuimanApp)
        await wait_until(
            lambda: tui.bridge is not None and tui.bridge.events >= len(LIVE),
            pause=pilot.pause,
            what="every scripted event through the bridge",
        )
        tui.main.tick()
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def test_ready_columns_waiting_and_blocked(snap_compare: Any, tmp_path: Path) -> None:
    # down x3: the api watcher, whose processes show ready and probing
    assert snap_compare(
        app(tmp_path), terminal_size=(120, 30), run_before=then("down", "down", "down")
    )


def test_dependency_view(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(
        app(tmp_path), terminal_size=(100, 34), run_before=then("down", "down", "D")
    )


def test_process_info_shows_the_last_probe_results(snap_compare: Any, tmp_path: Path) -> None:
    # the api watcher, tab to its processes, down to pid 5302, i for info
    assert snap_compare(
        app(tmp_path),
        terminal_size=(100, 40),
        run_before=then("down", "down", "down", "tab", "down", "i"),
    )

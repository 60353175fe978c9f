"""A scripted core for snapshot tests: fixed events, frozen pids and times, canned replies."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from tuiman.client.wire import WireClient
from tuiman.core.events import Event, Kind

FROZEN = 1_764_260_000.0  # 2025-11-27 16:13:20 UTC: "now" for the app, and the base of every event
SOURCE = "/home/ada/shop/tuiman.toml"


def watcher(
    name: str, state: str, priority: int, numprocesses: int, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "state": state,
        "reason": extra.pop("reason", "command"),
        "numprocesses": numprocesses,
        "priority": priority,
        "graceful_timeout": extra.pop("graceful_timeout", 30.0),
        "autostart": extra.pop("autostart", True),
        "cmd": extra.pop("cmd", f"python3 -m {name}"),
        "hooks": extra.pop("hooks", []),
        "restarts": extra.pop("restarts", 0),
        "processes": [],
        "slots": [],
        "last_exit_codes": {},
    }
    data.update(extra)
    return data


def process(pid: int, wid: int, age: float, state: str = "running") -> dict[str, Any]:
    return {"pid": pid, "wid": wid, "state": state, "started": FROZEN - age, "exit_code": None}


SNAPSHOT: dict[str, Any] = {
    "config": SOURCE,
    "started": FROZEN - 3725,
    "pid": 4000,
    "watchers": [
        watcher(
            "web",
            "active",
            10,
            2,
            cmd="gunicorn shop.wsgi -b 127.0.0.1:8000 -w 1",
            hooks=["after_spawn", "before_start"],
            env={"DJANGO_SETTINGS_MODULE": "shop.settings", "SECRET_KEY": "********"},
            working_dir="/home/ada/shop",
            respawn="always",
            stop_signal=15,
            max_retry=5,
            restart={
                "backoff_initial": 0.1,
                "backoff_max": 10.0,
                "reset_after": 10.0,
                "flap_attempts": 5,
                "flap_window": 10.0,
                "retry_in": 7.0,
                "flap_max_retry": 5,
            },
            processes=[process(4101, 1, 3700), process(4102, 2, 3699)],
        ),
        watcher(
            "worker",
            "active",
            5,
            3,
            cmd="celery -A shop worker -c 1",
            restarts=1,
            hooks=["after_reap", "before_spawn", "extended_stats"],
            processes=[process(4201, 1, 3690), process(4233, 2, 912), process(4203, 3, 3689)],
            last_exit_codes={"2": -9},
        ),
        watcher("search", "stopped", 3, 1, reason="veto:before_start", hooks=["before_start"]),
        watcher(
            "flaky",
            "flapping",
            1,
            1,
            reason="flap_pause",
            restarts=9,
            slots=[{"wid": 1, "pid": None, "parked": False, "pauses": 2, "retry_in": 4.2}],
            last_exit_codes={"1": 3},
        ),
        watcher("mailer", "failed", 0, 1, reason="flap_exhausted", restarts=30),
        watcher("cron", "stopped", 0, 1, reason=None, autostart=False),
    ],
}


def _event(seq: int, offset: float, kind: str, watcher_name: str | None, **payload: Any) -> Event:
    return Event(
        seq,
        FROZEN + offset,
        kind,
        watcher_name,
        payload,
        droppable=kind in (Kind.OUTPUT, Kind.STATS),
    )


def _hook(
    seq: int, offset: float, watcher_name: str, hook: str, duration: float, **payload: Any
) -> Event:
    kind = Kind.HOOK_FAILURE if "error" in payload else Kind.HOOK_SUCCESS
    payload.setdefault("vetoed", False)
    return Event(
        seq, FROZEN + offset, kind, watcher_name, {"name": hook, "duration": duration, **payload}
    )


# Hook events from before the UI subscribed (the `hook_events` request), seq < the snapshot's.
HISTORY: list[Event] = [
    _hook(1, -3701.0, "web", "before_start", 0.2013),
    _hook(2, -3700.0, "web", "after_spawn", 0.0011, pid=4101),
    _hook(3, -3699.0, "web", "after_spawn", 0.0008, pid=4102),
    _hook(4, -3690.3, "worker", "before_spawn", 0.3009),
    _hook(5, -3689.9, "worker", "before_spawn", 0.3011),
    _hook(6, -3688.0, "search", "before_start", 0.0421, vetoed=True),
    _hook(
        7,
        -912.4,
        "worker",
        "after_reap",
        0.0004,
        pid=4202,
        error="RuntimeError: worker 4202 died with -9",
    ),
    _hook(8, -912.1, "worker", "before_spawn", 0.3007),
    _hook(
        9,
        -60.0,
        "mailer",
        "before_spawn",
        5.0,
        vetoed=True,
        error="ConnectionRefusedError: [Errno 111] smtp.internal:25 refused the connection",
    ),
]

SNAPSHOT_SEQ = 100

# Live events after the snapshot.
LIVE: list[Event] = [
    _event(
        101,
        -3.0,
        Kind.REAP,
        "flaky",
        process_pid=4390,
        pid=4390,
        wid=1,
        exit_code=3,
        process_status=2,
    ),
    _event(102, -3.0, Kind.FLAPPING, "flaky", wid=1, attempt=2, retry_in=7.0),
    _event(
        103,
        -1.0,
        Kind.STATS,
        "web",
        cpu=3.1,
        rss=88_342_528,
        processes={
            "4101": {"cpu": 1.2, "rss": 44_171_264},
            "4102": {"cpu": 1.9, "rss": 44_171_264},
        },
    ),
    _event(
        104,
        -1.0,
        Kind.STATS,
        "worker",
        cpu=41.7,
        rss=318_767_104,
        processes={
            "4201": {"cpu": 12.0, "rss": 105_000_000},
            "4233": {"cpu": 27.5, "rss": 110_000_000},
            "4203": {"cpu": 2.2, "rss": 103_767_104},
        },
    ),
    *[
        _event(
            110 + n,
            -8.0 + n,
            Kind.OUTPUT,
            "web",
            pid=4101 + n % 2,
            wid=1 + n % 2,
            stream="stdout",
            line=f'127.0.0.1 "GET /orders/{1000 + n} HTTP/1.1" \x1b[32m200\x1b[0m {512 + 37 * n}',
        )
        for n in range(6)
    ],
    _event(
        120,
        -0.5,
        Kind.OUTPUT,
        "web",
        pid=4102,
        wid=2,
        stream="stderr",
        line="\x1b[33mWARNING\x1b[0m slow query: 1.8s SELECT * FROM orders",
    ),
]

LOGS = {
    "web": [
        {
            "time": FROZEN - 3700,
            "pid": 4101,
            "wid": 1,
            "stream": "stderr",
            "line": "[INFO] Listening at: http://127.0.0.1:8000 (4101)",
            "partial": False,
        },
    ],
}

EXTENDED = {
    "worker": {
        str(pid): {
            "pid": pid,
            "cpu": cpu,
            "rss": rss,
            "mem": mem,
            "num_threads": threads,
            "children": [],
            "queue_depth": depth,
            "age": 100.0,
            "wid": wid,
        }
        for pid, wid, cpu, rss, mem, threads, depth in (
            (4201, 1, 12.0, 105_000_000, 1.3, 4, 12),
            (4233, 2, 27.5, 110_000_000, 1.4, 4, 3),
            (4203, 3, 2.2, 103_767_104, 1.3, 4, 0),
        )
    }
}

QUIT_EVENTS: list[Event] = [
    _event(202, -3.5, Kind.STATE, "flaky", old="flapping", new="stopping", reason="quit"),
    _event(203, -3.5, Kind.STOP, "flaky", reason="quit"),
    _event(204, -3.5, Kind.STATE, "flaky", old="stopping", new="stopped", reason="quit"),
    _event(205, -3.0, Kind.STATE, "worker", old="active", new="stopping", reason="quit"),
    *[
        _event(206 + n, -3.0, Kind.KILL, "worker", process_pid=pid, pid=pid, signum=15)
        for n, pid in enumerate((4201, 4233, 4203))
    ],
    _event(
        210,
        -2.6,
        Kind.REAP,
        "worker",
        process_pid=4233,
        pid=4233,
        wid=2,
        exit_code=-15,
        process_status=None,
    ),
]


class ScriptedStream:
    def __init__(self, events: list[Event]) -> None:
        self._queue: deque[Event] = deque(events)
        self._arrived: asyncio.Event | None = None

    def push(self, events: list[Event]) -> None:
        self._queue.extend(events)
        if self._arrived is not None:
            self._arrived.set()

    async def get(self) -> Event:
        while not self._queue:
            self._arrived = asyncio.Event()
            await self._arrived.wait()
        return self._queue.popleft()

    def drain(self, limit: int | None = None) -> list[Event]:
        events: list[Event] = []
        while self._queue and (limit is None or len(events) < limit):
            events.append(self._queue.popleft())
        return events

    def close(self) -> None:
        pass


class ScriptedClient(WireClient):
    """A CoreClient with canned replies; records the commands it was asked to run."""

    is_remote = False
    source = SOURCE

    def __init__(self) -> None:
        snapshot = Event(SNAPSHOT_SEQ, FROZEN - 10.0, Kind.SNAPSHOT, None, SNAPSHOT)
        self.stream = ScriptedStream([snapshot, *LIVE])
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.stats_enabled = False
        self.forced = False

    async def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.requests.append((command, arguments))
        if command == "hook_events":
            return {"ok": True, "events": [event.to_dict() for event in HISTORY]}
        if command == "logs":
            return {"ok": True, "lines": LOGS.get(arguments["watcher"], [])}
        if command == "stats" and arguments.get("extended"):
            return {
                "ok": True,
                "watchers": {arguments["watcher"]: EXTENDED.get(arguments["watcher"], {})},
            }
        if command == "status":
            return {"ok": True, "watchers": []}
        return {"ok": True}

    def subscribe(self) -> ScriptedStream:
        return self.stream

    def set_stats(self, enabled: bool) -> None:
        self.stats_enabled = enabled

    async def quit_instance(self) -> None:
        self.stream.push(QUIT_EVENTS)
        await asyncio.Event().wait()  # never finishes: the snapshot shows the progress view

    def force_quit(self) -> None:
        self.forced = True

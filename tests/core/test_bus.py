"""The bus (docs/events.md#delivery): snapshot first, bounded queues, droppable vs lifecycle, never
slowing the core."""

from __future__ import annotations

from typing import cast

import pytest

from tuiman.core.bus import Bus
from tuiman.core.events import Kind
from tuiman.core.payloads import ArbiterSnapshot


def make_bus() -> Bus:
    return Bus(lambda: cast(ArbiterSnapshot, {"watchers": ["a"]}))  # only what the tests read


def test_subscriber_starts_with_a_snapshot_and_sequence_is_monotonic() -> None:
    bus = make_bus()
    bus.publish(Kind.START, "a")
    sub = bus.subscribe()
    bus.publish(Kind.SPAWN, "a", process_pid=1, pid=1, wid=1)
    events = sub.drain()
    assert [e.kind for e in events] == ["snapshot", "spawn"]
    assert events[0].payload == {"watchers": ["a"]}
    assert events[0].seq < events[1].seq
    assert events[1].topic == "watcher.a.spawn"
    assert bus.make_event(Kind.STOP, None, {}).topic == "arbiter.stop"


def test_payload_cannot_shadow_event_fields() -> None:
    with pytest.raises(ValueError, match="shadow"):
        make_bus().publish(Kind.STATE, "a", seq=3)


def test_slow_subscriber_loses_oldest_output_first_and_is_told() -> None:
    bus = make_bus()
    sub = bus.subscribe(maxsize=5, snapshot=False)
    bus.publish(Kind.START, "a")
    for n in range(10):
        bus.publish(Kind.OUTPUT, "a", pid=1, wid=1, stream="stdout", line=str(n))
    events = sub.drain()
    assert events[0].kind == "dropped" and events[0].payload == {"count": 6}
    assert events[1].kind == "start"
    assert [e.payload["line"] for e in events[2:]] == ["6", "7", "8", "9"]
    assert sub.dropped_total == 6


def test_lifecycle_overflow_resyncs_with_a_fresh_snapshot() -> None:
    bus = make_bus()
    sub = bus.subscribe(maxsize=3, snapshot=False)
    for _ in range(4):
        bus.publish(Kind.STATE, "a", old="stopped", new="starting", reason="command")
    events = sub.drain()
    assert [e.kind for e in events] == ["resync", "snapshot"]
    assert sub.resyncs == 1


def test_closed_subscription_receives_nothing_and_other_subscribers_are_unaffected() -> None:
    bus = make_bus()
    slow = bus.subscribe(maxsize=2, snapshot=False)
    fast = bus.subscribe(maxsize=100, snapshot=False)
    slow.close()
    for n in range(50):
        bus.publish(Kind.OUTPUT, "a", pid=1, wid=1, stream="stdout", line=str(n))
    assert len(slow) == 0
    assert len(fast.drain()) == 50
    assert bus.subscriber_count == 1


async def test_get_waits_for_the_next_event_and_eof_after_close() -> None:
    import asyncio

    bus = make_bus()
    sub = bus.subscribe(snapshot=False)
    waiter = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    bus.publish(Kind.START, "a")
    assert (await asyncio.wait_for(waiter, 1)).kind == "start"
    sub.close()
    with pytest.raises(EOFError):
        await sub.get()


def test_secret_env_values_are_masked_in_snapshots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.core import make_config
    from tuiman.core.secrets import MASK, mask_text
    from tuiman.core.supervision.arbiter import Arbiter

    config = make_config(
        tmp_path,
        '[watchers.a]\ncmd = "sleep 1"\n'
        'env = { API_TOKEN = "tok-123456", DB_PASSWORD = "hunter22", MODE = "fast" }\n',
    )
    snapshot = Arbiter(config).snapshot()
    env = snapshot["watchers"][0]["env"]
    assert env == {"API_TOKEN": MASK, "DB_PASSWORD": MASK, "MODE": "fast"}
    assert "hunter22" not in str(snapshot) and "tok-123456" not in str(snapshot)
    assert mask_text("login with hunter22", {"DB_PASSWORD": "hunter22"}) == f"login with {MASK}"

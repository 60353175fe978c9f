"""Secrets under attack (docs/reliability.md#secrets-stay-masked): a secret's value inside another
variable (`DATABASE_URL` built from `${DB_PASSWORD}`) or inside the command line stays masked in
status and snapshots; a hook's custom event with a nested payload has its `password`/`token`
values and every secret value masked at any depth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import write_hook_module
from tests.support.waiting import wait_until
from tuiman.core.secrets import MASK
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

pytestmark = pytest.mark.timeout(60)

DB_PASSWORD = "s3cr3t-db-pass-77"
NESTED_PASSWORD = "nested-only-pass-31"  # in no environment: masked by its key alone
NESTED_TOKEN = "nested-only-token-92"

HOOKS = f"""
def nested_event(watcher, arbiter, hook_name, **kwargs):
    arbiter.publish(
        "deploy",
        watcher=watcher.name,
        db={{
            "password": {NESTED_PASSWORD!r},
            "hosts": [{{"name": "db1", "Api_Token": {NESTED_TOKEN!r}}}],
        }},
        urls=[{{"primary": watcher.env["DATABASE_URL"]}}],
        visible={{"region": "eu-west"}},
    )
    return True
"""


async def test_secret_values_are_masked_inside_other_values_and_nested_payloads(
    arbiter_factory: Any, tmp_path: Path, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_PASSWORD", DB_PASSWORD)  # tuiman's own environment
    module = write_hook_module(tmp_path, HOOKS)
    arbiter: Arbiter = arbiter_factory(
        f"""
[watchers.app]
cmd = ["sh", "-c", "echo connecting with {DB_PASSWORD}; exec sleep 300"]
env = {{ DATABASE_URL = "postgres://app:${{DB_PASSWORD}}@db/app", TEST_TAG = "{tag}" }}
graceful_timeout = 5
[watchers.app.hooks]
after_start = "{module}.nested_event"
"""
    )
    events = arbiter.bus.subscribe(maxsize=100_000)
    await arbiter.start()
    watcher = arbiter.get("app")
    published: list[dict[str, Any]] = []

    def deploy_seen() -> bool:
        published.extend(event.to_dict() for event in events.drain())
        return any(record["kind"] == "deploy" for record in published)

    await wait_until(deploy_seen)
    await wait_until(lambda: len(watcher.output.lines()) == 1)
    replies = [
        await execute(arbiter, {"command": "status"}),
        await execute(arbiter, {"command": "snapshot"}),
        await execute(arbiter, {"command": "logs", "watcher": "app"}),
    ]
    assert all(reply["ok"] for reply in replies), replies
    text = json.dumps([*published, *replies], ensure_ascii=False)
    for secret in (DB_PASSWORD, NESTED_PASSWORD, NESTED_TOKEN):
        assert secret not in text, f"leaks {secret!r}"
    env = replies[0]["watchers"][0]["env"]
    assert env["DATABASE_URL"] == f"postgres://app:{MASK}@db/app"
    assert f"connecting with {MASK};" in replies[0]["watchers"][0]["cmd"]
    deploy = next(record for record in published if record["kind"] == "deploy")
    assert deploy["db"] == {"password": MASK, "hosts": [{"name": "db1", "Api_Token": MASK}]}
    assert deploy["urls"] == [{"primary": f"postgres://app:{MASK}@db/app"}]
    assert deploy["visible"] == {"region": "eu-west"}

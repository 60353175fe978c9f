"""Secrets masking (docs/reliability.md#secrets-stay-masked): values of environment variables whose
names look secret (*TOKEN*, *SECRET*, *PASSWORD*, *KEY*, any case) never appear in snapshot events,
command replies (status, snapshot, logs, hook events), headless --json output or `tuiman ctl` output
— not even when a child prints them or a hook puts them in an error or a custom event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import TUIMAN, headless, write_hook_module
from tests.support.procs import tagged_pids
from tests.support.waiting import wait_until, wait_until_sync
from tuiman.core.events import Kind
from tuiman.core.secrets import MASK
from tuiman.core.supervision.arbiter import Arbiter
from tuiman.core.supervision.commands import execute

pytestmark = pytest.mark.timeout(60)

SECRETS = {
    "API_TOKEN": "tok-3f9a77c1e0",
    "DB_PASSWORD": "hunter2-correct-horse",
    "AWS_SECRET_ACCESS_KEY": "AKIA-very-secret-key",
    "private_key": "-----BEGIN-lowercase-name",
    "SSH_KEYFILE": "/home/me/.ssh/id_secret_path",
}
INHERITED = ("TUIMAN_TEST_CI_TOKEN", "inherited-ci-token-5521")
PUBLIC = ("LOG_LEVEL", "debug-level-visible")


def env_table(tag: str) -> str:
    items = {**SECRETS, PUBLIC[0]: PUBLIC[1], "TEST_TAG": tag}
    return ", ".join(f'{name} = "{value}"' for name, value in items.items())


def assert_no_secret(text: str, where: str) -> None:
    for value in (*SECRETS.values(), INHERITED[1]):
        assert value not in text, f"{where} leaks {value!r}"


HOOKS = """
import os

def leaky_failure(watcher, arbiter, hook_name, **kwargs):
    raise RuntimeError("login failed with " + watcher.env["API_TOKEN"])

def leaky_event(watcher, arbiter, hook_name, **kwargs):
    note = "password is " + watcher.env["DB_PASSWORD"]
    arbiter.publish("custom", watcher=watcher.name, note=note)
    return True
"""
# The child prints every secret it was given, on stdout and stderr.
PRINTER = (
    'echo "$API_TOKEN $DB_PASSWORD"; echo "$AWS_SECRET_ACCESS_KEY" >&2; '
    'echo "key=$private_key file=$SSH_KEYFILE ci=$TUIMAN_TEST_CI_TOKEN level=$LOG_LEVEL"; '
    "exec sleep 300"
)


def config_text(tag: str, module: str) -> str:
    return f"""
[env]
GLOBAL_API_KEY = "global-key-0042"
[watchers.app]
cmd = ["sh", "-c", {json.dumps(PRINTER)}]
env = {{ {env_table(tag)} }}
graceful_timeout = 5
[watchers.app.hooks]
after_start = "{module}.leaky_event"
before_stop = "{module}.leaky_failure"
"""


async def test_secrets_never_reach_events_or_command_replies(
    arbiter_factory: Any, tmp_path: Path, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(*INHERITED)
    SECRETS_PLUS = {**SECRETS, "GLOBAL_API_KEY": "global-key-0042"}
    module = write_hook_module(tmp_path, HOOKS)
    arbiter: Arbiter = arbiter_factory(config_text(tag, module))
    events = arbiter.bus.subscribe(maxsize=100_000)  # starts with a snapshot
    await arbiter.start()
    watcher = arbiter.get("app")
    await wait_until(lambda: len(watcher.output.lines()) == 3)
    await watcher.stop()
    await watcher.start()
    await wait_until(lambda: len(watcher.output.lines()) == 6)
    replies = [
        await execute(arbiter, {"command": "status"}),
        await execute(arbiter, {"command": "snapshot"}),
        await execute(arbiter, {"command": "logs", "watcher": "app"}),
        await execute(arbiter, {"command": "hook_events"}),
    ]
    assert all(reply["ok"] for reply in replies), replies
    published = events.drain()
    kinds = {event.kind for event in published}
    assert {Kind.SNAPSHOT, Kind.OUTPUT, Kind.HOOK_FAILURE, "custom"} <= kinds, kinds
    text = json.dumps([e.to_dict() for e in published] + replies, ensure_ascii=False)
    for value in SECRETS_PLUS.values():
        assert value not in text, f"leaks {value!r}"
    assert INHERITED[1] not in text
    # what is not secret stays visible, and the masked names are still listed
    assert PUBLIC[1] in text
    env = replies[0]["watchers"][0]["env"]
    assert env["API_TOKEN"] == MASK and env["private_key"] == MASK and env["LOG_LEVEL"] == PUBLIC[1]
    assert os.environ[INHERITED[0]] == INHERITED[1]  # the child really had it to print


def test_secrets_never_reach_headless_json_or_ctl(tmp_path: Path, tag: str) -> None:
    module = write_hook_module(tmp_path, HOOKS)
    config = tmp_path / "tuiman.toml"
    config.write_text(config_text(tag, module) + '[tuiman]\ncontrol_socket = "ctl.sock"\n')
    env = {**os.environ, INHERITED[0]: INHERITED[1], "NO_COLOR": "1"}
    with headless(config, tag=tag, json=True, env={INHERITED[0]: INHERITED[1]}) as run:
        run.wait_line(lambda line: "level=" in line)
        for args in (("status",), ("status", "--json"), ("logs", "app"), ("list",)):
            result = subprocess.run(
                [*TUIMAN, "ctl", "-c", str(config), *args],
                capture_output=True,
                text=True,
                timeout=30,
                env=env,
            )
            assert result.returncode == 0, result.stderr
            assert_no_secret(result.stdout + result.stderr, f"ctl {' '.join(args)}")
        run.send(signal.SIGTERM)
        assert run.wait(30) == 0
        records = [json.loads(line) for line in run.out]
        assert any(r["kind"] == "hook_failure" for r in records)
        assert any(r["kind"] == "output" and "level=" + PUBLIC[1] in r["line"] for r in records)
        assert_no_secret("\n".join(run.out + run.err), "headless --json")
    wait_until_sync(lambda: tagged_pids(tag) == [], timeout=5)


HOOK_SETS_A_SECRET = """
def set_token(watcher, arbiter, hook_name, **kwargs):
    watcher.env["SERVICE_TOKEN"] = "tok-from-a-hook-9921"
    watcher.env["REGION"] = "eu-west-visible"
    return True
"""


async def test_a_secret_a_hook_puts_in_the_env_is_masked_too(
    arbiter_factory: Any, tmp_path: Path
) -> None:
    module = write_hook_module(tmp_path, HOOK_SETS_A_SECRET)
    arbiter: Arbiter = arbiter_factory(
        f"""
        [watchers.app]
        cmd = ["sh", "-c", "echo token=$SERVICE_TOKEN region=$REGION; exec sleep 300"]
        [watchers.app.hooks]
        before_start = "{module}.set_token"
        """
    )
    events = arbiter.bus.subscribe(maxsize=10_000)
    await arbiter.start()
    watcher = arbiter.get("app")
    await wait_until(lambda: len(watcher.output.lines()) == 1)
    reply = await execute(arbiter, {"command": "logs", "watcher": "app"})
    text = json.dumps([e.to_dict() for e in events.drain()] + [reply], ensure_ascii=False)
    assert "tok-from-a-hook-9921" not in text
    assert f"token={MASK} region=eu-west-visible" in text  # the child did get it

"""Hook modules that misbehave at import (docs/reliability.md#hooks-cannot-break-tuimans-streams):
an endless loop, a thread that never ends, `os._exit`, a sleep during a config reload.

`tuiman check` must always answer, with a one-line error naming the key and the module, and a
running tuiman must still exit on SIGTERM whatever a reload's import is doing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.support import TUIMAN, headless, write_hook_module
from tests.support.waiting import wait_until_sync

pytestmark = pytest.mark.timeout(90)

HOOK_TABLE = 'hooks = {{ before_start = "{module}.hook" }}'


def config_with(tmp_path: Path, module: str, *, tag: str = "none") -> Path:
    config = tmp_path / "tuiman.toml"
    config.write_text(
        f"""
[tuiman]
hook_import_timeout = 1.0
[env]
TEST_TAG = "{tag}"
[watchers.w]
cmd = "sleep 300"
{HOOK_TABLE.format(module=module)}
"""
    )
    return config


def check(config: Path) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        [*TUIMAN, "check", "-c", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    assert time.monotonic() - started < 15
    return result


HOOK = "\ndef hook(watcher, arbiter, hook_name, **kwargs):\n    return True\n"


@pytest.mark.parametrize(
    ("top_level", "expected"),
    [
        ("while True:\n    pass\n", "still importing after 1s"),
        ("import os\nos._exit(0)\n", "it called os._exit(0) at import"),
        ("import time\ntime.sleep(3600)\n", "still importing after 1s"),
    ],
    ids=["endless-loop", "os-exit", "sleep"],
)
def test_check_reports_an_import_that_never_returns_or_exits(
    tmp_path: Path, top_level: str, expected: str
) -> None:
    module = write_hook_module(tmp_path, top_level + HOOK)
    result = check(config_with(tmp_path, module))
    assert result.returncode == 2, (result.stdout, result.stderr)
    [line] = result.stderr.splitlines()
    assert "watchers.w.hooks.before_start" in line
    assert f"cannot import {module}: {expected}" in line


def test_check_exits_despite_a_thread_started_at_import(tmp_path: Path) -> None:
    source = "import threading, time\nthreading.Thread(target=time.sleep, args=(3600,)).start()\n"
    module = write_hook_module(tmp_path, source + HOOK)
    result = check(config_with(tmp_path, module))
    assert result.returncode == 0, result.stderr
    assert "ok (1 watchers: w)" in result.stdout


def test_sigterm_ends_tuiman_while_a_reload_is_stuck_importing(tmp_path: Path, tag: str) -> None:
    good = write_hook_module(tmp_path, HOOK)
    marker = tmp_path / "importing"
    stuck = write_hook_module(
        tmp_path,
        f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(3600)\n" + HOOK,
    )
    config = config_with(tmp_path, good, tag=tag)
    text = config.read_text().replace("hook_import_timeout = 1.0", "hook_import_timeout = 60.0")
    config.write_text(text)
    with headless(config, tag=tag) as run:
        run.wait_line(lambda line: " w start" in line)
        config.write_text(text.replace(good, stuck))
        run.send(signal.SIGHUP)
        wait_until_sync(marker.exists, timeout=10)
        started = time.monotonic()
        run.send(signal.SIGTERM)
        code = run.wait(timeout=15)
        assert time.monotonic() - started < 10
        assert code == 0, run.err[-10:]
    assert not os.path.exists(f"/proc/{run.pid}")

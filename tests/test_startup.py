"""What tuiman's start-up loads and records (bench/startup.py measures how long it takes).

Module names, not timings: `python -X importtime` lists every module a real run imported.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

# Never on the headless path: the UI, and what only some configs need (watch patterns, the
# demo, notify readiness, psutil's stats).
NOT_HEADLESS = (
    "textual",
    "rich",
    "tuiman.ui",
    "tuiman.launch.session",
    "watchfiles",
    "anyio",
    "multiprocessing",
    "importlib.resources",
    "tempfile",
    "secrets",
    "psutil",
)
# Not even that for --version: no argument parser, no config model, no event loop.
NOT_VERSION = ("argparse", "dataclasses", "asyncio", "tuiman.core.config", "tuiman.launch")
# Imported on first use, never on the way to the first spawn: the control connection and the
# command table behind it (the first client), --run's readiness wait, the plugins and their
# stats, what hooks are handed.
AFTER_FIRST_SPAWN = (
    "tuiman.control.connection",
    "tuiman.core.supervision.commands",
    "tuiman.core.supervision.ready_check",
    "tuiman.core.supervision.plugin_statsd",
    "tuiman.core.supervision.plugin_watchdog",
    "tuiman.core.processes.stats",
    "tuiman.core.supervision.facade",
)


def imported(stderr: str) -> set[str]:
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.MULTILINE))


def loaded_any(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def run_once(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A headless tuiman whose one process exits at once, which stops it (--exit-on first)."""
    config = tmp_path / "tuiman.toml"
    config.write_text(
        '[watchers.once]\ncmd = ["sh", "-c", "echo trace=${TUIMAN_STARTUP_TRACE-unset}"]\n'
    )
    return subprocess.run(
        [
            sys.executable,
            *args,
            "-m",
            "tuiman",
            "--headless",
            "--exit-on",
            "first",
            "-c",
            str(config),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        start_new_session=True,
    )


def test_headless_run_imports_no_ui_and_nothing_unconfigured(tmp_path: Path) -> None:
    result = run_once(tmp_path, "-X", "importtime")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trace=unset" in result.stdout
    modules = imported(result.stderr)
    # The list is real: the core and the loop were imported and seen.
    assert {"asyncio", "tuiman.core.supervision.arbiter", "tuiman.headless"} <= modules
    assert loaded_any(modules, NOT_HEADLESS) == []


def test_what_the_first_spawn_does_not_need_is_not_imported_before_it(tmp_path: Path) -> None:
    # The trace's marks and -X importtime's lines share stderr, in the order they happened.
    result = run_once(tmp_path, "-X", "importtime", env={"TUIMAN_STARTUP_TRACE": "/dev/stderr"})
    assert result.returncode == 0, result.stderr[-2000:]
    mark = re.search(r"^[0-9.]+ to the first spawn$", result.stderr, re.MULTILINE)
    assert mark is not None, result.stderr[-2000:]
    modules = imported(result.stderr[: mark.start()])
    assert {"asyncio", "tuiman.core.supervision.arbiter", "tuiman.control.server"} <= modules
    assert all(importlib.util.find_spec(name) for name in AFTER_FIRST_SPAWN)  # still there
    assert loaded_any(modules, AFTER_FIRST_SPAWN) == []


def test_version_imports_almost_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tuiman", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == "tuiman " + version() + "\n"
    modules = imported(result.stderr)
    assert "tuiman.cli" in modules
    assert loaded_any(modules, NOT_VERSION) == []


def test_version_among_other_options_is_argparse_s(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tuiman", "--headless", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout == "tuiman " + version() + "\n"


def test_startup_trace_records_the_phases_in_order_and_stays_private(tmp_path: Path) -> None:
    trace = tmp_path / "startup.trace"
    result = run_once(tmp_path, env={"TUIMAN_STARTUP_TRACE": str(trace)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trace=unset" in result.stdout  # the child never saw the variable
    lines = [line.split(" ", 1) for line in trace.read_text().splitlines()]
    phases = [phase for _, phase in lines]
    assert phases[0] == "interpreter" and phases[-1] == "first Popen"
    for phase in ("watchdog", "config load", "event loop", "to the first spawn"):
        assert phase in phases
    stamps = [float(stamp) for stamp, _ in lines]
    assert stamps == sorted(stamps)


def test_no_trace_without_the_variable(tmp_path: Path) -> None:
    result = run_once(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tuiman.toml"]


def version() -> str:
    from tuiman import __version__

    return __version__

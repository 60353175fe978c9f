"""Circus' HttpObserver and ResourceWatcher plugins become liveness checks (docs/circus.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.core.test_circus_ini import TUIMAN, ini_errors, round_trip, write
from tuiman.core.circus.loader import load_circus_config
from tuiman.core.config.probe_model import AliveSpec, ProbeSpec

OBSERVED = """\
    [watcher:web]
    cmd = python -m http.server 8080

    [watcher:worker]
    cmd = python worker.py
    numprocesses = 2

    [plugin:http]
    use = circus.plugins.http_observer.HttpObserver
    check_url = http://127.0.0.1:8080/health
    loop_rate = 5
    timeout = 2.5
    restart_on_error = web

    [plugin:resources]
    use = circus.plugins.resource_watcher.ResourceWatcher
    watcher = worker
    loop_rate = 10
    max_cpu = 95
    max_mem = 512M
    max_count = 2
    check_delay = 5
    """


def test_observers_become_alive_checks_and_convert_to_the_same_config(tmp_path: Path) -> None:
    config = round_trip(tmp_path, OBSERVED)
    assert config.watcher("web").alive == AliveSpec(
        probe=ProbeSpec("http", "http://127.0.0.1:8080/health", interval=5.0, timeout=2.5),
        interval=5.0,
        failures=1,
    )
    assert config.watcher("worker").alive == AliveSpec(
        probe=None, interval=10.0, failures=3, max_memory=512 << 20, max_cpu=95.0
    )
    assert any("health_threshold" in warning for warning in config.warnings)
    assert any("check_delay" in warning for warning in config.warnings)


def test_convert_shows_the_alive_tables(tmp_path: Path) -> None:
    write(tmp_path / "circus.ini", OBSERVED)
    result = subprocess.run(
        [*TUIMAN, "convert", "circus.ini"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "[watchers.web.alive]" in result.stdout
    assert 'http = "http://127.0.0.1:8080/health"' in result.stdout
    assert "[watchers.worker.alive]" in result.stdout
    assert 'max_memory = "512M"' in result.stdout


def test_observer_mistakes_name_the_plugin_section(tmp_path: Path) -> None:
    errors = ini_errors(
        tmp_path,
        """\
        [watcher:web]
        cmd = app

        [plugin:r]
        use = circus.plugins.resource_watcher.ResourceWatcher
        watcher = nope
        min_cpu = 1
        max_count = many

        [plugin:r2]
        use = circus.plugins.resource_watcher.ResourceWatcher

        [plugin:h]
        use = circus.plugins.http_observer.HttpObserver
        restart_on_error = web
        loop_rate = 0
        check_urll = http://x/
        """,
    )
    assert errors == [
        'circus.ini: [plugin:r] max_count: expected an integer, got "many"',
        "circus.ini: [plugin:r] min_cpu: not supported: "
        "tuiman restarts on too much, never on too little",
        "circus.ini: [plugin:r2]: ResourceWatcher needs watcher = NAME",
        "circus.ini: [plugin:h] loop_rate: must be > 0, got 0",
        "circus.ini: [plugin:r]: no watcher named 'nope'",
    ]
    # Circus ignores options a plugin does not read: a warning (docs/circus.md).
    (tmp_path / "circus.ini").write_text(
        "[watcher:web]\ncmd = app\n\n[plugin:h]\n"
        "use = circus.plugins.http_observer.HttpObserver\nrestart_on_error = web\n"
        "check_urll = http://x/\n"
    )
    config = load_circus_config(tmp_path / "circus.ini", display_name="circus.ini", cwd=tmp_path)
    assert (
        "circus.ini: [plugin:h] check_urll: unknown option, ignored as Circus does "
        "(did you mean check_url?)"
    ) in config.warnings

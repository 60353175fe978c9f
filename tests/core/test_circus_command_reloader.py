"""Circus' CommandReloader plugin maps onto restart on change (docs/circus.md): the conversion,
its errors, and the same behaviour as the real Circus 0.19 when an executable is replaced."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.circusd import circus_bin
from tests.support.core import next_event
from tests.support.procs import kill_quietly
from tests.support.waiting import wait_until, wait_until_sync
from tuiman.core.circus.loader import convert_circus_config, load_circus_config
from tuiman.core.config.loader import ConfigError
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

PLUGIN = "use = circus.plugins.command_reloader.CommandReloader"


def program(tmp_path: Path) -> Path:
    """A copy of `sleep` the test can replace, behind a symlink as a release switch would be."""
    releases = tmp_path / "releases"
    releases.mkdir()
    shutil.copy("/bin/sleep", releases / "app-1")
    (tmp_path / "app").symlink_to(releases / "app-1")
    return tmp_path / "app"


def write_ini(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "circus.ini"
    path.write_text(textwrap.dedent(text))
    return path


def test_each_watcher_watches_its_executable(tmp_path: Path) -> None:
    app = program(tmp_path)
    ini = write_ini(
        tmp_path,
        f"""
        [watcher:web]
        cmd = ./app
        args = 300

        [watcher:tool]
        cmd = sh -c "sleep 300"

        [plugin:reload]
        {PLUGIN}
        loop_rate = 3
        """,
    )
    conversion = convert_circus_config(ini, cwd=tmp_path, environ={"PATH": "/usr/bin:/bin"})
    web, tool = conversion.config.watcher("web"), conversion.config.watcher("tool")
    assert web.watch is not None and tool.watch is not None
    assert web.watch.patterns == (str(app),)  # its symlink's target is followed at run time
    assert web.watch.debounce == 3
    sh = shutil.which("sh", path="/usr/bin:/bin")
    assert sh is not None and tool.watch.patterns[0] == sh
    assert f'watch = [\n    "{app}",' in conversion.toml_text
    assert "watch_debounce = 3" in conversion.toml_text


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("loop_rate = 0", "[plugin:reload] loop_rate: must be > 0, got 0"),
    ],
)
def test_bad_plugin_options_are_errors(tmp_path: Path, options: str, expected: str) -> None:
    program(tmp_path)
    ini = write_ini(
        tmp_path,
        f"[watcher:web]\ncmd = ./app\n\n[plugin:reload]\n{PLUGIN}\n{options}\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_circus_config(ini, cwd=tmp_path, environ={})
    assert f"{ini}: {expected}" in raised.value.errors


def test_unknown_plugin_options_are_warnings(tmp_path: Path) -> None:
    # Circus ignores options a plugin does not read (docs/circus.md#ignored-with-a-warning).
    program(tmp_path)
    ini = write_ini(
        tmp_path, f"[watcher:web]\ncmd = ./app\n\n[plugin:reload]\n{PLUGIN}\nloop_rat = 2\n"
    )
    config = load_circus_config(ini, cwd=tmp_path, environ={})
    assert (
        f"{ini}: [plugin:reload] loop_rat: unknown option, ignored as Circus does "
        "(did you mean loop_rate?)"
    ) in config.warnings


def test_an_executable_that_cannot_be_found_is_an_error(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, f"[watcher:web]\ncmd = ./nothing-here\n\n[plugin:reload]\n{PLUGIN}\n")
    with pytest.raises(ConfigError) as raised:
        load_circus_config(ini, cwd=tmp_path, environ={})
    assert raised.value.errors == [
        f"{ini}: [plugin:reload]: cannot find the executable of watcher web "
        "(cmd = './nothing-here') to watch it for changes"
    ]


def test_an_inactive_plugin_watches_nothing(tmp_path: Path) -> None:
    program(tmp_path)
    ini = write_ini(
        tmp_path, f"[watcher:web]\ncmd = ./app\n\n[plugin:reload]\n{PLUGIN}\nactive = false\n"
    )
    config = load_circus_config(ini, cwd=tmp_path, environ={})
    assert config.watcher("web").watch is None
    assert any("the plugin is off" in warning for warning in config.warnings)


def release(tmp_path: Path, number: int) -> None:
    """Deploy a new release: a new file, and the symlink switched to it atomically."""
    target = tmp_path / "releases" / f"app-{number}"
    shutil.copy("/bin/sleep", target)
    (tmp_path / "app.new").symlink_to(target)
    os.replace(tmp_path / "app.new", tmp_path / "app")


def replace_in_place(tmp_path: Path, number: int) -> None:
    """Overwrite the current release's file (a new file renamed over it)."""
    current = Path(os.path.realpath(tmp_path / "app"))
    shutil.copy("/bin/sleep", current.with_name(f"tmp-{number}"))
    os.replace(current.with_name(f"tmp-{number}"), current)


COMPARED_INI = f"""
[circus]
endpoint = ipc://{{dir}}/c.sock
pubsub_endpoint = ipc://{{dir}}/p.sock
stats_endpoint = ipc://{{dir}}/s.sock

[watcher:app]
cmd = {{dir}}/app
args = 300
graceful_timeout = 2

[plugin:reload]
{PLUGIN}
loop_rate = 1
"""


def test_circus_restarts_on_a_new_release_and_a_replaced_file(tmp_path: Path) -> None:
    """The behaviour tuiman copies, shown on the real Circus."""
    program(tmp_path)
    numbers = itertools.count(2)
    ini = write_ini(tmp_path, COMPARED_INI.format(dir=tmp_path))
    circusd = subprocess.Popen(
        [str(circus_bin() / "circusd"), str(ini)],
        cwd=tmp_path,
        process_group=0,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def app_pid() -> str:
        circusctl = [str(circus_bin() / "circusctl"), "--endpoint", f"ipc://{tmp_path}/c.sock"]
        result = subprocess.run(
            [*circusctl, "--timeout", "5", "list", "app"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    def restarted_by(change: Callable[[], None], before: str) -> str:
        """Make the change until the pid changes: the plugin only notices a change after its
        first look at the file (one loop_rate after it started), which nothing announces."""
        for _attempt in range(10):
            change()
            try:
                return wait_until_sync(lambda: _new_pid(app_pid(), before), 3)
            except AssertionError:
                continue
        raise AssertionError("Circus never restarted the watcher")

    try:
        first = wait_until_sync(app_pid, timeout=30)
        second = restarted_by(lambda: replace_in_place(tmp_path, next(numbers)), first)
        third = restarted_by(lambda: release(tmp_path, next(numbers)), second)
        fourth = restarted_by(lambda: replace_in_place(tmp_path, next(numbers)), third)
        assert len({first, second, third, fourth}) == 4
    finally:
        os.killpg(circusd.pid, signal.SIGTERM)
        try:
            circusd.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(circusd.pid, signal.SIGKILL)
            circusd.wait()


def _new_pid(pid: str, before: str) -> str:
    return pid if pid and pid != before else ""


async def test_tuiman_restarts_on_a_new_release_and_a_replaced_file(tmp_path: Path) -> None:
    program(tmp_path)
    ini = write_ini(tmp_path, COMPARED_INI.format(dir=tmp_path))
    arbiter = Arbiter(load_circus_config(ini, cwd=tmp_path))
    arbiter.bind()
    events = arbiter.bus.subscribe(snapshot=False, name="test")
    try:
        await arbiter.start()
        await wait_until(lambda: arbiter.file_watch.watching("app"))
        first = set(arbiter.get("app").processes)
        replace_in_place(tmp_path, 2)
        changed = await next_event(events, Kind.FILES_CHANGED, "app")
        assert changed.payload["paths"] == ["releases/app-1"]  # relative to the config's directory
        assert changed.payload["restart"] is True
        await wait_until(
            lambda: (
                arbiter.get("app").state == WatcherState.ACTIVE
                and set(arbiter.get("app").processes) - first
            )
        )
        seen = first | set(arbiter.get("app").processes)
        release(tmp_path, 3)
        changed = await next_event(events, Kind.FILES_CHANGED, "app")
        assert changed.payload["paths"] == ["app"]
        await wait_until(lambda: set(arbiter.get("app").processes) - seen)
        seen |= set(arbiter.get("app").processes)
        # The new release's file is watched now: replacing it restarts again, as in Circus.
        await wait_until(lambda: not arbiter.get("app").commands_pending)
        replace_in_place(tmp_path, 4)
        changed = await next_event(events, Kind.FILES_CHANGED, "app")
        assert changed.payload["paths"] == ["releases/app-3"]
        await wait_until(lambda: set(arbiter.get("app").processes) - seen)
    finally:
        pids = [pid for watcher in arbiter.watchers.values() for pid in watcher.processes]
        arbiter.force()
        await arbiter.quit()
        for pid in pids:
            kill_quietly(pid)

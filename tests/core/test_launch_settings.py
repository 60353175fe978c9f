"""virtualenv, copy_path, umask, send_hup and the environment checked at start
(docs/configuration.md#environment-problems): seen from inside real children."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.circusd import circus_bin
from tests.support.core import ArbiterFactory, make_config, next_event
from tests.support.waiting import wait_until
from tuiman.core.config.environment import load_virtualenv
from tuiman.core.events import Kind
from tuiman.core.states import WatcherState

PY = sys.executable
VERSION = "{}.{}".format(*sys.version_info[:2])

REPORT = """
import json, os, sys
mask = os.umask(0)
json.dump({
    'path': os.environ.get('PATH'),
    'pythonpath': os.environ.get('PYTHONPATH'),
    'umask': mask,
    'cwd': os.getcwd(),
}, open(sys.argv[1], 'w'))
"""


def fake_virtualenv(root: Path, pth_lines: list[str]) -> Path:
    """A virtualenv's layout: bin/, lib/pythonX.Y/site-packages with one .pth file."""
    site = root / "lib" / f"python{VERSION}" / "site-packages"
    site.mkdir(parents=True)
    (root / "bin").mkdir()
    (site / "extra.pth").write_text("".join(f"{line}\n" for line in pth_lines))
    return site


def circus_load_virtualenv(env: dict[str, str], virtualenv: Path) -> dict[str, str]:
    """What Circus 0.19's own load_virtualenv makes of `env`, run by Circus' interpreter."""
    python = circus_bin() / "python"
    script = (
        "import json, sys\n"
        "from circus.util import load_virtualenv\n"
        "class W: pass\n"
        "w = W(); w.copy_env = True; w.env = json.loads(sys.argv[1]); w.virtualenv = sys.argv[2]\n"
        f"load_virtualenv(w, py_ver={VERSION!r})\n"
        "print(json.dumps(w.env))\n"
    )
    result = subprocess.run(
        [python, "-c", script, json.dumps(env), str(virtualenv)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize(
    ("pth_lines", "python_path"),
    [
        (["../../../../pkgs/one", "# a comment", "import site", "missing"], None),
        (["../../../../pkgs/one"], "/opt/lib"),
        ([], "/opt/lib"),
        ([], None),
        ([""], "/opt/lib"),  # a blank line names the site directory: Circus drops the packages
    ],
)
def test_virtualenv_environment_is_circus_own(
    tmp_path: Path, pth_lines: list[str], python_path: str | None
) -> None:
    (tmp_path / "pkgs" / "one").mkdir(parents=True)
    venv = tmp_path / "venv"
    fake_virtualenv(venv, pth_lines)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root"}
    if python_path is not None:
        env["PYTHONPATH"] = python_path
    ours = dict(env)
    load_virtualenv(ours, str(venv), VERSION)
    assert ours == circus_load_virtualenv(env, venv)


async def test_children_get_virtualenv_copy_path_and_umask(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    site = fake_virtualenv(tmp_path / "venv", [])
    (tmp_path / "report.py").write_text(REPORT)
    arbiter = arbiter_factory(
        f"""
        [tuiman]
        umask = 0o077
        [watchers.venv]
        cmd = [{PY!r}, "report.py", "venv.json"]
        virtualenv = "venv"
        umask = "027"
        respawn = false
        env = {{ PATH = "/usr/bin:/bin", PYTHONPATH = "/opt/lib" }}
        [watchers.copied]
        cmd = [{PY!r}, "report.py", "copied.json"]
        copy_path = true
        respawn = false
        env = {{ PYTHONPATH = "/set" }}
        [watchers.own]
        cmd = [{PY!r}, "report.py", "own.json"]
        copy_path = true
        respawn = false
        """
    )
    await arbiter.start()
    reports = {name: tmp_path / f"{name}.json" for name in ("venv", "copied", "own")}
    await wait_until(
        lambda: all(path.exists() and path.stat().st_size for path in reports.values())
    )
    venv = json.loads(reports["venv"].read_text())
    assert venv["path"] == f"{tmp_path / 'venv' / 'bin'}:/usr/bin:/bin"
    # What hooks, `tuiman ctl status` and the UI show is that environment too.
    assert arbiter.get("venv").base_env["PATH"] == venv["path"]
    assert arbiter.get("venv").snapshot()["env"]["PYTHONPATH"] == venv["pythonpath"]
    assert venv["pythonpath"] == f"/opt/lib:{site}"
    assert venv["umask"] == 0o027
    copied = json.loads(reports["copied"].read_text())
    assert copied["pythonpath"] == "/set"  # as in Circus, a PYTHONPATH already set wins
    assert copied["umask"] == 0o077  # [tuiman] umask, as no umask of its own
    own = json.loads(reports["own"].read_text())
    # tuiman's sys.path, unless tuiman's own environment (copied) has a PYTHONPATH
    assert own["pythonpath"] == os.environ.get("PYTHONPATH", os.pathsep.join(sys.path))


async def test_a_missing_environment_fails_that_watcher_only(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    arbiter = arbiter_factory(
        f"""
        [watchers.ok]
        cmd = [{PY!r}, "-c", "import time; time.sleep(60)"]
        [watchers.nodir]
        cmd = "sleep 60"
        working_dir = "gone"
        [watchers.novenv]
        cmd = "sleep 60"
        virtualenv = "no-venv"
        [watchers.noprogram]
        cmd = "./not-here --flag"
        [watchers.nouser]
        cmd = "sleep 60"
        uid = "no-such-user-tuiman"
        """
    )
    subscription = arbiter.bus.subscribe(snapshot=False)
    await arbiter.start()
    failed = {}
    for _ in range(4):
        event = await next_event(subscription, Kind.FAILED)
        assert event.watcher is not None
        failed[event.watcher] = (event.payload["reason"], event.payload["detail"])
    assert failed == {
        "nodir": (
            "environment",
            f"working_dir: directory {tmp_path / 'gone'} does not exist",
        ),
        "novenv": (
            "environment",
            f"virtualenv: {tmp_path}/no-venv/lib/python{VERSION}/site-packages,"
            f"{tmp_path}/no-venv/lib/pypy{VERSION}/site-packages does not exist",
        ),
        "noprogram": ("environment", "cmd: program ./not-here does not exist"),
        "nouser": ("environment", 'uid: unknown user "no-such-user-tuiman"'),
    }
    assert arbiter.get("ok").state == WatcherState.ACTIVE
    assert len(arbiter.get("ok").processes) == 1
    for name in failed:
        assert arbiter.get(name).state == WatcherState.FAILED
        assert not arbiter.get(name).processes
    assert sorted(arbiter.failures) == sorted(
        f"{name}: {detail}" for name, (_, detail) in failed.items()
    )
    # Created afterwards: the next start finds it.
    (tmp_path / "gone").mkdir()
    result = await arbiter.get("nodir").start()
    assert result.ok
    assert arbiter.get("nodir").state == WatcherState.ACTIVE


HUP_COUNTER = """
import os, signal, sys, time
count = 0
def on_hup(signum, frame):
    global count
    count += 1
    print(f"hup {count}", flush=True)
signal.signal(signal.SIGHUP, on_hup)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


async def test_send_hup_reload_signals_instead_of_replacing(
    arbiter_factory: ArbiterFactory, tmp_path: Path
) -> None:
    (tmp_path / "hup.py").write_text(HUP_COUNTER)
    arbiter = arbiter_factory(
        f"""
        [watchers.web]
        cmd = [{PY!r}, "hup.py"]
        numprocesses = 2
        send_hup = true
        """
    )
    await arbiter.start()
    web = arbiter.get("web")
    await wait_until(lambda: sum(line.text == "ready" for line in web.output.lines()) == 2)
    pids = sorted(web.processes)
    subscription = arbiter.bus.subscribe(snapshot=False)
    assert (await web.reload()).ok
    await next_event(subscription, Kind.RELOAD, "web")
    signalled = {(await next_event(subscription, Kind.SIGNAL, "web")).payload["pid"] for _ in pids}
    assert signalled == set(pids)
    assert all(
        event.payload["signum"] == signal.SIGHUP
        for event in subscription.drain()
        if event.kind == Kind.SIGNAL
    )
    await wait_until(lambda: sum(line.text == "hup 1" for line in web.output.lines()) == 2)
    assert sorted(web.processes) == pids  # the same processes, reloaded in place
    assert web.state == WatcherState.ACTIVE


def test_virtualenv_and_copy_path_need_copy_env(tmp_path: Path) -> None:
    from tuiman.core.config.loader import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_config(
            tmp_path,
            """
            [watchers.web]
            cmd = "x"
            copy_env = false
            virtualenv = "venv"
            copy_path = true
            umask = "999"
            """,
        )
    assert [error.removeprefix(f"{tmp_path}/") for error in raised.value.errors] == [
        "tuiman.toml: watchers.web.virtualenv: needs copy_env = true (as in Circus)",
        "tuiman.toml: watchers.web.copy_path: needs copy_env = true (as in Circus)",
        'tuiman.toml: watchers.web.umask: expected an octal umask such as 0o022 or "022", '
        'got string "999"',
    ]


def test_a_program_missing_without_path_names_the_default_path(tmp_path: Path) -> None:
    from tuiman.core.config.environment import environment_problems

    config = make_config(
        tmp_path,
        """
        [watchers.bare]
        cmd = "no-such-tuiman-program"
        copy_env = false
        [watchers.pathed]
        cmd = "no-such-tuiman-program"
        copy_env = false
        env = { PATH = "/usr/bin" }
        [watchers.found]
        cmd = "sh -c true"
        copy_env = false
        """,
    )
    assert environment_problems(config.watcher("bare")) == [
        f"cmd: program no-such-tuiman-program not found on the default path {os.defpath} "
        "(the watcher's environment has no PATH: set copy_env = true, or PATH in its env)"
    ]
    assert environment_problems(config.watcher("pathed")) == [
        "cmd: program no-such-tuiman-program not found on the watcher's PATH"
    ]
    assert environment_problems(config.watcher("found")) == []

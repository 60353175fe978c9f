"""The same Circus INI under real circusd (0.19) and under tuiman: what the children get —
argv, environment, working directory, umask — is the same (docs/circus.md).

Each child writes what it sees to OUTDIR/NAME-WID.json; each supervisor gets its own OUTDIR
through its environment (`$(circus.env.OUTDIR)`), which the comparison maps back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.support.circusd import circus_bin
from tests.support.procs import kill_quietly
from tests.support.waiting import wait_until_sync

PY = sys.executable
VERSION = "{}.{}".format(*sys.version_info[:2])

REPORT = """\
import json, os, sys
mask = os.umask(0)
out, name, wid = sys.argv[1], sys.argv[2], sys.argv[3]
json.dump(
    {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd(), "umask": mask},
    open(os.path.join(out, f"{name}-{wid}.json.tmp"), "w"),
)
os.rename(os.path.join(out, f"{name}-{wid}.json.tmp"), os.path.join(out, f"{name}-{wid}.json"))
"""

# Circus' own plumbing points at files of the test, not at TCP ports other tests may hold.
PLUMBING = """\
[circus]
endpoint = ipc://{tmp}/endpoint
pubsub_endpoint = ipc://{tmp}/pubsub
stats_endpoint = ipc://{tmp}/stats
check_delay = 1
umask = 027
"""

CONFIG = """\
[env]
GLOBAL = global-$HOME

[watcher:venv]
cmd = {py} report.py $(circus.env.OUTDIR) venv $(circus.wid)
numprocesses = 2
copy_env = true
virtualenv = venv
respawn = false
user_typo = ignored

[watcher:plain]
cmd = {py} report.py
args = $(circus.env.OUTDIR) plain $(circus.wid) $(circus.numprocesses) $(circus.env.GLOBAL)
working_dir = work
env = A=1, B=$GLOBAL
respawn = false
send_hup = true

[env:plain]
PYTHONPATH = /opt/lib
"""

EXPECTED = {"venv-1", "venv-2", "plain-1"}
# tuiman's own variables (how it finds a watcher's escapees): the only difference allowed.
TUIMAN_ONLY = {"TUIMAN_INSTANCE", "TUIMAN_WATCHER"}


def prepare(tmp_path: Path) -> Path:
    (tmp_path / "report.py").write_text(REPORT)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "report.py").write_text(REPORT)
    site = tmp_path / "venv" / "lib" / f"python{VERSION}" / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "venv" / "bin").mkdir()
    (tmp_path / "pkgs").mkdir()
    (site / "local.pth").write_text("../../../../pkgs\nimport os\n")
    config = tmp_path / "circus.ini"
    config.write_text(
        textwrap.dedent(PLUMBING).format(tmp=tmp_path) + textwrap.dedent(CONFIG).format(py=PY)
    )
    return config


def reports(out: Path) -> dict[str, dict[str, Any]]:
    """What each child saw; its OUTDIR, and the directory both supervisors were started in,
    replaced (Circus passes a relative virtualenv on as written, tuiman makes it absolute)."""
    found = {}
    for path in out.glob("*.json"):
        text = path.read_text().replace(str(out), "OUTDIR")
        report = json.loads(text)
        for name in ("PATH", "PYTHONPATH"):
            if name in report["env"]:
                report["env"][name] = report["env"][name].replace(f"{out.parent}/", "")
        found[path.stem] = report
    return found


def run_circusd(config: Path, out: Path, env: dict[str, str]) -> None:
    circusd = subprocess.Popen(
        [str(circus_bin() / "circusd"), str(config)],
        cwd=config.parent,
        env={**env, "OUTDIR": str(out)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until_sync(
            lambda: {path.stem for path in out.glob("*.json")} >= EXPECTED or circusd.poll(),
            timeout=60,
        )
        assert circusd.poll() is None, circusd.stderr.read() if circusd.stderr else ""
    finally:
        circusd.send_signal(signal.SIGTERM)
        try:
            circusd.wait(30)
        finally:
            kill_quietly(circusd.pid)
            if circusd.stderr is not None:
                circusd.stderr.close()


def test_children_get_what_circus_gives_them(tmp_path: Path) -> None:
    config = prepare(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "COV_")) and key != "PYTHONPATH"
    }
    env["NO_COLOR"] = "1"
    circus_out, tuiman_out = tmp_path / "by-circus", tmp_path / "by-tuiman"
    circus_out.mkdir()
    tuiman_out.mkdir()
    run_circusd(config, circus_out, env)
    result = subprocess.run(
        [PY, "-m", "tuiman", "--headless", "-c", str(config)],
        cwd=tmp_path,
        env={**env, "OUTDIR": str(tuiman_out)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    circus, tuiman = reports(circus_out), reports(tuiman_out)
    assert set(circus) == set(tuiman) == EXPECTED
    # Circus leaks an env section's name into its processes as __name__ ([env] for copy_env
    # watchers, [env:NAME] for the others): a Circus bug that tuiman does not copy.
    assert circus["plain-1"]["env"].pop("__name__") == "env:plain"
    assert circus["venv-1"]["env"].pop("__name__") == circus["venv-2"]["env"].pop("__name__")
    for name in EXPECTED:
        for report in (circus[name], tuiman[name]):
            report["env"] = {k: v for k, v in report["env"].items() if k not in TUIMAN_ONLY}
        differing = {
            key: (circus[name]["env"].get(key), tuiman[name]["env"].get(key))
            for key in circus[name]["env"].keys() | tuiman[name]["env"].keys()
            if circus[name]["env"].get(key) != tuiman[name]["env"].get(key)
        }
        assert differing == {}, name
        assert tuiman[name] == circus[name], name
    # And what they got is what the config says, not two equal mistakes:
    plain, venv = tuiman["plain-1"], tuiman["venv-1"]
    # $(circus.env.X) in a command takes the value as written in the file
    assert plain["argv"] == ["OUTDIR", "plain", "1", "1", "global-$HOME"]
    assert plain["cwd"] == str(tmp_path / "work")
    # the watcher's `env =` option is ignored, as Circus does
    plain["env"].pop("LC_CTYPE", None)  # Python sets it in itself
    assert plain["env"] == {"GLOBAL": f"global-{os.environ['HOME']}", "PYTHONPATH": "/opt/lib"}
    assert plain["umask"] == venv["umask"] == 0o027
    assert venv["env"]["PATH"].startswith("venv/bin:")
    assert venv["env"]["PYTHONPATH"] == f"pkgs:venv/lib/python{VERSION}/site-packages"
    assert venv["cwd"] == str(tmp_path)


def test_docs_name_every_option_circus_reads() -> None:
    """docs/circus.md says what tuiman does with each option of Circus' Watcher, [circus]
    section, socket and plugin; the lists come from the installed Circus itself."""
    script = textwrap.dedent(
        """\
        import inspect, json, re
        import circus.config, circus.plugins, circus.sockets, circus.watcher
        watcher = [
            name for name in inspect.signature(circus.watcher.Watcher.__init__).parameters
            if name not in ("self", "name", "options", "loop", "prereload_fn", "stdout_stream",
                            "stderr_stream", "hooks", "rlimits")
        ]
        circus_options = re.findall(r"dget\\('circus', '(\\w+)'", inspect.getsource(circus.config))
        socket = re.findall(r"config.get\\('(\\w+)'", inspect.getsource(circus.sockets))
        import pkgutil, importlib
        plugins = []
        for module in pkgutil.iter_modules(circus.plugins.__path__):
            try:
                loaded = importlib.import_module("circus.plugins." + module.name)
            except ImportError:  # redis_observer needs redis
                plugins.append(module.name)
                continue
            plugins += [
                name for name, value in vars(loaded).items()
                if inspect.isclass(value) and value.__module__ == loaded.__name__
                and issubclass(value, circus.plugins.CircusPlugin)
                and not name.startswith("Base")  # abstract: not usable in a config
            ]
        print(json.dumps({"watcher": watcher, "circus": circus_options, "socket": socket,
                          "plugins": plugins}))
        """
    )
    result = subprocess.run(
        [str(circus_bin() / "python"), "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    options = json.loads(result.stdout)
    docs = (Path(__file__).parents[1] / "docs" / "circus.md").read_text()
    assert len(options["watcher"]) > 30 and len(options["plugins"]) >= 7
    missing = sorted(
        f"{kind}: {name}"
        for kind, names in options.items()
        for name in names
        if (f"`{name}`" not in docs if kind != "plugins" else f".{name}" not in docs)
    )
    assert missing == []


HUP_CHILD = """\
import os, signal, sys, time
def log(text):
    with open(sys.argv[1], "a") as out:
        out.write(text + "\\n")
signal.signal(signal.SIGHUP, lambda *_: log(f"hup {os.getpid()}"))
log(f"start {os.getpid()}")
while True:
    time.sleep(1)
"""


def lines_of(path: Path, word: str) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith(word)]


def reload_by_hup(supervisor: list[str], reload: list[str], config: Path, log: Path) -> None:
    """Start `supervisor`, reload the watcher once both processes run, and check that the
    same two processes got one SIGHUP each and nothing was spawned."""
    process = subprocess.Popen(
        supervisor,
        cwd=config.parent,
        env={**os.environ, "NO_COLOR": "1", "LOG": str(log)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_sync(lambda: len(lines_of(log, "start")) == 2, timeout=60)
        subprocess.run(reload, cwd=config.parent, check=True, timeout=60, capture_output=True)
        wait_until_sync(lambda: len(lines_of(log, "hup")) == 2, timeout=60)
        assert sorted(lines_of(log, "hup")) == sorted(lines_of(log, "start"))
        assert len(lines_of(log, "start")) == 2  # reloaded in place: nothing new spawned
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        finally:
            kill_quietly(process.pid)
            for pid in lines_of(log, "start"):
                kill_quietly(pid)


def test_send_hup_reload_is_circus_own(tmp_path: Path) -> None:
    (tmp_path / "hup.py").write_text(HUP_CHILD)
    config = tmp_path / "circus.ini"
    # $(circus.env.LOG): from each supervisor's own environment, at load time
    config.write_text(
        textwrap.dedent(PLUMBING).format(tmp=tmp_path)
        + f"[watcher:web]\ncmd = {PY} hup.py $(circus.env.LOG)\nnumprocesses = 2\n"
        + "send_hup = true\n"
    )
    reload_by_hup(
        [str(circus_bin() / "circusd"), str(config)],
        [str(circus_bin() / "circusctl"), f"--endpoint=ipc://{tmp_path}/endpoint", "reload", "web"],
        config,
        tmp_path / "circus.log",
    )
    reload_by_hup(
        [PY, "-m", "tuiman", "--headless", "-c", str(config)],
        [PY, "-m", "tuiman", "ctl", "-c", str(config), "reload", "web"],
        config,
        tmp_path / "tuiman.log",
    )

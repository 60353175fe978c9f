"""Config reload (docs/supervision.md#commands): only what changed is touched; an invalid file
changes nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.procs import alive
from tuiman.core.configfile import load_config
from tuiman.core.states import WatcherState
from tuiman.core.supervision.arbiter import Arbiter

BASE = """
[watchers.keep]
cmd = "sleep 300"
graceful_timeout = 2
[watchers.scale]
cmd = "sleep 300"
numprocesses = 1
graceful_timeout = 2
[watchers.change]
cmd = "sleep 300"
graceful_timeout = 2
[watchers.gone]
cmd = "sleep 300"
graceful_timeout = 2
"""

NEW = """
[watchers.keep]
cmd = "sleep 300"
graceful_timeout = 2
[watchers.scale]
cmd = "sleep 300"
numprocesses = 3
graceful_timeout = 2
[watchers.change]
cmd = "sleep 301"
graceful_timeout = 2
[watchers.fresh]
cmd = "sleep 300"
graceful_timeout = 2
"""


def pids(arbiter: Arbiter, name: str) -> set[int]:
    return {pid for pid, p in arbiter.get(name).processes.items() if p.alive}


async def test_reload_applies_only_the_diff(tmp_path: Path) -> None:
    path = tmp_path / "tuiman.toml"
    path.write_text(textwrap.dedent(BASE))
    arbiter = Arbiter(load_config(str(path)))
    arbiter.bind()
    try:
        await arbiter.start()
        keep, scale, change, gone = (pids(arbiter, n) for n in ("keep", "scale", "change", "gone"))
        path.write_text(textwrap.dedent(NEW))
        applied, changes = await arbiter.reload_config()
        assert applied, changes
        assert sorted(changes) == sorted(
            [
                "removed gone",
                "added fresh",
                "scale: numprocesses 3",
                "change: restarted with the new config",
            ]
        )
        assert pids(arbiter, "keep") == keep
        assert scale <= pids(arbiter, "scale") and len(pids(arbiter, "scale")) == 3
        assert not pids(arbiter, "change") & change and len(pids(arbiter, "change")) == 1
        assert "gone" not in arbiter.watchers and not any(alive(p) for p in gone)
        assert arbiter.get("fresh").state == WatcherState.ACTIVE

        path.write_text("[watchers.keep]\ncmd = 'sleep 300'\nbogus = 1\n")
        applied, errors = await arbiter.reload_config()
        assert not applied
        assert errors == [f"{path}: watchers.keep.bogus: unknown key"]
        assert set(arbiter.watchers) == {"keep", "scale", "change", "fresh"}
        assert pids(arbiter, "keep") == keep
    finally:
        arbiter.force()
        await arbiter.quit()


async def test_reload_reads_the_procfile_with_the_same_options_again(tmp_path: Path) -> None:
    """-m, -p and -e given at start apply to a reload too; the env file is read again."""
    from tests.support.core import stop_arbiter
    from tuiman.core.config.load_options import LoadOptions

    (tmp_path / "Procfile").write_text("web: exec sleep 300\nworker: exec sleep 300\n")
    (tmp_path / "app.env").write_text("LEVEL=info\n")
    options = LoadOptions(env_files=("app.env",), formation=(("web", 2),), port=7000)
    arbiter = Arbiter(load_config("Procfile", cwd=tmp_path, options=options))
    arbiter.bind()
    try:
        (tmp_path / "app.env").write_text("LEVEL=debug\n")
        applied, _ = await arbiter.reload_config()
        assert applied
        web = arbiter.config.watcher("web")
        assert (web.numprocesses, web.port, web.env["LEVEL"]) == (2, 7000, "debug")
    finally:
        await stop_arbiter(arbiter)


async def test_a_reload_reports_the_files_warnings(tmp_path: Path) -> None:
    path = tmp_path / "circus.ini"
    path.write_text("[watcher:web]\ncmd = sleep 300\nautostart = false\n")
    arbiter = Arbiter(load_config(path))
    await arbiter.start()
    try:
        path.write_text("[watcher:web]\ncmd = sleep 300\nautostart = false\nworkding_dir = /\n")
        applied, lines = await arbiter.reload_config()
        assert applied
        assert lines[-1] == (
            f"warning: {path}: [watcher:web] workding_dir: unknown option, ignored as Circus "
            "does (did you mean working_dir?)"
        )
        assert arbiter.snapshot()["warnings"] == [lines[-1].removeprefix("warning: ")]
    finally:
        await arbiter.quit()

"""A Circus config whose environment is partly missing, as a user runs it: `tuiman check`
lists every problem and exits 2; headless runs what can run and exits 1; unknown options are
warnings everywhere (docs/configuration.md#environment-problems, docs/circus.md)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from tests.test_cli_headless import run_tuiman

VERSION = "{}.{}".format(*sys.version_info[:2])
CONFIG = """\
[watcher:job]
cmd = sh -c "echo job ran"
respawn = false
workding_dir = /tmp

[watcher:nodir]
cmd = sleep 60
working_dir = gone

[watcher:novenv]
cmd = sleep 60
copy_env = true
virtualenv = no-venv
"""

TYPO_WARNING = (
    "circus.ini: [watcher:job] workding_dir: unknown option, ignored as Circus does "
    "(did you mean working_dir?)"
)


def test_check_lists_each_environment_problem_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "circus.ini").write_text(CONFIG)
    result = run_tuiman("check", "-c", "circus.ini", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {TYPO_WARNING}",
        f"circus.ini: [watcher:nodir] working_dir: directory {tmp_path}/gone does not exist",
        f"circus.ini: [watcher:novenv] virtualenv: {tmp_path}/no-venv/lib/python{VERSION}/"
        f"site-packages,{tmp_path}/no-venv/lib/pypy{VERSION}/site-packages does not exist",
    ]


def test_headless_runs_the_others_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "circus.ini").write_text(textwrap.dedent(CONFIG))
    result = run_tuiman("--headless", "-c", "circus.ini", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"tuiman: warning: {TYPO_WARNING}" in result.stderr.splitlines()
    assert "job.1 | job ran" in result.stdout
    assert f"nodir failed: working_dir: directory {tmp_path}/gone does not exist" in result.stdout
    assert "novenv state stopped → failed (environment)" in result.stdout

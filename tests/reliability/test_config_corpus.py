"""Broken configs (docs/configuration.md#validation, docs/circus.md,
docs/reliability.md#bad-input-never-crashes-tuiman): every TOML and Circus INI file of `corpus/`
through `tuiman check -c` and `tuiman --headless -c` as a user runs them: exit 2, one line per error
naming the file, no traceback, nothing started.

Each corpus file starts with `# expect: TEXT` lines, one per error the file must produce (in
any order); the hook modules the corpus refers to live beside it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.support import TUIMAN
from tests.support.procs import kill_tagged, tagged_pids
from tests.support.waiting import wait_until_sync

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
# Circus INI files go through the same pipeline (docs/circus.md).
CORPUS_FILES = sorted([*CORPUS.glob("*.toml"), *CORPUS.glob("*.ini")])
MODES = {"check": ("check", "-c"), "headless": ("--headless", "-c")}
CORPUS_TAG = f"rel-corpus-{os.getpid()}"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def run_tuiman(mode: str, config: str, cwd: Path) -> Run:
    result = subprocess.run(
        [*TUIMAN, *MODES[mode], config],
        cwd=cwd,
        capture_output=True,
        timeout=30,
        env={**os.environ, "NO_COLOR": "1", "TEST_TAG": CORPUS_TAG},
    )
    return Run(
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def expectations(path: Path) -> list[str]:
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    return [
        line.removeprefix("# expect:").strip() for line in lines if line.startswith("# expect:")
    ]


def assert_refused(run: Run, label: str, expected: list[str]) -> None:
    assert run.code == 2, run
    assert "Traceback" not in run.stderr + run.stdout, run
    errors = run.stderr.strip().splitlines()
    assert len(errors) == len(expected), run
    for line in errors:
        assert line.startswith(f"{label}: "), run
    for text in expected:
        assert any(text in line for line in errors), (text, run)
    assert run.stdout == "", run  # nothing started, nothing printed


@pytest.fixture(scope="module")
def corpus_runs() -> Iterator[dict[tuple[str, str], Run]]:
    """Every corpus file in both modes, run concurrently once for the whole module."""
    jobs = [(mode, path.name) for path in CORPUS_FILES for mode in MODES]
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = pool.map(lambda job: run_tuiman(job[0], f"corpus/{job[1]}", HERE), jobs)
            yield dict(zip(jobs, results, strict=True))
    finally:
        kill_tagged(CORPUS_TAG)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS_FILES) >= 55
    assert len([path for path in CORPUS_FILES if path.suffix == ".ini"]) >= 10
    assert all(expectations(path) for path in CORPUS_FILES), "every file says what it expects"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("config", [path.name for path in CORPUS_FILES])
def test_broken_config_is_refused_with_one_line_per_error(
    corpus_runs: dict[tuple[str, str], Run], config: str, mode: str
) -> None:
    assert_refused(corpus_runs[(mode, config)], f"corpus/{config}", expectations(CORPUS / config))


@pytest.mark.timeout(60)
def test_no_process_outlives_a_refused_config(corpus_runs: dict[tuple[str, str], Run]) -> None:
    # The headless runs forked their orphan-killer watchdog before reading the file (run.py):
    # it carries the same TEST_TAG and must be gone too.
    assert len(corpus_runs) == 2 * len(CORPUS_FILES)
    wait_until_sync(lambda: tagged_pids(CORPUS_TAG) == [], timeout=3)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_missing_unreadable_and_odd_config_paths(tmp_path: Path, mode: str) -> None:
    (tmp_path / "a_directory.toml").mkdir()
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "nowhere.toml")
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    cases = {
        "missing.toml": "cannot read",
        "no/such/dir/tuiman.toml": "cannot read",
        "a_directory.toml": "cannot read",
        "dangling.toml": "cannot read",
        "loop.toml": "cannot read",
    }
    unreadable = tmp_path / "unreadable.toml"
    unreadable.write_text('[watchers.web]\ncmd = "sleep 1"\n')
    unreadable.chmod(0)
    if os.geteuid() != 0:  # root reads a 0000 file anyway
        cases["unreadable.toml"] = "cannot read"
    for config, expected in cases.items():
        assert_refused(run_tuiman(mode, config, tmp_path), config, [expected])


@pytest.mark.timeout(60)
def test_empty_and_comment_only_files_are_valid(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "comments.toml").write_text("# nothing here\n\n")
    for config in ("empty.toml", "comments.toml"):
        run = run_tuiman("check", config, tmp_path)
        assert run.code == 0, run.stderr
        assert "Traceback" not in run.stderr

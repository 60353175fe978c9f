#!/usr/bin/env python3
"""Where tuiman's start-up goes: launch -> first process alive, phase by phase, against Circus.

    python3 bench/startup.py            # 7 interleaved rounds; prints JSON
    python3 bench/startup.py --quick    # 3 rounds
    python3 bench/startup.py --baseline ../main   # also another checkout, interleaved
    python3 bench/run.py --startup      # through the harness: the Markdown table

Figures (bench/README.md#start-up):
- launch -> 1 and -> 10 `sleep 3600` alive, tuiman and Circus interleaved in the same minute
  (the same measurement as the spawn rows of bench/run.py), and `--version` of both;
- the phases of tuiman's start-up, from the timestamps tuiman writes when
  TUIMAN_STARTUP_TRACE names a file (tuiman/core/startup_trace.py): interpreter, imports,
  watchdog, config load, control socket, event loop and arbiter, first spawn, exec -> alive
  (the last one seen by the harness in /proc);
- `python -X importtime` of the same start: total import time and the biggest importers;
- the bare interpreter (`python -c pass`) and `python -c "import asyncio"`, as floors;
- with valgrind on PATH, instructions executed by `--version` and by the imports of a headless
  start: the figure that a loaded machine does not move.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench_run  # noqa: E402  (the bootstrap: venv and re-exec)

TRACE_ENV = "TUIMAN_STARTUP_TRACE"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7; --quick: 3)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="also time another tuiman checkout (e.g. a worktree of main), interleaved",
    )
    options = parser.parse_args(argv)
    if (
        os.environ.get(bench_run.IN_VENV_FLAG) != "1"
        or Path(sys.prefix).resolve() != bench_run.VENV.resolve()
    ):
        bench_run.ensure_venv()
        env = dict(os.environ, **{bench_run.IN_VENV_FLAG: "1"})
        py = str(bench_run.VENV_PY)
        os.execve(py, [py, str(Path(__file__).resolve()), *argv], env)
    baseline = options.baseline.resolve() if options.baseline else None
    print(json.dumps(run(options.quick, options.rounds, baseline), indent=1))
    return 0


def run(quick: bool, rounds: int | None = None, baseline: Path | None = None) -> dict[str, Any]:
    """Everything of this module, in the bench venv; the dict report.py renders."""
    import procfs
    import scenarios

    # Inside bench/run.py's full run, its run id (and its clean-up) cover this part too.
    run_id = os.environ.setdefault(procfs.RUN_ENV, f"{os.getpid()}-startup")
    procfs.set_child_subreaper()
    run_dir = Path(tempfile.mkdtemp(prefix="tuiman-startup-"))
    ctx = scenarios.Context(
        venv_bin=bench_run.VENV / "bin",
        run_dir=run_dir,
        run_id=run_id,
        env=dict(os.environ),
        sleep=bench_run.which("sleep"),
        sh=bench_run.which("sh"),
        false=bench_run.which("false"),
        rng=random.Random(0),
    )
    rounds = rounds or (3 if quick else 7)
    try:
        return {
            "rounds": rounds,
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "alive": alive_times(ctx, rounds, baseline),
            "phases": phases(ctx, rounds),
            "version": version_times(ctx, rounds, baseline),
            "floors": floors(rounds),
            "imports": import_times(ctx, min(rounds, 5)),
            "instructions": instructions(baseline),
        }
    finally:
        scenarios.teardown(ctx, None)
        shutil.rmtree(run_dir, ignore_errors=True)


def alive_times(ctx: Any, rounds: int, baseline: Path | None) -> dict[str, dict[str, float | None]]:
    """launch -> n alive, tuiman and Circus (and a baseline checkout) interleaved, the order
    rotating per round: the spawn rows of bench/run.py, with a clean stop after each."""
    from managers import CIRCUS, TUIMAN

    who = [TUIMAN, CIRCUS, *(["baseline"] if baseline else [])]
    seconds: dict[str, list[float]] = {}
    for i in range(rounds):
        for n in (1, 10):
            order = who[i % len(who) :] + who[: i % len(who)]
            for manager in order:
                value = timed_spawn(ctx, manager, n, baseline)
                if value is not None:
                    seconds.setdefault(f"{manager} {n}", []).append(value)
    return {key: summary(values) for key, values in sorted(seconds.items())}


def timed_spawn(ctx: Any, manager: str, n: int, baseline: Path | None) -> float | None:
    """Like scenarios.spawn; "baseline" is tuiman from another checkout (same interpreter)."""
    import scenarios
    from managers import TUIMAN

    scenarios.quiet_gate(ctx)
    argv0 = None if manager != "baseline" or baseline is None else launcher_for(ctx, baseline)
    running = start(ctx, TUIMAN if argv0 else manager, f"spawn{n}", n, argv0)
    try:
        t_all = scenarios.wait_count(running, n, timeout=60)
    finally:
        stop(ctx, running)
    return None if t_all is None else t_all - running.t_launch


def launcher_for(ctx: Any, checkout: Path) -> str:
    """A launcher like bench/run.py's bin/tuiman, for another checkout (compiled like it)."""
    launcher = ctx.run_dir / "tuiman-baseline"
    if not launcher.exists():
        launcher.write_text(
            f"#!{bench_run.VENV_PY}\nimport sys\nsys.path.insert(0, {str(checkout)!r})\n"
            "from tuiman.cli import main\nsys.exit(main())\n"
        )
        launcher.chmod(0o755)
        subprocess.check_call(
            [str(bench_run.VENV_PY), "-m", "compileall", "-q", str(checkout / "tuiman")]
        )
    return str(launcher)


def start(
    ctx: Any,
    manager: str,
    label: str,
    n: int,
    argv0: str | None = None,
    env: dict[str, str] | None = None,
    python_options: tuple[str, ...] = (),
) -> Any:
    """scenarios.start with a few more knobs: another launcher, extra environment, and
    interpreter options (-X importtime) for tuiman."""
    import procfs
    import scenarios
    from managers import Workload, write_config

    name = ctx.name(f"{manager}-{label}")
    tag = ctx.tag(name)
    launch = write_config(
        manager, ctx.venv_bin, ctx.run_dir, name, Workload([ctx.sleep, "3600"], n, tag)
    )
    if argv0 is not None:
        launch.argv[0] = argv0
    if python_options:
        launch.argv[:0] = [str(bench_run.VENV_PY), *python_options]
    out, err = open(launch.stdout, "wb"), open(launch.stderr, "wb")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        launch.argv,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        env=ctx.env if env is None else env,
        cwd=ctx.run_dir,
        start_new_session=True,
    )
    ctx.popen_pids.add(proc.pid)
    tracker = procfs.Tracker(proc.pid, tag)
    return scenarios.Running(manager, name, tag, launch, proc, tracker, t0, [out, err])


def stop(ctx: Any, running: Any) -> None:
    """SIGTERM (the quit of both managers) and a short wait, then the harness' teardown: a
    clean quit lets tuiman remove its cgroup subtree, which a SIGKILLed watchdog cannot."""
    import scenarios

    with contextlib.suppress(ProcessLookupError):
        running.proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        running.proc.wait(10)
    scenarios.teardown(ctx, running)


def phases(ctx: Any, rounds: int) -> dict[str, dict[str, float | None]]:
    """tuiman's own timestamps of one start (10 processes), phase by phase, medians in ms."""
    import scenarios
    from managers import TUIMAN

    per_phase: dict[str, list[float]] = {}
    for i in range(rounds):
        trace = ctx.run_dir / f"startup-{i}.trace"
        scenarios.quiet_gate(ctx)
        env = dict(ctx.env, **{TRACE_ENV: str(trace)})
        running = start(ctx, TUIMAN, "phases", 10, env=env)
        first = all_alive = None
        try:
            deadline = running.t_launch + 30
            while time.perf_counter() < deadline:
                alive = len(running.tracker.poll())
                if alive and first is None:
                    first = time.perf_counter()
                if alive >= 10:
                    all_alive = time.perf_counter()
                    break
                time.sleep(scenarios.POLL_SPAWN)
        finally:
            stop(ctx, running)
        marks = read_trace(trace)
        if not marks or first is None or all_alive is None:
            continue
        # perf_counter and time.monotonic are the same clock on Linux (CLOCK_MONOTONIC).
        previous = running.t_launch
        for phase, stamp in marks:
            per_phase.setdefault(phase, []).append((stamp - previous) * 1000)
            previous = stamp
        per_phase.setdefault("exec -> first alive (seen in /proc)", []).append(
            (first - previous) * 1000
        )
        per_phase.setdefault("first -> 10 alive", []).append((all_alive - first) * 1000)
        per_phase.setdefault("total: launch -> 10 alive", []).append(
            (all_alive - running.t_launch) * 1000
        )
    return {phase: summary(values) for phase, values in per_phase.items()}


def read_trace(path: Path) -> list[tuple[str, float]]:
    """The phase marks tuiman wrote: `<monotonic seconds> <phase>` per line, in order."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    marks = []
    for line in lines:
        stamp, _, phase = line.partition(" ")
        marks.append((phase, float(stamp)))
    return marks


def version_times(
    ctx: Any, rounds: int, baseline: Path | None = None
) -> dict[str, dict[str, float | None]]:
    import scenarios
    from managers import CIRCUS, TUIMAN

    times = scenarios.version_times(ctx, [TUIMAN, CIRCUS], max(rounds, 5))
    if baseline is not None:
        argv = [launcher_for(ctx, baseline), "--version"]
        times["baseline"] = []
        for _ in range(max(rounds, 5)):
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, env=ctx.env, check=True)
            times["baseline"].append(time.perf_counter() - t0)
    return {manager: summary(values) for manager, values in times.items()}


def floors(rounds: int) -> dict[str, dict[str, float | None]]:
    """The interpreter alone, and with asyncio imported: what no Python manager can go under."""
    py = str(bench_run.VENV_PY)
    argvs = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import asyncio'": [py, "-c", "import asyncio"],
    }
    times: dict[str, list[float]] = {key: [] for key in argvs}
    for _ in range(max(rounds, 5)):
        for key, argv in argvs.items():
            t0 = time.perf_counter()
            subprocess.run(argv, check=True)
            times[key].append(time.perf_counter() - t0)
    return {key: summary(values) for key, values in times.items()}


def import_times(ctx: Any, runs: int) -> dict[str, Any]:
    """`-X importtime` of a headless start (1 process): total, and the top modules by
    cumulative and by own time (median over runs, ms)."""
    import scenarios
    from managers import TUIMAN

    parsed_runs: list[dict[str, tuple[int, int]]] = []
    for _ in range(runs):
        running = start(ctx, TUIMAN, "imports", 1, python_options=("-X", "importtime"))
        try:
            scenarios.wait_count(running, 1, timeout=30)
        finally:
            stop(ctx, running)
        parsed: dict[str, tuple[int, int]] = {}
        for line in Path(running.launch.stderr).read_text(errors="replace").splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
            if m:
                parsed[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        parsed_runs.append(parsed)
    names = set().union(*parsed_runs)
    own = {k: statistics.median(r[k][0] for r in parsed_runs if k in r) / 1000 for k in names}
    cum = {k: statistics.median(r[k][1] for r in parsed_runs if k in r) / 1000 for k in names}
    return {
        "modules": statistics.median(len(r) for r in parsed_runs),
        "total_ms": sum(own.values()),
        "tuiman_modules": sum(1 for k in names if k == "tuiman" or k.startswith("tuiman.")),
        "top_cumulative": sorted(cum.items(), key=lambda kv: -kv[1])[:15],
        "top_own": sorted(own.items(), key=lambda kv: -kv[1])[:15],
        "ui_modules": sorted(
            k for k in names if k.split(".")[0] in ("textual", "rich") or k.startswith("tuiman.ui")
        ),
    }


def instructions(baseline: Path | None) -> dict[str, float | None]:
    """Instructions executed (millions, valgrind's cachegrind; None without valgrind): the
    one start-up figure that load on a shared machine does not move. A full run cannot be
    counted (valgrind 3.19 does not know pidfd_open), so: `--version`, and the imports of the
    instance, against the bare interpreter and asyncio."""
    valgrind = shutil.which("valgrind")
    py = str(bench_run.VENV_PY)
    cases = {
        "python -c pass": ([py, "-c", "pass"], None),
        "python -c 'import asyncio'": ([py, "-c", "import asyncio"], None),
        "tuiman --version": ([py, "-c", VERSION_CODE], bench_run.REPO),
        "imports of a headless start": ([py, "-c", IMPORT_CODE], bench_run.REPO),
    }
    if baseline is not None:
        cases["baseline: tuiman --version"] = ([py, "-c", VERSION_CODE], baseline)
        cases["baseline: imports of a headless start"] = ([py, "-c", IMPORT_CODE], baseline)
    counts: dict[str, float | None] = {}
    for key, (argv, checkout) in cases.items():
        if valgrind is None:
            counts[key] = None
            continue
        env = dict(os.environ)
        if checkout is not None:
            env["PYTHONPATH"] = str(checkout)
        result = subprocess.run(
            [
                valgrind,
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                *argv,
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
            check=False,
        )
        m = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
        counts[key] = int(m.group(1).replace(",", "")) / 1e6 if m else None
    return counts


VERSION_CODE = "import sys; sys.argv = ['tuiman', '--version']; from tuiman.cli import main; main()"
IMPORT_CODE = "import tuiman.cli, tuiman.launch.run"


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "n": len(values)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

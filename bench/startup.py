#!/usr/bin/env python3
"""Where tuiman's start-up goes: launch -> first process alive, phase by phase, against Circus.

    python3 bench/startup.py            # 7 interleaved rounds; prints JSON
    python3 bench/startup.py --quick    # 3 rounds
    python3 bench/run.py --startup      # the same, through the harness

Figures (bench/README.md#start-up):
- launch -> 1 and -> 10 `sleep 3600` alive, tuiman and Circus interleaved in the same minute
  (the same measurement as the spawn rows of bench/run.py), and `--version` of both;
- the phases of tuiman's start-up, from the timestamps tuiman writes when
  TUIMAN_STARTUP_TRACE names a file (tuiman/core/startup_trace.py): interpreter, imports,
  watchdog, config load, control socket, event loop and arbiter, first spawn, exec -> alive
  (the last one seen by the harness in /proc);
- `python -X importtime` of the same start: total import time and the biggest importers;
- the bare interpreter (`python -c pass`) and `python -c "import asyncio"`, as floors.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
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
    options = parser.parse_args(argv)
    if (
        os.environ.get(bench_run.IN_VENV_FLAG) != "1"
        or Path(sys.prefix).resolve() != bench_run.VENV.resolve()
    ):
        bench_run.ensure_venv()
        env = dict(os.environ, **{bench_run.IN_VENV_FLAG: "1"})
        py = str(bench_run.VENV_PY)
        os.execve(py, [py, str(Path(__file__).resolve()), *argv], env)
    print(json.dumps(run(options.quick, options.rounds), indent=1))
    return 0


def run(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    """Everything of this module, in the bench venv; the dict report.py renders."""
    import procfs
    import scenarios

    run_id = f"{os.getpid()}-startup"
    os.environ[procfs.RUN_ENV] = run_id
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
            "alive": alive_times(ctx, rounds),
            "phases": phases(ctx, rounds),
            "version": version_times(ctx, rounds),
            "floors": floors(rounds),
            "imports": import_times(ctx, min(rounds, 5)),
        }
    finally:
        scenarios.teardown(ctx, None)


def alive_times(ctx: Any, rounds: int) -> dict[str, dict[str, float | None]]:
    """launch -> n alive, tuiman and Circus interleaved (order alternating per round)."""
    import scenarios
    from managers import CIRCUS, TUIMAN

    seconds: dict[str, list[float]] = {}
    for i in range(rounds):
        for n in (1, 10):
            order = [TUIMAN, CIRCUS] if i % 2 == 0 else [CIRCUS, TUIMAN]
            for manager in order:
                value = scenarios.spawn(ctx, manager, n).get("seconds")
                if value is not None:
                    seconds.setdefault(f"{manager} {n}", []).append(value)
    return {key: summary(values) for key, values in sorted(seconds.items())}


def phases(ctx: Any, rounds: int) -> dict[str, dict[str, float | None]]:
    """tuiman's own timestamps of one start (10 processes), phase by phase, medians in ms."""
    import procfs
    import scenarios
    from managers import TUIMAN, Workload, write_config

    per_phase: dict[str, list[float]] = {}
    for _ in range(rounds):
        name = ctx.name("startup-phases")
        tag = ctx.tag(name)
        launch = write_config(
            TUIMAN, ctx.venv_bin, ctx.run_dir, name, Workload([ctx.sleep, "3600"], 10, tag)
        )
        trace = ctx.run_dir / f"{name}.trace"
        scenarios.quiet_gate(ctx)
        env = dict(ctx.env, **{TRACE_ENV: str(trace)})
        with open(launch.stdout, "wb") as out:
            t0 = time.monotonic()
            proc = subprocess.Popen(
                launch.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=ctx.run_dir,
                start_new_session=True,
            )
            ctx.popen_pids.add(proc.pid)
            tracker = procfs.Tracker(proc.pid, tag)
            first = all_alive = None
            deadline = t0 + 30
            while time.monotonic() < deadline:
                alive = len(tracker.poll())
                if alive and first is None:
                    first = time.monotonic()
                if alive >= 10:
                    all_alive = time.monotonic()
                    break
                time.sleep(scenarios.POLL_SPAWN)
            running = scenarios.Running(TUIMAN, name, tag, launch, proc, tracker, t0, [])
            scenarios.teardown(ctx, running)
        marks = read_trace(trace)
        if not marks or first is None or all_alive is None:
            continue
        previous = t0
        for phase, stamp in marks:
            per_phase.setdefault(phase, []).append((stamp - previous) * 1000)
            previous = stamp
        per_phase.setdefault("exec -> first alive (seen in /proc)", []).append(
            (first - previous) * 1000
        )
        per_phase.setdefault("first -> 10 alive", []).append((all_alive - first) * 1000)
        per_phase.setdefault("total: launch -> 10 alive", []).append((all_alive - t0) * 1000)
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


def version_times(ctx: Any, rounds: int) -> dict[str, dict[str, float | None]]:
    import scenarios
    from managers import CIRCUS, TUIMAN

    times = scenarios.version_times(ctx, [TUIMAN, CIRCUS], max(rounds, 5))
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
    import procfs
    import scenarios
    from managers import TUIMAN, Workload, write_config

    parsed_runs: list[dict[str, tuple[int, int]]] = []
    for _ in range(runs):
        name = ctx.name("startup-imports")
        tag = ctx.tag(name)
        launch = write_config(
            TUIMAN, ctx.venv_bin, ctx.run_dir, name, Workload([ctx.sleep, "3600"], 1, tag)
        )
        argv = [str(bench_run.VENV_PY), "-X", "importtime", *launch.argv]
        with open(launch.stderr, "wb") as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=ctx.env,
                cwd=ctx.run_dir,
                start_new_session=True,
            )
            ctx.popen_pids.add(proc.pid)
            tracker = procfs.Tracker(proc.pid, tag)
            running = scenarios.Running(TUIMAN, name, tag, launch, proc, tracker, 0.0, [])
            scenarios.wait_count(running, 1, timeout=30)
            scenarios.teardown(ctx, running)
        parsed: dict[str, tuple[int, int]] = {}
        for line in Path(launch.stderr).read_text(errors="replace").splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
            if m:
                parsed[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        parsed_runs.append(parsed)
    names = set().union(*parsed_runs)
    own = {k: statistics.median(r[k][0] for r in parsed_runs if k in r) / 1000 for k in names}
    cum = {k: statistics.median(r[k][1] for r in parsed_runs if k in r) / 1000 for k in names}
    tuiman_modules = sorted(k for k in names if k == "tuiman" or k.startswith("tuiman."))
    return {
        "modules": statistics.median(len(r) for r in parsed_runs),
        "total_ms": sum(own.values()),
        "tuiman_modules": len(tuiman_modules),
        "top_cumulative": sorted(cum.items(), key=lambda kv: -kv[1])[:15],
        "top_own": sorted(own.items(), key=lambda kv: -kv[1])[:15],
        "third_party": sorted(
            k for k in names if k.split(".")[0] in {"rich", "textual", "psutil", "watchfiles"}
        )[:20],
    }


def summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "n": len(values)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

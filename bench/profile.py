#!/usr/bin/env python3
"""Profile tuiman in the benchmark's situations, to find what dominates a figure (py-spy).

    python3 bench/profile.py spawn 500        # headless tuiman spawning 500 `sleep 3600`
    python3 bench/profile.py tui 100 15       # the TUI idle with 100 processes, 15 s
    python3 bench/profile.py startup          # -X importtime of `tuiman --headless`, 5 runs

Uses bench/.venv-bench (created by bench/run.py; py-spy is added to it on first use) and prints
the top frames by own time and by cumulative time, as file:line. `--raw FILE` keeps py-spy's
collapsed stacks (load them into speedscope or flamegraph.pl for a picture).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench_run  # noqa: E402  (the bootstrap: venv and re-exec)

PY_SPY = "py-spy==0.4.1"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["spawn", "tui", "startup"])
    parser.add_argument("n", nargs="?", type=int, default=500, help="processes (default 500)")
    parser.add_argument(
        "seconds", nargs="?", type=float, default=15.0, help="tui: seconds to sample"
    )
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args(argv)
    if (
        os.environ.get(bench_run.IN_VENV_FLAG) != "1"
        or Path(sys.prefix).resolve() != bench_run.VENV.resolve()
    ):
        bench_run.ensure_venv()
        env = dict(os.environ, **{bench_run.IN_VENV_FLAG: "1"})
        py = str(bench_run.VENV_PY)
        os.execve(py, [py, str(Path(__file__).resolve()), *argv], env)

    import procfs
    import scenarios
    from managers import TUIMAN, Workload, write_config

    spy = bench_run.VENV / "bin" / "py-spy"
    if options.what != "startup" and not spy.exists():
        subprocess.check_call([str(bench_run.VENV_PY), "-m", "pip", "install", "--quiet", PY_SPY])

    run_id = f"{os.getpid()}-profile"
    os.environ[procfs.RUN_ENV] = run_id
    procfs.set_child_subreaper()
    run_dir = Path(tempfile.mkdtemp(prefix="tuiman-profile-"))
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
    raw = options.raw or run_dir / "stacks.txt"
    try:
        if options.what == "startup":
            return startup(ctx, options.top)
        name = ctx.name(f"profile-{options.what}")
        tag = ctx.tag(name)
        launch = write_config(
            TUIMAN, ctx.venv_bin, run_dir, name, Workload([ctx.sleep, "3600"], options.n, tag)
        )
        if options.what == "spawn":
            # py-spy starts tuiman itself so that the very first instruction is sampled.
            out = open(launch.stdout, "wb")  # noqa: SIM115 (open while tuiman runs)
            spy_proc = subprocess.Popen(
                [
                    str(spy),
                    "record",
                    "-r",
                    str(options.rate),
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "--",
                    *launch.argv,
                ],
                stdout=out,
                stderr=subprocess.DEVNULL,
                env=ctx.env,
                start_new_session=True,
            )
            t0 = time.perf_counter()
            deadline = t0 + 120
            tracker = procfs.Tracker(spy_proc.pid, tag)
            while len(tracker.poll()) < options.n and time.perf_counter() < deadline:
                time.sleep(0.005)
            print(f"all {options.n} alive after {time.perf_counter() - t0:.3f} s (under py-spy)")
            time.sleep(0.3)
            # SIGINT to py-spy writes the profile; it passes the signal on to tuiman, which quits.
            os.kill(spy_proc.pid, 2)
            spy_proc.wait(60)
            out.close()
        else:
            env = dict(ctx.env, TERM="xterm-256color")
            pty_run = scenarios.start_in_pty(scenarios.tui_argv(ctx, launch.config), env, run_dir)
            tracker = procfs.Tracker(pty_run.pid, tag)
            deadline = time.perf_counter() + 120
            while len(tracker.poll()) < options.n and time.perf_counter() < deadline:
                time.sleep(0.01)
            time.sleep(3.0)
            c0, t0 = procfs.cpu_seconds(pty_run.pid) or 0.0, time.perf_counter()
            subprocess.run(
                [
                    str(spy),
                    "record",
                    "-r",
                    str(options.rate),
                    "-d",
                    str(int(options.seconds)),
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "--pid",
                    str(pty_run.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            c1, t1 = procfs.cpu_seconds(pty_run.pid) or 0.0, time.perf_counter()
            print(
                f"TUI CPU while sampled: {(c1 - c0) / (t1 - t0) * 100:.1f} % of one core "
                "(py-spy's own sampling included)"
            )
            scenarios.stop_pty(ctx, pty_run)
        summarize(raw, options.top)
    finally:
        scenarios.teardown(ctx, None)
    return 0


def summarize(raw: Path, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    cumulative: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [shorten(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            cumulative[frame] += n
    print(f"{total} samples (idle excluded)\n\nby own time:")
    for frame, n in own.most_common(top):
        print(f"  {n / total * 100:5.1f} %  {frame}")
    print("\ncumulative, tuiman frames only:")
    shown = 0
    for frame, n in cumulative.most_common():
        if "tuiman/" in frame and shown < top:
            print(f"  {n / total * 100:5.1f} %  {frame}")
            shown += 1


def shorten(frame: str) -> str:
    frame = re.sub(r"\S*/site-packages/", "", frame)
    frame = re.sub(r"/usr/(local/)?lib/python3\.\d+/", "", frame)
    return frame.replace(str(bench_run.REPO) + "/", "")


def startup(ctx, top: int) -> int:  # type: ignore[no-untyped-def]
    """Import time of `tuiman --headless` (medians of 5 runs), the biggest modules first."""
    from managers import TUIMAN, Workload, write_config

    name = ctx.name("profile-startup")
    launch = write_config(
        TUIMAN, ctx.venv_bin, ctx.run_dir, name, Workload([ctx.sleep, "3600"], 1, ctx.tag(name))
    )
    runs: list[dict[str, tuple[int, int]]] = []
    for _ in range(5):
        argv = [str(bench_run.VENV_PY), "-X", "importtime", *launch.argv]
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=ctx.env,
            start_new_session=True,
        )
        time.sleep(1.5)
        os.kill(proc.pid, 15)
        _, err = proc.communicate(timeout=30)
        parsed = {}
        for line in err.decode(errors="replace").splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
            if m:
                parsed[m.group(4)] = (int(m.group(1)), int(m.group(2)))
        runs.append(parsed)
    names = set().union(*runs)
    rows = sorted(
        (
            (
                statistics.median(r[k][1] for r in runs if k in r),
                statistics.median(r[k][0] for r in runs if k in r),
                k,
            )
            for k in names
        ),
        reverse=True,
    )
    total = sum(own for _, own, _ in rows)
    print(f"all imports: {total / 1000:.1f} ms (sum of own times, median of 5 runs)\n")
    print("  cumulative     own  module")
    for cum, own, k in rows[:top]:
        print(f"  {cum / 1000:7.1f} ms {own / 1000:6.1f} ms  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

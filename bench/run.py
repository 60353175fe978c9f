#!/usr/bin/env python3
"""tuiman vs Circus 0.19 vs supervisord 4.3, side by side in one run (bench/README.md#targets).

    python3 bench/run.py            # full run (3 repetitions), writes BENCHMARKS.md
    python3 bench/run.py --quick    # smoke run: 1 repetition, N <= 100, short windows

The first thing it does is create bench/.venv-bench with Circus, supervisord and tuiman's
dependencies (tuiman itself runs from this checkout); then it re-executes itself with that
interpreter. See bench/README.md for what is measured and how.
"""

# ruff: noqa: RUF001  (the log lines use an en dash for "none")
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv-bench"
VENV_PY = VENV / "bin" / "python"
REQUIREMENTS = HERE / "requirements.txt"
OUT_DIR = HERE / ".out"
IN_VENV_FLAG = "TUIMAN_BENCH_IN_VENV"


# ------------------------------------------------------------------------------ bootstrap
def digest_of(paths: list[Path]) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in paths:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create/refresh bench/.venv-bench: Circus, supervisord, and tuiman's dependencies.

    tuiman itself runs straight from this checkout through a small launcher, bin/tuiman, that
    puts the checkout first on sys.path: no build step, so the harness always measures the files
    as they are, and no editable-install import hook slowing down the start-up of every
    interpreter in the venv (Circus' and supervisord's too).
    """
    stamp_file = VENV / ".bench-stamp"
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    tuiman_deps = list(pyproject["project"]["dependencies"])
    stamp = digest_of([REQUIREMENTS]) + " " + " ".join(tuiman_deps)
    if not (VENV_PY.exists() and stamp_file.exists() and stamp_file.read_text() == stamp):
        print(f"setting up {VENV.relative_to(REPO)} ...", file=sys.stderr, flush=True)
        if not VENV_PY.exists():
            subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call(
            [
                str(VENV_PY),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
                *tuiman_deps,
            ]
        )
        stamp_file.write_text(stamp)
    launcher = VENV / "bin" / "tuiman"
    text = (
        f"#!{VENV_PY}\n"
        "# written by bench/run.py: runs tuiman from the checkout (like its console script)\n"
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tuiman.cli import main\nsys.exit(main())\n"
    )
    if not launcher.exists() or launcher.read_text() != text:
        launcher.write_text(text)
        launcher.chmod(0o755)
    # Byte-code as an installed package has it (pip compiles at install; Circus' and
    # supervisord's are compiled in this venv): without it, and with PYTHONDONTWRITEBYTECODE
    # set, every tuiman start-up would recompile the checkout's modules.
    subprocess.check_call([str(VENV_PY), "-m", "compileall", "-q", str(REPO / "tuiman")])


def reexec_in_venv(argv: list[str]) -> None:
    ensure_venv()
    env = dict(os.environ)
    env[IN_VENV_FLAG] = "1"
    env.setdefault("TUIMAN_BENCH_COMMAND", invocation(argv))
    os.execve(str(VENV_PY), [str(VENV_PY), str(Path(__file__).resolve()), *argv], env)


def invocation(argv: list[str]) -> str:
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(REPO)
    return shlex.join(["python3", str(script), *argv])


# ------------------------------------------------------------------------------ the run
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 repetition, N up to 100, short windows; "
        "writes bench/.out/BENCHMARKS-quick.md instead of BENCHMARKS.md",
    )
    parser.add_argument("--reps", type=int, help="repetitions (default 3; --quick: 1)")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help="N full runs back to back; the report is the last one's plus every target in each",
    )
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    parser.add_argument("--seed", type=int, default=6, help="random seed (kill order and timing)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the run directory (configs, logs)"
    )
    parser.add_argument(
        "--setup-only", action="store_true", help="create/refresh the bench venv, then exit"
    )
    parser.add_argument(
        "--readiness",
        action="store_true",
        help="only bench/readiness_bench.py (depends_on chain, probe CPU): print its numbers",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="only bench/scale.py (2 000 and 5 000 processes; --quick: 200 and 500)",
    )
    parser.add_argument(
        "--scale-only-for",
        metavar="MANAGERS",
        help="with --scale: comma-separated managers (tuiman,circus,supervisord)",
    )
    parser.add_argument(
        "--scale-sizes", metavar="N,N", help="with --scale: the sizes (default 2000,5000)"
    )
    parser.add_argument(
        "--scale-baseline",
        type=Path,
        metavar="CHECKOUT",
        help="with --scale: also tuiman from another checkout (before/after, same run)",
    )
    parser.add_argument(
        "--startup",
        action="store_true",
        help="only bench/startup.py (launch -> alive against Circus, phase by phase): print it",
    )
    parser.add_argument(
        "--render-only",
        type=Path,
        nargs="+",
        metavar="RESULTS_JSON",
        help="measure nothing: rewrite the report from a results.json of an earlier run "
        "(several: the last one's report, plus every target in each of them)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    if options.readiness:
        sys.path.insert(0, str(HERE))
        import readiness_bench  # a tuiman-only figure: no Circus or supervisord venv needed

        print(json.dumps(readiness_bench.run(options.quick), indent=2))
        return 0
    if os.environ.get(IN_VENV_FLAG) != "1" or Path(sys.prefix).resolve() != VENV.resolve():
        reexec_in_venv(argv)
    if options.setup_only:
        print(f"bench venv ready: {VENV}", file=sys.stderr)
        return 0
    sys.path.insert(0, str(HERE))
    import procfs
    import report
    import scenarios
    import throughput
    from managers import MANAGERS

    if options.startup:
        import startup  # the start-up breakdown alone (bench/README.md#start-up)

        data = startup.run(options.quick)
        OUT_DIR.mkdir(exist_ok=True)
        (OUT_DIR / "startup.json").write_text(json.dumps(data, indent=1))
        print("\n".join(report.render_startup(data)))
        return 0

    if options.render_only:
        *earlier, results = (json.loads(path.read_text()) for path in options.render_only)
        text = report.render(results, earlier)
        output = options.output or (
            OUT_DIR / "BENCHMARKS-quick.md"
            if results["config"].get("quick")
            else REPO / "BENCHMARKS.md"
        )
        output.write_text(text + "\n")
        print(text)
        return 0

    if not procfs.children_supported():
        print(
            "error: /proc/<pid>/task/<tid>/children is missing (CONFIG_PROC_CHILDREN)",
            file=sys.stderr,
        )
        return 2

    if options.runs > 1:
        return several_runs(argv, options.runs, options.output)

    quick = options.quick
    cfg = {
        "quick": quick,
        "reps": options.reps or (1 if quick else 3),
        "sizes": [1, 10, 100] if quick else [1, 10, 100, 500],
        "session_n": 100,
        "idle_window": 5.0 if quick else 20.0,
        "kills": 3 if quick else 10,
        "crash_window": 10.0,
        "version_runs": 3 if quick else 10,
        "throughput_n": 20,
        "throughput_window": 3.0 if quick else 10.0,
    }
    output = options.output or (
        OUT_DIR / "BENCHMARKS-quick.md" if quick else REPO / "BENCHMARKS.md"
    )
    OUT_DIR.mkdir(exist_ok=True)

    run_id = f"{os.getpid()}-{os.urandom(3).hex()}"
    os.environ[procfs.RUN_ENV] = run_id
    procfs.set_child_subreaper()
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sweep_stale(procfs)

    run_dir = Path(tempfile.mkdtemp(prefix="tuiman-bench-"))
    ctx = scenarios.Context(
        venv_bin=VENV / "bin",
        run_dir=run_dir,
        run_id=run_id,
        env=dict(os.environ),
        sleep=which("sleep"),
        sh=which("sh"),
        false=which("false"),
        rng=random.Random(options.seed),
    )

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = time.time()
    t_start = time.perf_counter()
    results: dict = {"meta": machine_info(ctx), "config": cfg, "reps": []}
    results["meta"]["command"] = os.environ.get("TUIMAN_BENCH_COMMAND", invocation(argv))
    results["meta"]["date"] = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started))
    log = scenarios.log
    log(f"run {run_id}: {cfg['reps']} repetition(s), sizes {cfg['sizes']}, run dir {run_dir}")
    if options.scale:
        return run_scale_only(options, ctx, results, t_start, run_dir)
    try:
        results["tui"] = scenarios.detect_tui(ctx)
        log(f"TUI available: {results['tui']['available']}")
        for rep in range(cfg["reps"]):
            order = list(MANAGERS[rep % 3 :] + MANAGERS[: rep % 3])
            entry: dict = {"order": order}
            results["reps"].append(entry)
            log(f"--- repetition {rep + 1}/{cfg['reps']}, order {order}")
            entry["version"] = scenarios.version_times(ctx, order, cfg["version_runs"])
            log(
                "  --version: "
                + ", ".join(
                    f"{m} {scenarios.med(v) * 1000:.0f} ms" for m, v in entry["version"].items()
                )
            )
            entry["spawn"] = {}
            for n in cfg["sizes"]:
                who = ["floor", *(["floor_pipes"] if n == max(cfg["sizes"]) else []), *order]
                who = who[rep % len(who) :] + who[: rep % len(who)]
                d = entry["spawn"][str(n)] = {}
                for m in who:
                    if m == "floor":
                        d[m] = scenarios.spawn_floor(ctx, n, like_tuiman=False)
                    elif m == "floor_pipes":
                        d[m] = scenarios.spawn_floor(ctx, n, like_tuiman=True)
                    else:
                        d[m] = scenarios.spawn(ctx, m, n, extras=n == max(cfg["sizes"]))
                log(f"  spawn {n}: " + ", ".join(f"{m} {fmt_ms(d[m].get('seconds'))}" for m in who))
            entry["session"] = {}
            for m in order:
                s = entry["session"][m] = scenarios.session(
                    ctx, m, cfg["session_n"], cfg["idle_window"], cfg["kills"]
                )
                log(
                    f"  session {m}: idle {fmt_num(s.get('idle_cpu_pct'))} %, "
                    f"rss {fmt_num((s.get('rss_kib') or 0) / 1024)} MiB, respawn "
                    f"{[fmt_ms(x) for x in s.get('respawn', [])]}, stop {s.get('stop')}"
                )
            if results["tui"]["available"]:
                entry["tui_session"] = scenarios.tui_session(
                    ctx, cfg["session_n"], cfg["idle_window"]
                )
                log(f"  TUI session: {entry['tui_session']}")
            entry["crash"] = {}
            for m in order:
                c = entry["crash"][m] = scenarios.crash_loop(ctx, m, cfg["crash_window"])
                log(f"  crash {m}: {c}")
            entry["throughput"] = {}
            for m in order:
                t = entry["throughput"][m] = throughput.measure(
                    ctx, m, cfg["throughput_n"], cfg["throughput_window"]
                )
                log(f"  output {throughput.summary(m, t)}")
            save(results, t_start, ctx)
        log("--- start-up, phase by phase (bench/startup.py)")
        import startup

        results["startup"] = startup.run(quick)
        save(results, t_start, ctx)
        log("--- thousands of processes (bench/scale.py), once per run")
        import scale

        # the TUI with 5 000 processes is ui_bench's scale scenario below: not taken twice
        results["scale"] = scale.run(ctx, quick, with_tui=False)
        save(results, t_start, ctx)
        if results["tui"]["available"]:
            log("--- the UI under load (bench/ui_bench.py's load scenario)")
            results["ui_load"] = scenarios.ui_load(quick)
            log(f"  UI load: {results['ui_load']}")
            save(results, t_start, ctx)
            log("--- the UI with 5 000 processes (bench/ui_bench.py's scale scenario)")
            import ui_bench  # bench/ is on sys.path (as scenarios.ui_load imports it)

            results["ui_scale"] = ui_bench.bench_summary(ui_bench.scale_scenario, quick)
            log(f"  UI scale: {results['ui_scale']}")
            save(results, t_start, ctx)
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        scenarios.teardown(ctx, None)
        save(results, t_start, ctx)
        return 130
    finally:
        scenarios.teardown(ctx, None)
        left = ctx.leftovers()
        results["meta"]["left_behind"] = len(left)
        if left:
            log(f"ERROR: {len(left)} processes of this run are still alive: {left[:10]}")
        if options.keep:
            log(f"run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    results["meta"]["loadavg_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    save(results, t_start, ctx)
    text = report.render(results)
    output.write_text(text + "\n")
    print(text)
    log(f"written: {output}")
    return 0


def run_scale_only(options, ctx, results, t_start, run_dir) -> int:  # type: ignore[no-untyped-def]
    """`--scale`: bench/scale.py alone; its table is printed, nothing else is written."""
    import report
    import scale
    import scenarios

    who = options.scale_only_for.split(",") if options.scale_only_for else None
    sizes = [int(x) for x in options.scale_sizes.split(",")] if options.scale_sizes else None
    baseline = options.scale_baseline.resolve() if options.scale_baseline else None
    try:
        results["scale"] = scale.run(ctx, options.quick, who, baseline, sizes)
    except KeyboardInterrupt:
        return 130
    finally:
        scenarios.teardown(ctx, None)
        save(results, t_start, ctx, name="results-scale.json")
        if not options.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print("\n".join(report.scale_section(results["scale"])))
    return 0


def several_runs(argv: list[str], runs: int, output: Path | None) -> int:
    """`--runs N`: N full runs one after the other, each in a fresh harness process; each
    run's raw numbers stay in bench/.out/results-run-K.json."""
    import report

    rest = strip_option(strip_option(argv, "--runs"), "--output")
    kept = []
    for k in range(1, runs + 1):
        print(f"=== full run {k} of {runs}", file=sys.stderr, flush=True)
        one = OUT_DIR / f"BENCHMARKS-run-{k}.md"
        done = subprocess.run([sys.executable, str(Path(__file__)), *rest, "--output", str(one)])
        if done.returncode != 0:
            print(f"error: full run {k} failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
        kept.append(OUT_DIR / f"results-run-{k}.json")
        shutil.copyfile(OUT_DIR / "results.json", kept[-1])
    *earlier, last = (json.loads(path.read_text()) for path in kept)
    text = report.render(last, earlier)
    destination = output or (
        OUT_DIR / "BENCHMARKS-quick.md" if last["config"].get("quick") else REPO / "BENCHMARKS.md"
    )
    destination.write_text(text + "\n")
    print(text)
    return 0


def strip_option(argv: list[str], name: str) -> list[str]:
    """argv without `name VALUE` / `name=VALUE`."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept


def save(results: dict, t_start: float, ctx=None, name: str = "results.json") -> None:  # type: ignore[no-untyped-def]
    results["meta"]["duration_s"] = time.perf_counter() - t_start
    if ctx is not None:
        results["meta"]["gate"] = {
            "samples": ctx.background,
            "waited_s": scenarios_gate_budget() - ctx.gate_budget,
        }
    (OUT_DIR / name).write_text(json.dumps(results, indent=1, default=str))


def scenarios_gate_budget() -> float:
    import scenarios

    return scenarios.Context.gate_budget  # the dataclass default: the whole run's budget


def fmt_ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"


def fmt_num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"error: {name} not found on PATH")
    return os.path.realpath(path)


def sweep_stale(procfs) -> None:  # type: ignore[no-untyped-def]
    """Kill what an earlier, interrupted harness run left behind (its harness pid is gone)."""
    prefixes = [b"\0" + name.encode() + b"=" for name in (procfs.RUN_ENV, procfs.TAG_ENV)]
    mine = os.environ[procfs.RUN_ENV]
    for pid in procfs.scan([], prefixes):
        env = b"\0" + procfs.environ(pid)
        prefix = next((p for p in prefixes if p in env), None)
        if prefix is None:
            continue  # it exited (or exec'd) since the scan
        start = env.find(prefix) + len(prefix)
        value = env[start : env.find(b"\0", start)].decode(errors="replace")
        if value == mine or value.startswith(mine + "-"):
            continue
        owner = value.split("-")[0]
        if owner.isdigit() and procfs.is_alive(int(owner)):
            continue  # another harness run is going on: leave it alone
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    procfs.reap_adopted()


def machine_info(ctx) -> dict:  # type: ignore[no-untyped-def]
    import managers

    cpu_model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    libs = {}
    from importlib import metadata

    for name in ("pyzmq", "tornado", "psutil", "circus", "supervisor", "textual"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            libs[name] = metadata.version(name)
    git = "?"
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "tuiman"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        git = head + (" + uncommitted changes under tuiman/" if dirty else "")
    bin_ = ctx.venv_bin
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "kernel": os.uname().release,
        "mem_gib": mem_kib / 1024 / 1024,
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "python": sys.version.split()[0],
        "versions": {
            "tuiman": managers.version_of([str(bin_ / "tuiman"), "--version"]),
            "circus": managers.version_of([str(bin_ / "circusd"), "--version"]),
            "supervisord": managers.version_of([str(bin_ / "supervisord"), "--version"]),
        },
        "libs": libs,
        "git": git,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

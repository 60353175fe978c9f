"""Output throughput: N children print numbered 100-byte lines as fast as they can, for a few
seconds, and each manager writes them to log files (bench/README.md#output-throughput).

    python3 bench/throughput.py [--quick] [-n 20] [--seconds 10] [--only tuiman]

runs this scenario alone (inside bench/.venv-bench, like run.py); `bench/run.py` runs it in
every repetition, interleaved with the other managers.

Each child (this file with `--child`) waits for a start file, then writes lines
`PPPPPPP SSSSSSSSSS xxx…x\\n` (its pid, a sequence number, filler: 100 bytes) through an
8 KiB buffer, as a C program's stdio does on a pipe, timing every write(2) and keeping the
longest; from /proc/thread-self/schedstat it also tells how much of that write it waited for a
CPU (a loaded machine, not the manager), and the longest time it slept in a write on a full
pipe, which is the manager not reading (the schedstat CPU time of a running thread may lag by
a scheduler tick, a few ms). After the window it writes what it sent and those times to a
result file and sleeps until it is killed (so no manager respawns it). The harness then
waits until the log files hold every byte the children wrote (or stop growing), and checks
every line: a line that is not exactly what its child wrote is mangled, a sequence number
missing in a child's lines is lost, one seen twice or out of order is a duplicate.

What each manager writes to (its own way of sending output to files, no prefix):
tuiman `[watchers.w.output] file`, `line_format = "raw"`, one file for all; Circus one
watcher per child with its own `FileStream` (Circus writes the 1 KiB chunks it reads, so
children sharing one file would mangle each other's lines); supervisord one
`stdout_logfile` per process. Nothing rotates (`max_bytes = 0`). tuiman runs
`--headless --json --no-output`: the lines go to the files, not also to its stdout, as
with the others.
"""

from __future__ import annotations

import os
import sys
import time

LINE_BYTES = 100
BUFFER_BYTES = 8192  # stdio's buffer on a pipe
LINES_PER_WRITE = BUFFER_BYTES // LINE_BYTES


def child(out_dir: str, seconds: float) -> None:
    """The workload: runs in each managed process. Stdlib only, imported first thing."""
    go = os.path.join(out_dir, "go")
    while not os.path.exists(go):
        time.sleep(0.005)
    pid = os.getpid()
    filler = b"x" * (LINE_BYTES - 20)
    template = b"%07d %010d " + filler + b"\n"
    clock = time.perf_counter
    seq = 0
    longest = longest_runnable = asleep = 0.0
    # This thread's (CPU time, time runnable but waiting for a CPU) in ns: what a write(2)
    # took beyond both, it slept on a full pipe, waiting for the manager to read.
    schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    started = time.time()
    deadline = clock() + seconds
    while clock() < deadline:
        data = b"".join([template % (pid, s) for s in range(seq, seq + LINES_PER_WRITE)])
        seq += LINES_PER_WRITE
        view = memoryview(data)
        before = os.pread(schedstat, 64, 0)
        t0 = clock()
        while view:
            view = view[os.write(1, view) :]
        took = clock() - t0
        if took > longest or took > asleep:
            cpu0, runnable0 = before.split()[:2]
            cpu1, runnable1 = os.pread(schedstat, 64, 0).split()[:2]
            runnable = (int(runnable1) - int(runnable0)) / 1e9
            asleep = max(asleep, took - runnable - (int(cpu1) - int(cpu0)) / 1e9)
            if took > longest:
                longest, longest_runnable = took, runnable
    ended = time.time()
    result = f'{{"pid": {pid}, "lines": {seq}, "longest_write": {longest}, '
    result += f'"longest_runnable": {longest_runnable}, "asleep": {asleep}, '
    result += f'"started": {started}, "ended": {ended}}}\n'
    tmp = os.path.join(out_dir, f"{pid}.tmp")
    with open(tmp, "w") as f:
        f.write(result)
    os.rename(tmp, os.path.join(out_dir, f"{pid}.json"))
    while True:
        time.sleep(3600)


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    child(sys.argv[2], float(sys.argv[3]))
    raise SystemExit(0)

# ------------------------------------------------------------------------------ the harness
import json  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import managers  # noqa: E402
import procfs  # noqa: E402
import scenarios  # noqa: E402
from managers import CIRCUS, SUPERVISOR, TUIMAN, Launch, Workload  # noqa: E402

HERE = Path(__file__).resolve()
# tuiman also prints every line as JSON on its stdout (a file), as `--headless --json` does by
# default: what that costs on top (`--print-output`); off in run.py, for a like-for-like figure.
PRINT_OUTPUT = False
LINE_RE = re.compile(rb"(\d{7}) (\d{10}) x{80}")


def configure(
    ctx: scenarios.Context, manager: str, name: str, work: Workload, logs: Path
) -> Launch:
    """The scenario's config: the run's usual one plus output to files."""
    launch = managers.write_config(manager, ctx.venv_bin, ctx.run_dir, name, work)
    logs.mkdir()
    if manager == TUIMAN:
        text = managers.tuiman_toml(work) + (
            "\n[watchers.w.output]\n"
            f"file = {json.dumps(str(logs / 'w.log'))}\n"
            'line_format = "raw"\n'
            "max_bytes = 0\n"
        )
        if not PRINT_OUTPUT:
            launch.argv.append("--no-output")
    elif manager == CIRCUS:
        head = managers.circus_ini(ctx.run_dir, name, work).split("[watcher:w]")[0]
        parts = [head]
        for index in range(work.numprocesses):
            parts.append(
                f"[watcher:w{index}]\n"
                f"cmd = {shlex.join(work.argv)}\n"
                "numprocesses = 1\n"
                "stdout_stream.class = FileStream\n"
                f"stdout_stream.filename = {logs / f'w{index}.log'}\n"
                "\n"
                f"[env:w{index}]\n"
                f"{procfs.TAG_ENV} = {work.tag}\n\n"
            )
        text = "".join(parts)
    elif manager == SUPERVISOR:
        text = managers.supervisor_conf(ctx.run_dir, name, work) + (
            f"stdout_logfile = {logs}/%%(program_name)s_%%(process_num)03d.log\n"
            "stdout_logfile_maxbytes = 0\n"
        )
    else:
        raise ValueError(manager)
    launch.config.write_text(text)
    return launch


def start(ctx: scenarios.Context, manager: str, n: int, seconds: float) -> scenarios.Running:
    name = ctx.name(f"{manager}-throughput")
    tag = ctx.tag(name)
    results = ctx.run_dir / f"{name}-results"
    results.mkdir()
    argv = [sys.executable, str(HERE), "--child", str(results), repr(seconds)]
    launch = configure(ctx, manager, name, Workload(argv, n, tag), ctx.run_dir / f"{name}-logs")
    return scenarios.launch_manager(ctx, manager, name, tag, launch)


def log_bytes(logs: Path) -> int:
    return sum(path.stat().st_size for path in logs.iterdir())


def check_lines(logs: Path, sent: dict[int, int]) -> dict[str, int]:
    """Every line of every log file against what the children sent (see the module's doc)."""
    next_seq: dict[int, int] = dict.fromkeys(sent, 0)
    intact = mangled = duplicated = 0
    for path in sorted(logs.iterdir()):
        rest = b""
        with open(path, "rb") as f:
            while block := f.read(1 << 24):
                block = rest + block
                cut = block.rfind(b"\n") + 1
                rest = block[cut:]
                for line in block[:cut].split(b"\n")[:-1]:
                    match = LINE_RE.fullmatch(line)
                    pid = int(match[1]) if match else -1
                    if pid not in next_seq:
                        mangled += 1
                        continue
                    seq = int(match[2])  # type: ignore[index]
                    if seq < next_seq[pid]:
                        duplicated += 1
                        continue
                    next_seq[pid] = seq + 1  # a jump forward: the lines between are lost
                    intact += 1
        if rest:
            mangled += 1  # an unterminated last line
    return {
        "intact": intact,
        "lost": sum(sent.values()) - intact,
        "mangled": mangled,
        "duplicated": duplicated,
    }


def measure(ctx: scenarios.Context, manager: str, n: int, seconds: float) -> dict[str, Any]:
    """One manager, one window: lines/s into the files, CPU per 100k lines, longest write."""
    result: dict[str, Any] = {"background_pct": scenarios.quiet_gate(ctx)}
    running = start(ctx, manager, n, seconds)
    results = ctx.run_dir / f"{running.name}-results"
    logs = ctx.run_dir / f"{running.name}-logs"
    try:
        if scenarios.wait_count(running, n, timeout=60) is None:
            result["error"] = "processes never all alive"
            return result
        pid = running.proc.pid
        helpers = running.tracker.helpers()
        c0, h0 = procfs.cpu_seconds(pid), scenarios.cpu_of(helpers)
        (results / "go").touch()
        deadline = time.monotonic() + seconds + 60
        while len(list(results.glob("*.json"))) < n:
            if time.monotonic() > deadline or running.proc.poll() is not None:
                result["error"] = "children never finished"
                return result
            time.sleep(0.05)
        reports = [json.loads(p.read_text()) for p in results.glob("*.json")]
        expected = sum(r["lines"] for r in reports) * LINE_BYTES
        # Wait until the files hold every byte sent, or have stopped growing for 2 s.
        size, still_since = log_bytes(logs), time.monotonic()
        while size < expected and time.monotonic() - still_since < 2.0:
            time.sleep(0.02)
            now_size = log_bytes(logs)
            if now_size != size:
                size, still_since = now_size, time.monotonic()
        t_end = time.time()
        c1, h1 = procfs.cpu_seconds(pid), scenarios.cpu_of(helpers)
        counts = check_lines(logs, {r["pid"]: r["lines"] for r in reports})
        elapsed = t_end - min(r["started"] for r in reports)
        cpu = None if c0 is None or c1 is None else c1 - c0
        cpu_helpers = sum(h1[p] - h0[p] for p in h1 if p in h0)
        result.update(
            counts,
            sent=sum(r["lines"] for r in reports),
            seconds=elapsed,
            lines_per_s=counts["intact"] / elapsed,
            cpu_s=cpu,
            helper_cpu_s=cpu_helpers,
            cpu_per_100k=None
            if cpu is None or not counts["intact"]
            else (cpu + cpu_helpers) / counts["intact"] * 100_000,
            longest_write_ms=max(r["longest_write"] for r in reports) * 1000,
            # Of that longest write, the time its child waited for a CPU (the machine's load);
            # and the longest time any child slept in a write, its pipe full: on the manager.
            longest_write_runnable_ms=max(reports, key=lambda r: r["longest_write"])[
                "longest_runnable"
            ]
            * 1000,
            longest_asleep_ms=max(r["asleep"] for r in reports) * 1000,
        )
    finally:
        scenarios.teardown(ctx, running)
        shutil.rmtree(logs, ignore_errors=True)  # up to a GB per manager
    return result


def summary(manager: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{manager} {r['error']}"
    return (
        f"{manager} {r['lines_per_s']:,.0f} lines/s, {r['cpu_per_100k']:.3f} CPU s/100k, "
        f"longest write {r['longest_write_ms']:.0f} ms "
        f"({r['longest_write_runnable_ms']:.0f} ms waiting for a CPU), "
        f"longest asleep on a full pipe {r['longest_asleep_ms']:.0f} ms, lost {r['lost']}, "
        f"mangled {r['mangled']}, duplicated {r['duplicated']}"
    )


def main(argv: list[str]) -> int:
    import argparse
    import random
    import tempfile

    import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 3 s window")
    parser.add_argument("-n", type=int, default=20, help="children (default 20)")
    parser.add_argument("--seconds", type=float, help="window per manager (default 10)")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--only", choices=managers.MANAGERS, action="append")
    parser.add_argument(
        "--print-output", action="store_true", help="tuiman also prints every line (JSON)"
    )
    options = parser.parse_args(argv)
    global PRINT_OUTPUT
    PRINT_OUTPUT = options.print_output
    if os.environ.get(run.IN_VENV_FLAG) != "1" or Path(sys.prefix).resolve() != run.VENV.resolve():
        run.ensure_venv()
        env = dict(os.environ, **{run.IN_VENV_FLAG: "1"})
        os.execve(str(run.VENV_PY), [str(run.VENV_PY), str(HERE), *argv], env)
    run_id = f"{os.getpid()}-{os.urandom(3).hex()}"
    os.environ[procfs.RUN_ENV] = run_id
    procfs.set_child_subreaper()
    run_dir = Path(tempfile.mkdtemp(prefix="tuiman-bench-"))
    ctx = scenarios.Context(
        venv_bin=run.VENV / "bin",
        run_dir=run_dir,
        run_id=run_id,
        env=dict(os.environ),
        sleep=run.which("sleep"),
        sh=run.which("sh"),
        false=run.which("false"),
        rng=random.Random(6),
    )
    seconds = options.seconds or (3.0 if options.quick else 10.0)
    who = options.only or list(managers.MANAGERS)
    try:
        for rep in range(options.reps):
            order = who[rep % len(who) :] + who[: rep % len(who)]
            for manager in order:
                r = measure(ctx, manager, options.n, seconds)
                print(json.dumps({manager: r}), flush=True)
                scenarios.log(summary(manager, r))
    finally:
        scenarios.teardown(ctx, None)
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main(sys.argv[1:]))

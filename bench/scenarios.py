"""The measurements. Each function starts what it needs, measures, and tears everything down.

Timing is wall clock (`time.perf_counter`) on the harness side; CPU and memory come from /proc.
The harness polls the process table itself, so "alive" means the same thing for every manager:
a child of the manager whose environment (after exec) carries this run's tag.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import random
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import managers
import procfs
from managers import CIRCUS, REAP_PERIOD, SUPERVISOR, TUIMAN, Launch, Workload

POLL_SPAWN = 0.005
POLL_RESPAWN = 0.002
POLL_STOP = 0.005


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S ") + message, file=sys.stderr, flush=True)


@dataclass
class Context:
    venv_bin: Path
    run_dir: Path
    run_id: str
    env: dict[str, str]  # the harness' environment plus RUN_ENV, inherited by every manager
    sleep: str
    sh: str
    false: str
    rng: random.Random
    counter: int = 0
    popen_pids: set[int] = field(default_factory=set)  # our own Popen children (not adopted)
    gate_budget: float = 90.0  # seconds the quiet gate may wait in a whole run
    background: list[float] = field(default_factory=list)  # other load seen at each gate

    def name(self, label: str) -> str:
        self.counter += 1
        return f"{self.counter:03d}-{label}"

    def tag(self, name: str) -> str:
        return f"{self.run_id}-{name}"

    @property
    def run_needle(self) -> bytes:
        return procfs.env_needle(procfs.RUN_ENV, self.run_id)

    @property
    def tag_prefix(self) -> bytes:
        """Matches every workload tag of this run. Needed on top of run_needle: a manager may
        give its children a fresh environment (Circus' copy_env = false), dropping RUN_ENV."""
        return b"\0" + f"{procfs.TAG_ENV}={self.run_id}-".encode()

    def leftovers(self) -> list[int]:
        return procfs.scan([self.run_needle], [self.tag_prefix])


@dataclass
class Running:
    manager: str
    name: str
    tag: str
    launch: Launch
    proc: subprocess.Popen[bytes]
    tracker: procfs.Tracker
    t_launch: float
    files: list[Any]


def start(
    ctx: Context,
    manager: str,
    label: str,
    work_argv: list[str],
    n: int,
    flapping_plugin: bool = False,
) -> Running:
    name = ctx.name(f"{manager}-{label}")
    tag = ctx.tag(name)
    work = Workload(work_argv, n, tag, flapping_plugin)
    launch = managers.write_config(manager, ctx.venv_bin, ctx.run_dir, name, work)
    return launch_manager(ctx, manager, name, tag, launch)


def launch_manager(ctx: Context, manager: str, name: str, tag: str, launch: Launch) -> Running:
    """Start a manager from its written config, in its own session, its output to its files."""
    out = open(launch.stdout, "wb")  # noqa: SIM115 (closed by teardown)
    err = open(launch.stderr, "wb")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        launch.argv,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        env=ctx.env,
        cwd=ctx.run_dir,
        start_new_session=True,
    )
    ctx.popen_pids.add(proc.pid)
    return Running(manager, name, tag, launch, proc, procfs.Tracker(proc.pid, tag), t0, [out, err])


def teardown(ctx: Context, running: Running | None) -> list[int]:
    """SIGKILL the manager's group, then sweep everything this harness run started."""
    if running is not None:
        procfs.killpg(running.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            running.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            running.proc.wait(10)
        ctx.popen_pids.discard(running.proc.pid)
        for f in running.files:
            f.close()
    left = procfs.sweep([ctx.run_needle], [ctx.tag_prefix], timeout=10.0, keep=ctx.popen_pids)
    procfs.reap_adopted(ctx.popen_pids)
    if left:
        log(f"WARNING: could not kill {left}")
    time.sleep(0.3)  # let the kernel finish tearing down before the next measurement
    return left


def quiet_gate(ctx: Context, threshold: float = 50.0, max_wait: float = 5.0) -> float:
    """Before a measurement: wait (bounded) until other work on the machine uses less than
    `threshold` % of one core; record and return the load seen. Nothing of ours runs now."""
    t_start = time.perf_counter()
    while True:
        b0, s0, t0 = procfs.system_busy_seconds(), procfs.self_cpu_seconds(), time.perf_counter()
        time.sleep(0.25)
        b1, s1, t1 = procfs.system_busy_seconds(), procfs.self_cpu_seconds(), time.perf_counter()
        other = max(0.0, (b1 - b0 - (s1 - s0)) / (t1 - t0) * 100)
        waited = time.perf_counter() - t_start
        if other < threshold or waited > max_wait or waited > ctx.gate_budget:
            break
    ctx.gate_budget -= waited
    ctx.background.append(other)
    return other


def wait_count(
    running: Running, n: int, timeout: float, interval: float = POLL_SPAWN
) -> float | None:
    """perf_counter time when n tagged processes are children of the manager, or None."""
    deadline = time.perf_counter() + timeout
    while True:
        if len(running.tracker.poll()) >= n:
            return time.perf_counter()
        if running.proc.poll() is not None:
            log(
                f"{running.name}: manager exited with {running.proc.returncode} "
                f"(see {running.launch.stderr})"
            )
            return None
        if time.perf_counter() > deadline:
            log(f"{running.name}: only {len(running.tracker.poll())}/{n} alive after {timeout:g}s")
            return None
        time.sleep(interval)


def cpu_of(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        value = procfs.cpu_seconds(pid)
        if value is not None:
            out[pid] = value
    return out


# ---------------------------------------------------------------------------------- 1. spawn
def spawn(ctx: Context, manager: str, n: int, extras: bool = False) -> dict[str, Any]:
    """Launch -> n `sleep 3600` alive; with `extras`, threads and RSS once they are."""
    result: dict[str, Any] = {"background_pct": quiet_gate(ctx)}
    running = start(ctx, manager, f"spawn{n}", [ctx.sleep, "3600"], n)
    try:
        t_all = wait_count(running, n, timeout=60 + n * 0.25)
        result["seconds"] = None if t_all is None else t_all - running.t_launch
        if t_all is not None and extras:
            pid = running.proc.pid
            result["threads"] = procfs.threads(pid)
            result["rss_kib"] = procfs.rss_kib(pid)
            time.sleep(1.0)  # threads that appear a little later (pools, printers) count too
            later = procfs.threads(pid)
            if later is not None and (result["threads"] is None or later > result["threads"]):
                result["threads"] = later
    finally:
        teardown(ctx, running)
    return result


def spawn_floor(ctx: Context, n: int, like_tuiman: bool) -> dict[str, Any]:
    """The raw floor: a bare `subprocess.Popen` loop in the harness itself.

    like_tuiman adds what tuiman asks of every spawn (docs/supervision.md#spawn): stdin from
    /dev/null, stdout and stderr on pipes, a new session; close_fds is Popen's default either way.
    """
    name = ctx.name("floor-pipes" if like_tuiman else "floor")
    tag = ctx.tag(name)
    env = dict(ctx.env)
    env[procfs.TAG_ENV] = tag
    argv = [ctx.sleep, "3600"]
    procs: list[subprocess.Popen[bytes]] = []
    tracker = procfs.Tracker(os.getpid(), tag)
    background = quiet_gate(ctx)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            if like_tuiman:
                p = subprocess.Popen(
                    argv,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            else:
                p = subprocess.Popen(argv, env=env)
            procs.append(p)
            ctx.popen_pids.add(p.pid)
        deadline = t0 + 60
        while len(tracker.poll()) < n and time.perf_counter() < deadline:
            time.sleep(POLL_SPAWN)
        t_all = time.perf_counter()
        return {"seconds": t_all - t0, "background_pct": background}
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
        for p in procs:
            p.wait()
            for pipe in (p.stdout, p.stderr):
                if pipe is not None:
                    pipe.close()
            ctx.popen_pids.discard(p.pid)
        teardown(ctx, None)


# ------------------------------------------------------------ 2-5. one session of 100 processes
def session(ctx: Context, manager: str, n: int, idle_window: float, kills: int) -> dict[str, Any]:
    """100 `sleep 3600`: idle CPU, RSS, respawn after SIGKILL, then stop -> all gone."""
    result: dict[str, Any] = {"gate_background_pct": quiet_gate(ctx)}
    running = start(ctx, manager, f"session{n}", [ctx.sleep, "3600"], n)
    try:
        t_all = wait_count(running, n, timeout=60 + n * 0.25)
        if t_all is None:
            result["error"] = "processes never all alive"
            return result
        time.sleep(3.0)  # settle: supervisord's startsecs, first periodic ticks
        result.update(idle(running, idle_window))
        result["respawn"] = respawn(ctx, running, kills)
        time.sleep(0.5)
        result["stop"] = stop(ctx, running)
    finally:
        teardown(ctx, running)
    return result


def idle(running: Running, window: float) -> dict[str, Any]:
    pid = running.proc.pid
    helpers = running.tracker.helpers()
    b0, s0 = procfs.system_busy_seconds(), procfs.self_cpu_seconds()
    c0, h0, t0 = procfs.cpu_seconds(pid), cpu_of(helpers), time.perf_counter()
    time.sleep(window)
    c1, h1, t1 = procfs.cpu_seconds(pid), cpu_of(helpers), time.perf_counter()
    b1, s1 = procfs.system_busy_seconds(), procfs.self_cpu_seconds()
    elapsed = t1 - t0
    helper_cpu = sum(h1[p] - h0[p] for p in h1 if p in h0)
    ours = (0 if c0 is None or c1 is None else c1 - c0) + helper_cpu + (s1 - s0)
    return {
        "idle_cpu_pct": None if c0 is None or c1 is None else (c1 - c0) / elapsed * 100,
        "helper_cpu_pct": helper_cpu / elapsed * 100,
        # CPU used on this machine by everything else meanwhile (other users' work), % of a core
        "background_pct": max(0.0, (b1 - b0 - ours) / elapsed * 100),
        "helpers": len(helpers),
        "rss_kib": procfs.rss_kib(pid),
        "pss_tree_kib": sum(filter(None, (procfs.pss_kib(p) for p in [pid, *helpers]))),
        "threads": procfs.threads(pid),
    }


def respawn(ctx: Context, running: Running, kills: int) -> list[float | None]:
    """SIGKILL one random process, time until a new tagged child appears; `kills` times.

    Each kill waits a random time in [0, P) first, P being the manager's reaping period (Circus:
    check_delay = 5 s; supervisord: its 1 s select timeout; tuiman: 1 s), so kills land at a
    random phase of any periodic loop instead of right after the tick that did the last respawn.
    """
    latencies: list[float | None] = []
    for _ in range(kills):
        time.sleep(ctx.rng.uniform(0, REAP_PERIOD[running.manager]))
        known = set(running.tracker.tagged)
        victims = sorted(p for p in running.tracker.poll() if procfs.is_alive(p))
        if not victims:
            latencies.append(None)
            continue
        victim = ctx.rng.choice(victims)
        deadline = time.perf_counter() + 20.0
        t0 = time.perf_counter()
        os.kill(victim, signal.SIGKILL)
        latency = None
        while time.perf_counter() < deadline:
            if any(p not in known for p in running.tracker.poll()):
                latency = time.perf_counter() - t0
                break
            time.sleep(POLL_RESPAWN)
        latencies.append(latency)
        if latency is None:
            log(f"{running.name}: no respawn within 20 s")
    return latencies


def stop(ctx: Context, running: Running) -> dict[str, Any]:
    """SIGTERM (each manager's quit signal) -> no tagged process alive; orphans afterwards."""
    pending = {p for p in running.tracker.poll() if procfs.is_alive(p)}
    count = len(pending)
    t0 = time.perf_counter()
    os.kill(running.proc.pid, signal.SIGTERM)
    t_gone = t_exit = None
    deadline = t0 + 90
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if t_exit is None and running.proc.poll() is not None:
            t_exit = now
        if t_exit is None:
            pending |= running.tracker.poll()  # anything (re)spawned while stopping
        pending = {p for p in pending if procfs.is_alive(p)}
        if not pending and t_gone is None:
            t_gone = now
        if t_gone is not None and t_exit is not None:
            break
        if t_exit is not None and now - t_exit > 2.0:
            break  # the manager is gone and left processes behind: orphans
        time.sleep(POLL_STOP)
    if t_exit is not None:
        time.sleep(1.0)
    orphans = procfs.scan([procfs.env_needle(procfs.TAG_ENV, running.tag)])
    return {
        "processes": count,
        "all_gone": None if t_gone is None else t_gone - t0,
        "manager_exit": None if t_exit is None else t_exit - t0,
        "orphans": len(orphans),
        "exit_code": running.proc.returncode,
    }


# ------------------------------------------------------------------------------ 6. crash loop
def crash_loop(ctx: Context, manager: str, window: float) -> dict[str, Any]:
    """cmd = `false` (through sh, to count spawns by lines): spawns, CPU, final state.

    The window starts at the first spawn, so the interpreter start-up of the manager does not
    count as crash-loop CPU. Circus runs with its flapping plugin (its only way to give up).
    """
    name_hint = f"{ctx.counter + 1:03d}-{manager}-crash"
    count_file = ctx.run_dir / f"{name_hint}.count"
    argv = [
        ctx.sh,
        "-c",
        f"echo x >> {shlex.quote(str(count_file))}; exec {shlex.quote(ctx.false)}",
    ]
    result: dict[str, Any] = {"background_pct": quiet_gate(ctx)}
    running = start(ctx, manager, "crash", argv, 1, flapping_plugin=(manager == CIRCUS))
    assert running.name == name_hint
    try:
        deadline = time.perf_counter() + 30
        while not count_file.exists() or not count_file.stat().st_size:
            if time.perf_counter() > deadline or running.proc.poll() is not None:
                result["error"] = "never spawned"
                return result
            time.sleep(POLL_SPAWN)
        t_first = time.perf_counter()
        pid = running.proc.pid
        c0 = procfs.cpu_seconds(pid)
        helpers = running.tracker.helpers()
        h0 = cpu_of(helpers)
        time.sleep(max(0.0, t_first + window - time.perf_counter()))
        c1 = procfs.cpu_seconds(pid)
        h1 = cpu_of(helpers)
        elapsed = time.perf_counter() - t_first
        spawns = len(count_file.read_bytes().splitlines())
        result.update(
            spawns=spawns,
            cpu_pct=None if c0 is None or c1 is None else (c1 - c0) / elapsed * 100,
            helper_cpu_pct=sum(h1[p] - h0[p] for p in h1 if p in h0) / elapsed * 100,
            state=managers.query_state(
                manager, ctx.venv_bin, running.launch, ctx.run_dir, running.name
            ),
        )
    finally:
        teardown(ctx, running)
    return result


# ------------------------------------------------------------------------------ 7. --version
def version_times(ctx: Context, order: list[str], runs: int) -> dict[str, list[float]]:
    argv = {
        TUIMAN: [str(ctx.venv_bin / "tuiman"), "--version"],
        CIRCUS: [str(ctx.venv_bin / "circusd"), "--version"],
        SUPERVISOR: [str(ctx.venv_bin / "supervisord"), "--version"],
    }
    times: dict[str, list[float]] = {m: [] for m in order}
    quiet_gate(ctx)
    for m in order:  # warm-up: page cache and bytecode caches
        subprocess.run(argv[m], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ctx.env)
    for _ in range(runs):
        for m in order:
            t0 = time.perf_counter()
            subprocess.run(
                argv[m], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ctx.env
            )
            times[m].append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------------------------- the TUI
UI_MARKERS = (b"\x1b[?1049h",)  # switching to the alternate screen: a full-screen UI


@dataclass
class PtyRun:
    pid: int
    master: int
    output: bytearray
    thread: threading.Thread
    t_launch: float


def start_in_pty(
    argv: list[str], env: dict[str, str], cwd: Path, cols: int = 200, rows: int = 60
) -> PtyRun:
    """Run argv on a fresh pty as its controlling terminal (pty.fork: new session, login_tty)."""
    t0 = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:  # child: exec at once
        try:
            os.chdir(cwd)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    output = bytearray()

    def drain() -> None:  # keep reading so the UI never blocks on a full pty
        while True:
            try:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    chunk = os.read(master, 65536)
                    if not chunk:
                        return
                    if len(output) < 4 << 20:
                        output.extend(chunk)
            except OSError:
                return

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return PtyRun(pid, master, output, thread, t0)


def stop_pty(ctx: Context, run: PtyRun) -> None:
    procfs.killpg(run.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(run.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            break
        time.sleep(0.05)
    else:
        procfs.killpg(run.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(run.pid, 0)
    with contextlib.suppress(OSError):
        os.close(run.master)
    teardown(ctx, None)


def tui_argv(ctx: Context, config: Path) -> list[str]:
    return [str(ctx.venv_bin / "tuiman"), "-c", str(config)]


def detect_tui(ctx: Context) -> dict[str, Any]:
    """Does `tuiman` (no --headless) on a terminal open a full-screen UI? Looked at, not assumed."""
    name = ctx.name("tuiman-tui-detect")
    work = Workload([ctx.sleep, "3600"], 1, ctx.tag(name))
    launch = managers.write_config(TUIMAN, ctx.venv_bin, ctx.run_dir, name, work)
    env = dict(ctx.env, TERM="xterm-256color", COLUMNS="200", LINES="60")
    run = start_in_pty(tui_argv(ctx, launch.config), env, ctx.run_dir)
    try:
        deadline = time.perf_counter() + 8
        while time.perf_counter() < deadline:
            if any(m in run.output for m in UI_MARKERS):
                break
            time.sleep(0.1)
        time.sleep(0.3)
        text = bytes(run.output)
        has_ui = any(m in text for m in UI_MARKERS)
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text.decode(errors="replace"))
        said = [line.strip() for line in plain.splitlines() if line.startswith("tuiman")]
        return {"available": has_ui, "said": said[:2] if not has_ui else []}
    finally:
        stop_pty(ctx, run)


def tui_session(ctx: Context, n: int, idle_window: float) -> dict[str, Any]:
    """tuiman with its UI on a 200x60 pty, n processes: idle CPU and RSS."""
    name = ctx.name(f"tuiman-tui{n}")
    tag = ctx.tag(name)
    work = Workload([ctx.sleep, "3600"], n, tag)
    launch = managers.write_config(TUIMAN, ctx.venv_bin, ctx.run_dir, name, work)
    env = dict(ctx.env, TERM="xterm-256color")
    result: dict[str, Any] = {"gate_background_pct": quiet_gate(ctx)}
    run = start_in_pty(tui_argv(ctx, launch.config), env, ctx.run_dir)
    tracker = procfs.Tracker(run.pid, tag)
    try:
        deadline = time.perf_counter() + 60 + n * 0.25
        while len(tracker.poll()) < n:
            if time.perf_counter() > deadline:
                result["error"] = "processes never all alive"
                return result
            time.sleep(POLL_SPAWN)
        time.sleep(3.0)
        c0, t0 = procfs.cpu_seconds(run.pid), time.perf_counter()
        time.sleep(idle_window)
        c1, t1 = procfs.cpu_seconds(run.pid), time.perf_counter()
        result["idle_cpu_pct"] = None if c0 is None or c1 is None else (c1 - c0) / (t1 - t0) * 100
        result["rss_kib"] = procfs.rss_kib(run.pid)
        result["threads"] = procfs.threads(run.pid)
    finally:
        stop_pty(ctx, run)
    return result


def ui_load(quick: bool) -> dict[str, Any]:
    """The UI load of docs/ui.md#responsiveness (500 processes, 10 000 lines/s, ~100 hook
    events/s) with the UI open on a 120x40 pty: CPU, and key-to-render latency through the
    terminal (bench/ui_bench.py does the work). The processes inherit this run's
    TUIMAN_BENCH_RUN, so the harness' sweep covers them."""
    import ui_bench

    result = ui_bench.run(
        ui_bench.load_scenario,
        seconds=5.0 if quick else 10.0,
        presses=10 if quick else 30,
        settle=5.0 if quick else 10.0,
    )
    return {
        "cpu_pct": result.cpu_percent,
        "processes": result.processes,
        "lines_per_s": result.lines_per_s,
        "hooks_per_s": result.hooks_per_s,
        "help_ms": result.help_ms,
        "signal_ms": result.signal_ms,
        "move_ms": result.move_ms,
        "wrap_ms": result.wrap_ms,
        "dialog_ms": result.dialog_ms,
    }


def med(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return median(clean) if clean else None

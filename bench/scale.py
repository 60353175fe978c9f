"""Thousands of processes: tuiman vs Circus vs supervisord vs the bare Popen loop
(bench/README.md#scale).

    python3 bench/run.py --scale [--quick]      # this module only (bench venv, no repetitions)
    python3 bench/run.py                         # the full run includes it, once per run

For each N (2 000 and 5 000; --quick: 200 and 500) and each manager, one `sleep 3600` watcher
of N processes: launch → 500 alive → all N alive (the per-spawn cost from 500 to N), the PSS
of the manager and its helpers, idle CPU over a window, then SIGTERM → all gone. A run with one
process gives the baseline PSS of each manager; the PSS per child is (PSS(N) - PSS(1)) / (N - 1).
The bare floor is `subprocess.Popen` in the harness itself (plain, and with tuiman's pipes and
new session). Then, once, the TUI with N processes: idle CPU and down/up latency between two
watchers (ui_bench.Terminal).
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import managers
import procfs
import scenarios
from managers import CIRCUS, SUPERVISOR, TUIMAN, Launch, Workload
from scenarios import Context, Running, log, quiet_gate, teardown

MARK = 500  # the per-spawn cost is measured from here to N
NOFILE = 65536  # raised for the harness (and inherited by the managers) when the kernel allows


def raise_nofile() -> int:
    """Soft and hard RLIMIT_NOFILE up to NOFILE (root may raise the hard limit; others get
    their hard limit). 5 000 children need ~15 000 fds in tuiman (two pipes and a pidfd each)
    and as many in supervisord (three pipes each; its log files are off here)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((NOFILE, max(hard, NOFILE)), (hard, hard)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            break
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


BASE = "tuiman-base"  # tuiman from another checkout (--scale-baseline), for before/after


def base_launcher(ctx: Context, checkout: Path) -> None:
    """bin/tuiman-base: like run.py's bin/tuiman, on another checkout."""
    launcher = ctx.venv_bin / BASE
    python = ctx.venv_bin / "python"
    launcher.write_text(
        f"#!{python}\nimport sys\nsys.path.insert(0, {str(checkout)!r})\n"
        "from tuiman.cli import main\nsys.exit(main())\n"
    )
    launcher.chmod(0o755)


def write_config(ctx: Context, manager: str, n: int) -> tuple[Launch, str, str]:
    name = ctx.name(f"{manager}-scale{n}")
    tag = ctx.tag(name)
    launch = managers.write_config(
        TUIMAN if manager == BASE else manager,
        ctx.venv_bin,
        ctx.run_dir,
        name,
        Workload([ctx.sleep, "3600"], n, tag),
    )
    if manager == BASE:
        launch.argv[0] = str(ctx.venv_bin / BASE)
    if manager == SUPERVISOR:
        # Three pipes per process; without its two log files per process (5 000 processes with
        # them would need 25 000 fds): the output is read and dropped, as tuiman's here.
        text = launch.config.read_text().replace("minfds = 4096", f"minfds = {3 * n + 64}")
        launch.config.write_text(text + "stdout_logfile = NONE\nstderr_logfile = NONE\n")
    return launch, name, tag


def start(ctx: Context, manager: str, n: int) -> Running:
    launch, name, tag = write_config(ctx, manager, n)
    return scenarios.launch_manager(ctx, manager, name, tag, launch)


def wait_marks(running: Running, n: int, timeout: float) -> tuple[float | None, float | None]:
    """(seconds to min(MARK, n) alive, seconds to n alive), from the launch."""
    t_mark = None
    deadline = time.perf_counter() + timeout
    interval = scenarios.POLL_SPAWN if n <= 500 else 0.02  # one poll reads N children's list
    while True:
        count = len(running.tracker.poll())
        now = time.perf_counter()
        if t_mark is None and count >= min(MARK, n):
            t_mark = now - running.t_launch
        if count >= n:
            return t_mark, now - running.t_launch
        if running.proc.poll() is not None:
            log(f"{running.name}: exited with {running.proc.returncode} ({running.launch.stderr})")
            return t_mark, None
        if now > deadline:
            log(f"{running.name}: only {count}/{n} alive after {timeout:g}s")
            return t_mark, None
        time.sleep(interval)


def pss_tree(running: Running) -> int:
    pids = [running.proc.pid, *running.tracker.helpers()]
    return sum(filter(None, (procfs.pss_kib(p) for p in pids)))


def one(ctx: Context, manager: str, n: int, window: float, settle: float) -> dict[str, Any]:
    """Launch -> all alive, PSS, idle CPU, stop -> all gone, for one manager and N."""
    result: dict[str, Any] = {"background_pct": quiet_gate(ctx)}
    running = start(ctx, manager, n)
    try:
        t_mark, t_all = wait_marks(running, n, timeout=120 + n * 0.1)
        result["mark_s"], result["seconds"] = t_mark, t_all
        if t_all is None:
            result["error"] = "processes never all alive"
            return result
        if t_mark is not None and n > MARK:
            result["per_spawn_ms"] = (t_all - t_mark) / (n - MARK) * 1000
            result["per_spawn_first_ms"] = t_mark / MARK * 1000
        result["manager_cpu_s"] = procfs.cpu_seconds(running.proc.pid)
        time.sleep(settle)
        result.update(scenarios.idle(running, window))
        result["pss_tree_kib"] = pss_tree(running)  # after the window: what stays
        result["helper_pss_kib"] = {str(p): procfs.pss_kib(p) for p in running.tracker.helpers()}
        result["stop"] = scenarios.stop(ctx, running)
    finally:
        teardown(ctx, running)
    return result


def floor(ctx: Context, n: int, like_tuiman: bool) -> dict[str, Any]:
    return scenarios.spawn_floor(ctx, n, like_tuiman)


def tui(ctx: Context, n: int, window: float, presses: int) -> dict[str, Any]:
    """The UI with n processes in one watcher and one more watcher: idle CPU, down/up latency."""
    import ui_bench

    result: dict[str, Any] = {"processes": n, "gate_background_pct": quiet_gate(ctx)}
    name = ctx.name(f"tuiman-tui-scale{n}")
    tag = ctx.tag(name)
    directory = ctx.run_dir / name
    directory.mkdir()
    config = directory / "tuiman.toml"
    config.write_text(
        f'[watchers.many]\ncmd = ["{ctx.sleep}", "3600"]\nnumprocesses = {n - 1}\n'
        f'env = {{ {procfs.TAG_ENV} = "{tag}" }}\n'
        f'[watchers.other]\ncmd = ["{ctx.sleep}", "3600"]\n'
        f'env = {{ {procfs.TAG_ENV} = "{tag}" }}\n'
    )
    env = {
        **ctx.env,
        "TERM": "xterm-256color",
        "XDG_CONFIG_HOME": str(directory / "config"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    t_launch = time.perf_counter()
    terminal = ui_bench.Terminal(config, env)
    ctx.popen_pids.add(terminal.process.pid)
    try:
        tracker = procfs.Tracker(terminal.process.pid, tag)
        deadline = time.perf_counter() + 120 + n * 0.1
        while len(tracker.poll()) < n:
            if time.perf_counter() > deadline or terminal.process.poll() is not None:
                result["error"] = f"only {len(tracker.poll())}/{n} alive"
                return result
            time.sleep(0.05)
        result["alive_s"] = time.perf_counter() - t_launch
        time.sleep(5.0)  # the first full draw of n rows, ages ticking
        pid = terminal.process.pid
        c0, t_0 = procfs.cpu_seconds(pid), time.perf_counter()
        time.sleep(window)
        c1, t_1 = procfs.cpu_seconds(pid), time.perf_counter()
        if c0 is not None and c1 is not None:
            result["idle_cpu_pct"] = (c1 - c0) / (t_1 - t_0) * 100
        result["rss_kib"] = procfs.rss_kib(pid)
        move: list[float] = []
        for _ in range(presses):
            move.append(terminal.press(b"\x1b[B", b"processes \xc2\xb7 other") * 1000)
            move.append(terminal.press(b"\x1b[A", b"processes \xc2\xb7 many") * 1000)
        result["move_ms"] = move
        os.write(terminal.master, b"qy")
        with contextlib.suppress(subprocess.TimeoutExpired):
            terminal.process.wait(timeout=60)
    except TimeoutError as error:
        result["error"] = f"no render of {error}"
    finally:
        terminal.close()
        ctx.popen_pids.discard(terminal.process.pid)
        teardown(ctx, None)
    return result


def run(
    ctx: Context,
    quick: bool,
    who: list[str] | None = None,
    baseline: Path | None = None,
    sizes: list[int] | None = None,
    with_tui: bool = True,
) -> dict[str, Any]:
    """Every figure of the scale table; `who` limits the managers (default: all three);
    `baseline` adds tuiman from that checkout as `tuiman-base`."""
    sizes = sizes or ([200, 500] if quick else [2000, 5000])
    window = 5.0 if quick else 10.0
    order = list(who or [TUIMAN, CIRCUS, SUPERVISOR])
    if baseline is not None:
        base_launcher(ctx, baseline)
        order.insert(order.index(TUIMAN) + 1 if TUIMAN in order else 0, BASE)
    out: dict[str, Any] = {"sizes": sizes, "nofile": raise_nofile(), "window_s": window}
    started = time.perf_counter()
    base = out["baseline"] = {}
    for manager in order:
        base[manager] = one(ctx, manager, 1, window=2.0, settle=3.0)
        log(f"  scale baseline {manager}: pss {base[manager].get('pss_tree_kib')} KiB")
    for n in sizes:
        row = out[str(n)] = {}
        for label, pipes in (("floor", False), ("floor_pipes", True)):
            row[label] = floor(ctx, n, like_tuiman=pipes)
        for manager in order:
            entry = row[manager] = one(ctx, manager, n, window=window, settle=3.0)
            pss, pss1 = entry.get("pss_tree_kib"), base[manager].get("pss_tree_kib")
            if pss and pss1:
                entry["pss_per_child_kib"] = (pss - pss1) / (n - 1)
        log(
            f"  scale {n}: "
            + ", ".join(
                f"{m} {scenarios_fmt(row[m].get('seconds'))}"
                for m in ["floor", "floor_pipes", *order]
            )
        )
    if TUIMAN in order and with_tui:
        out["tui"] = tui(ctx, sizes[-1], window, presses=5 if quick else 10)
        log(f"  scale TUI {sizes[-1]}: {out['tui']}")
    out["duration_s"] = time.perf_counter() - started
    return out


def scenarios_fmt(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.2f} s"  # noqa: RUF001

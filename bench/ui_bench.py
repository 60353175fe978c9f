"""The full-screen UI under load: key-press-to-render latency and tuiman's CPU
(docs/ui.md#responsiveness, bench/README.md#targets).

    .venv/bin/python bench/ui_bench.py [--seconds 10] [--presses 30] [--only idle|load]

tuiman runs as a user would run it: `tuiman -c CONFIG` as the session leader of a 120x40
pseudo-terminal, its output read (and discarded) by this script. Two scenarios:

- idle: 100 `sleep` processes, nothing happening;
- load (the one of docs/ui.md#responsiveness): 500 processes — 485 idle, 10 printing 1 000
  lines/s each (10 000 lines/s), 5 that exit every 0.2 s and are respawned through four hooks
  (before/after_spawn, before/after_reap: ~100 hook events/s);
- scale: 5 000 `sleep` processes in one watcher and one more in a second watcher to move to:
  what grows with the number of processes (the processes table, the stats refresh);
- pty: one `pty = true` process printing 10 000 lines/s, drawn by the output pane's terminal
  emulator (docs/terminals.md#in-the-ui), and a sleeping watcher to move to and back;
- pipe: the same flood through pipes (the pane's line view, no emulator), for comparison.

Figures: tuiman's CPU (all its threads, % of one core) over a window with nobody typing; its
RSS; and key-to-render latency — the time from writing a key to the terminal until the bytes
that show its effect come back: `?` opens the help screen (wait for its title), `escape` closes
it; `down`/`up` move between two watchers (wait for the processes panel's new title); `k` opens
the signal picker (wait for its question); `i` and `n` open the info and scale-to dialogs;
`w` wraps the output pane's lines (wait for `wrap` in its subtitle; a second `w` unwraps,
not timed). Numbers
vary with the machine; no assertion is made on them.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SLEEP = shutil.which("sleep") or "/bin/sleep"

CHATTY = textwrap.dedent(
    """
    import os, sys, time
    count_file = os.path.join(sys.argv[1], f"lines-{os.getpid()}.count")
    out = sys.stdout
    wid = os.environ.get("WID", "?")
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    batch = max(rate // 50, 1)
    start = last_note = time.monotonic()
    count = 0
    while True:  # `rate` lines/s (default 1000), in 50 batches a second
        for _ in range(batch):
            count += 1
            out.write(f"\\x1b[36mchatty {wid}\\x1b[0m line {count} " + "x" * 40 + "\\n")
        out.flush()
        now = time.monotonic()
        if now - last_note >= 0.5:
            with open(count_file, "w") as f:
                f.write(str(count))
            last_note = now
        time.sleep(max(0.0, start + count / rate - time.monotonic()))
    """
)

HOOKS = textwrap.dedent(
    """
    import itertools, os
    _calls = itertools.count(1)
    def count(watcher, arbiter, hook_name, **kwargs):
        n = next(_calls)
        if n % 50 == 0:
            with open(os.environ["UI_BENCH_HOOK_COUNT"], "w") as f:
                f.write(str(n))
        return True
    """
)


@dataclass
class Scenario:
    name: str
    toml: str
    processes: int
    watchers: tuple[str, str]  # two adjacent watchers to move between


@dataclass
class Result:
    scenario: str
    processes: int = 0
    cpu_percent: float = 0.0
    rss_mib: float = 0.0
    threads: int = 0
    help_ms: list[float] = field(default_factory=list)
    signal_ms: list[float] = field(default_factory=list)
    move_ms: list[float] = field(default_factory=list)
    lines_per_s: float | None = None
    hooks_per_s: float | None = None
    quit_s: float = 0.0
    headless_cpu: float | None = None
    in_process_ms: list[float] = field(default_factory=list)
    wrap_ms: list[float] = field(default_factory=list)
    # the dialogs: `i` info, `n` scale to N (key-to-render, like the others)
    dialog_ms: dict[str, list[float]] = field(default_factory=dict)


def idle_scenario(directory: Path) -> Scenario:
    toml = f"""
[watchers.idle]
cmd = [{SLEEP!r}, "3600"]
numprocesses = 99
[watchers.lone]
cmd = [{SLEEP!r}, "3600"]
"""
    return Scenario("idle, 100 processes", toml, 100, ("idle", "lone"))


def load_scenario(directory: Path) -> Scenario:
    (directory / "chatty.py").write_text(CHATTY)
    (directory / "ui_bench_hooks.py").write_text(HOOKS)
    toml = f"""
[watchers.idle]
cmd = [{SLEEP!r}, "3600"]
numprocesses = 485
[watchers.chatty]
cmd = [{PYTHON!r}, "-u", {str(directory / "chatty.py")!r}, {str(directory)!r}]
numprocesses = 10
env = {{ WID = "$(tuiman.wid)" }}
[watchers.churn]
cmd = [{SLEEP!r}, "0.2"]
numprocesses = 5
[watchers.churn.restart]
reset_after = 0.1
[watchers.churn.hooks]
before_spawn = "ui_bench_hooks.count"
after_spawn = "ui_bench_hooks.count"
before_reap = "ui_bench_hooks.count"
after_reap = "ui_bench_hooks.count"
"""
    return Scenario(
        "load: 500 processes, 10 000 lines/s, ~100 hook events/s",
        toml,
        500,
        ("chatty", "churn"),
    )


def scale_scenario(directory: Path) -> Scenario:
    toml = f"""
[watchers.many]
cmd = [{SLEEP!r}, "3600"]
numprocesses = 4999
[watchers.lone]
cmd = [{SLEEP!r}, "3600"]
"""
    # by name, lone comes first and is selected: a move goes into the 5 000 and back
    return Scenario("scale: 5 000 idle processes", toml, 5000, ("lone", "many"))


def flood_scenario(directory: Path, pty: bool) -> Scenario:
    (directory / "chatty.py").write_text(CHATTY)
    toml = f"""
[watchers.flood]
cmd = [{PYTHON!r}, "-u", {str(directory / "chatty.py")!r}, {str(directory)!r}, "10000"]
pty = {"true" if pty else "false"}
[watchers.lone]
cmd = [{SLEEP!r}, "3600"]
"""
    name = "pty: one pty process" if pty else "pipe: the same without a pty"
    return Scenario(f"{name}, 10 000 lines/s, on screen", toml, 2, ("flood", "lone"))


SCENARIOS = {
    "idle": idle_scenario,
    "load": load_scenario,
    "scale": scale_scenario,
    "pty": lambda directory: flood_scenario(directory, pty=True),
    "pipe": lambda directory: flood_scenario(directory, pty=False),
}


class Terminal:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            ["setsid", "-c", PYTHON, "-m", "tuiman", "-c", str(config)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=config.parent,
            env=env,
        )
        os.close(slave)
        self.output = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.output.extend(chunk)

    def mark(self) -> int:
        with self.lock:
            return len(self.output)

    def wait_for(self, needle: bytes, since: int, timeout: float = 10.0) -> float:
        """Seconds until `needle` appears in the output after offset `since`."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            with self.lock:
                if self.output.find(needle, max(since - len(needle), 0)) != -1:
                    return time.perf_counter() - start
            time.sleep(0.0005)
        raise TimeoutError(needle)

    def press(self, key: bytes, needle: bytes) -> float:
        since = self.mark()
        os.write(self.master, key)
        return self.wait_for(needle, since)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def managed(pid: int) -> list[psutil.Process]:
    """tuiman's children except its watchdog (a fork of tuiman itself)."""
    try:
        kids = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    return [kid for kid in kids if not _is_tuiman(kid)]


def _is_tuiman(process: psutil.Process) -> bool:
    try:
        return "tuiman" in process.cmdline()
    except psutil.Error:
        return True


def run(make: Callable[[Path], Scenario], seconds: float, presses: int, settle: float) -> Result:
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as scratch:
        directory = Path(scratch)
        scenario = make(directory)
        result = Result(scenario.name)
        config = directory / "tuiman.toml"
        config.write_text(scenario.toml)
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "UI_BENCH_HOOK_COUNT": str(directory / "hooks.count"),
            "XDG_CONFIG_HOME": str(directory / "config"),
            "PYTHONPATH": str(ROOT),
        }
        terminal = Terminal(config, env)
        try:
            tuiman = psutil.Process(terminal.process.pid)
            _wait(
                lambda: len(managed(tuiman.pid)) >= scenario.processes - 5, 180, "processes started"
            )
            time.sleep(settle)  # steady state: start-up work done, ages past their first minute
            result.processes = len(managed(tuiman.pid))
            _measure_window(result, tuiman, seconds, directory)
            result.help_ms, result.move_ms, result.signal_ms = _latencies(
                terminal, presses, scenario.watchers
            )
            result.wrap_ms = _wrap_latencies(terminal, presses)
            result.dialog_ms = _dialog_latencies(terminal, presses)
            quit_started = time.perf_counter()
            os.write(terminal.master, b"qy")  # q asks first; y confirms
            terminal.process.wait(timeout=60)
            result.quit_s = time.perf_counter() - quit_started
        finally:
            terminal.close()
    return result


def _measure_window(
    result: Result, tuiman: psutil.Process, seconds: float, directory: Path
) -> None:
    hooks_before, lines_before = _read_int(directory / "hooks.count"), _lines(directory)
    cpu_before = sum(tuiman.cpu_times()[:2])
    time.sleep(seconds)
    result.cpu_percent = (sum(tuiman.cpu_times()[:2]) - cpu_before) / seconds * 100
    memory = tuiman.memory_info()
    result.rss_mib = memory.rss / 2**20
    result.threads = tuiman.num_threads()
    if (directory / "chatty.py").exists():
        result.lines_per_s = (_lines(directory) - lines_before) / seconds
        result.hooks_per_s = (_read_int(directory / "hooks.count") - hooks_before) / seconds


def _lines(directory: Path) -> int:
    return sum(_read_int(path) for path in directory.glob("lines-*.count"))


def _latencies(
    terminal: Terminal, presses: int, watchers: tuple[str, str]
) -> tuple[list[float], list[float], list[float]]:
    help_ms: list[float] = []
    move_ms: list[float] = []
    signal_ms: list[float] = []
    first, second = watchers
    for _ in range(presses):
        help_ms.append(terminal.press(b"?", b"tuiman keys") * 1000)
        terminal.press(b"\x1b", b"processes")  # the main screen is drawn again
        time.sleep(0.4)  # the main screen is redrawn whole; a lone ESC must not merge with a key
        move_ms.append(terminal.press(b"\x1b[B", f"processes · {second}".encode()) * 1000)
        move_ms.append(terminal.press(b"\x1b[A", f"processes · {first}".encode()) * 1000)
        time.sleep(0.05)
        signal_ms.append(terminal.press(b"k", b"Send a signal to") * 1000)
        terminal.press(b"\x1b", b"processes")
        time.sleep(0.4)
    return help_ms, move_ms, signal_ms


# key, the bytes its dialog shows; escape closes each
DIALOGS = {"i info": (b"i", b"escape closes"), "n scale to": (b"n", b"how many processes")}


def _dialog_latencies(terminal: Terminal, presses: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {name: [] for name in DIALOGS}
    for _ in range(presses):
        for name, (key, needle) in DIALOGS.items():
            found[name].append(terminal.press(key, needle) * 1000)
            terminal.press(b"\x1b", b"processes")
            time.sleep(0.4)  # a lone ESC must not merge with the next key
    return found


def _wrap_latencies(terminal: Terminal, presses: int) -> list[float]:
    """`w` with the busiest output on screen: every kept line is counted again at the width."""
    wrap_ms: list[float] = []
    for _ in range(presses):
        wrap_ms.append(terminal.press(b"w", b"wrap") * 1000)
        time.sleep(0.1)
        os.write(terminal.master, b"w")  # back to scrolling sideways
        time.sleep(0.3)
    return wrap_ms


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except (OSError, ValueError):
        return 0


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(fraction * (len(ordered) - 1)), len(ordered) - 1)]


def _p50_p95(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} / {_percentile(values, 0.95):.0f} ms"


def headless_cpu(make: Callable[[Path], Scenario], seconds: float, settle: float) -> float:
    """tuiman --headless on the same workload, for comparison (no UI, no stats sampling)."""
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as scratch:
        directory = Path(scratch)
        scenario = make(directory)
        config = directory / "tuiman.toml"
        config.write_text(scenario.toml)
        env = {
            **os.environ,
            "UI_BENCH_HOOK_COUNT": str(directory / "hooks.count"),
            "PYTHONPATH": str(ROOT),
        }
        argv = [PYTHON, "-m", "tuiman", "--headless", "--no-output", "-c", str(config)]
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        try:
            tuiman = psutil.Process(process.pid)
            _wait(
                lambda: len(managed(tuiman.pid)) >= scenario.processes - 5,
                180,
                "headless processes",
            )
            time.sleep(settle)
            before = sum(tuiman.cpu_times()[:2])
            time.sleep(seconds)
            return (sum(tuiman.cpu_times()[:2]) - before) / seconds * 100
        finally:
            process.terminate()
            process.wait(timeout=60)


def in_process_latency(
    make: Callable[[Path], Scenario], presses: int, settle: float
) -> list[float]:
    """The UI's own share: key event → the first frame composed after it, with Textual's headless
    driver in this process (no terminal, no second process reading it). Uses Textual 8.2.8's
    private Compositor.render_update as the frame clock."""
    return asyncio.run(_in_process_latency(make, presses, settle))


async def _in_process_latency(
    make: Callable[[Path], Scenario], presses: int, settle: float
) -> list[float]:
    import textual._compositor as compositor
    from textual import events

    from tuiman.client.local import LocalClient
    from tuiman.core.configfile import load_config
    from tuiman.core.supervision.arbiter import Arbiter, raise_nofile_limit
    from tuiman.launch.session import tune_gc
    from tuiman.ui.app import TuimanApp

    frames: list[float] = []
    original = compositor.Compositor.render_update

    def render_update(self: compositor.Compositor, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        frames.append(time.perf_counter())
        return result

    raise_nofile_limit()
    compositor.Compositor.render_update = render_update  # type: ignore[method-assign]
    latencies: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ui-bench-") as scratch:
            directory = Path(scratch)
            scenario = make(directory)
            config = directory / "tuiman.toml"
            config.write_text(scenario.toml)
            os.environ["UI_BENCH_HOOK_COUNT"] = str(directory / "hooks.count")
            arbiter = Arbiter(load_config(str(config)))
            arbiter.bind()
            app = TuimanApp(
                LocalClient(arbiter), start_core=arbiter.start, settings=directory / "none"
            )
            gc_tuning = asyncio.get_running_loop().create_task(tune_gc(app))  # as run_tui does
            try:
                async with app.run_test(size=(120, 40)):
                    while (
                        sum(len(w.processes) for w in arbiter.watchers.values())
                        < scenario.processes - 5
                    ):
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(settle)
                    for index in range(presses * 2):
                        before = app.main.selected
                        started = time.perf_counter()
                        app.post_message(events.Key("down" if index % 2 == 0 else "up", None))
                        while app.main.selected == before:
                            await asyncio.sleep(0.0005)
                        handled = time.perf_counter()
                        while not frames or frames[-1] < handled:
                            await asyncio.sleep(0.0005)
                        latencies.append((frames[-1] - started) * 1000)
                        await asyncio.sleep(0.3)
            finally:
                gc_tuning.cancel()
                arbiter.force()
                await arbiter.quit()
    finally:
        compositor.Compositor.render_update = original  # type: ignore[method-assign]
    return latencies


def bench_summary(make: Callable[[Path], Scenario], quick: bool) -> dict[str, Any]:
    """One scenario for bench/run.py: CPU with nobody typing and every key's latencies."""
    result = run(
        make,
        seconds=5.0 if quick else 10.0,
        presses=10 if quick else 30,
        settle=5.0 if quick else 10.0,
    )
    return {
        "cpu_pct": result.cpu_percent,
        "processes": result.processes,
        "rss_mib": result.rss_mib,
        "help_ms": result.help_ms,
        "signal_ms": result.signal_ms,
        "move_ms": result.move_ms,
        "wrap_ms": result.wrap_ms,
        "dialog_ms": result.dialog_ms,
    }


def report(results: list[Result], seconds: float) -> str:
    lines = [
        "| scenario | tuiman CPU, TUI open | same, `--headless` | RSS | threads "
        "| `?` → help drawn p50 / p95 | `k` → signal picker p50 / p95 "
        "| ↓/↑ → panel redrawn p50 / p95 | same, in-process | `w` → output wrapped p50 / p95 "
        "| `q` → exit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        headless = f"{r.headless_cpu:.1f} %" if r.headless_cpu is not None else "-"
        memory = f"{r.rss_mib:.0f} MiB"
        lines.append(
            f"| {r.scenario} | {r.cpu_percent:.1f} % | {headless} | {memory} | {r.threads} "
            f"| {statistics.median(r.help_ms):.0f} / {_percentile(r.help_ms, 0.95):.0f} ms "
            f"| {_p50_p95(r.signal_ms)} "
            f"| {statistics.median(r.move_ms):.0f} / {_percentile(r.move_ms, 0.95):.0f} ms "
            f"| {_p50_p95(r.in_process_ms)} "
            f"| {_p50_p95(r.wrap_ms)} "
            f"| {r.quit_s:.1f} s |"
        )
    lines.append(
        f"\nCPU: % of one core, all of tuiman's threads, over {seconds:g} s with nobody typing. "
        "Latency: from writing the key to the terminal until the bytes showing its effect are "
        "read back; in-process: key event to the first frame composed after it (no terminal)."
    )
    if any(r.dialog_ms for r in results):
        names = list(DIALOGS)
        lines.append("")
        lines.append(
            "| scenario | " + " | ".join(f"`{n}` → dialog p50 / p95" for n in names) + " |"
        )
        lines.append("|---|" + "---|" * len(names))
        for r in results:
            cells = " | ".join(_p50_p95(r.dialog_ms.get(n, [])) for n in names)
            lines.append(f"| {r.scenario} | {cells} |")
    for r in results:
        if r.hooks_per_s is not None and r.lines_per_s is not None:
            lines.append(
                f"Load delivered during that window: {r.lines_per_s:,.0f} output lines/s "
                f"(counted by the printing children), {r.hooks_per_s:.0f} hook calls/s "
                "(counted by the hooks)."
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU window (default 10)")
    parser.add_argument(
        "--presses", type=int, default=30, help="key rounds per scenario (default 30)"
    )
    parser.add_argument("--only", choices=tuple(SCENARIOS))
    parser.add_argument(
        "--settle", type=float, default=65.0, help="seconds before measuring (default 65)"
    )
    parser.add_argument("--no-headless", action="store_true", help="skip the --headless comparison")
    parser.add_argument("--no-in-process", action="store_true", help="skip the in-process latency")
    options = parser.parse_args()
    if shutil.which("setsid") is None:
        print("ui_bench needs setsid(1) (util-linux) to give tuiman a terminal", file=sys.stderr)
        return 2
    results = []
    for name, make in SCENARIOS.items():
        if options.only in (None, name):
            print(f"running: {name} …", file=sys.stderr, flush=True)
            result = run(make, options.seconds, options.presses, options.settle)
            if not options.no_headless:
                result.headless_cpu = headless_cpu(make, options.seconds, min(options.settle, 10.0))
            if not options.no_in_process:
                result.in_process_ms = in_process_latency(
                    make, options.presses, min(options.settle, 10.0)
                )
            results.append(result)
    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load:.1f}, Python {sys.version.split()[0]}"
    )
    print(report(results, options.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

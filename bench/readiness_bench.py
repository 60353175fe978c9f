#!/usr/bin/env python3
"""Readiness probes and depends_on under load (docs/readiness.md#costs-and-limits).

    python3 bench/readiness_bench.py            # both figures
    python3 bench/readiness_bench.py --quick    # shorter CPU window

1. **Chain**: 50 watchers in a dependency chain of depth 5 (10 per level; each depends on
   one watcher of the level below with `ready`), every one a server that binds its port
   DELAY seconds after it starts, probed by tcp every 0.05 s. Figure: launch → the last
   watcher ready, against the sum of the bind delays along the chain (5 x DELAY), which no
   scheduler can beat. The overhead (first spawn → all ready, minus that sum) is what each
   level adds: the server's interpreter start-up, up to one probe interval, the spawn.
2. **Probe CPU**: 500 `sleep` processes, each with a tcp liveness check every second against
   one listening server, against the same 500 processes without checks: tuiman's CPU
   (user + system, % of one core) over a window once everything runs.

tuiman runs headless as a subprocess (`--json`); events give the times. `run(quick)` returns
the numbers as a dict for bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TUIMAN = [sys.executable, "-m", "tuiman"]
LEVELS, PER_LEVEL, DELAY = 5, 10, 0.3
PROBED = 500

SERVER = """\
import socket, sys, time
time.sleep(float(sys.argv[1]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[2])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
"""


def free_ports(count: int) -> list[int]:
    holders = [socket.socket() for _ in range(count)]
    try:
        for holder in holders:
            holder.bind(("127.0.0.1", 0))
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


def launch(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TUIMAN, "--headless", "--json", "--no-output", "-c", str(config)],
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def chain(directory: Path) -> dict[str, float]:
    (directory / "server.py").write_text(SERVER)
    ports = free_ports(LEVELS * PER_LEVEL)
    tables = []
    for level in range(LEVELS):
        for index in range(PER_LEVEL):
            name = f"l{level}_{index}"
            port = ports[level * PER_LEVEL + index]
            depends = f'depends_on = {{ l{level - 1}_{index} = "ready" }}\n' if level else ""
            tables.append(
                f"[watchers.{name}]\n"
                f'cmd = "{sys.executable} {directory}/server.py {DELAY} {port}"\n'
                f"{depends}"
                f"[watchers.{name}.ready]\n"
                f'tcp = "127.0.0.1:{port}"\ninterval = 0.05\n'
            )
    config = directory / "chain.toml"
    config.write_text("\n".join(tables))
    started = time.time()
    process = launch(config)
    ready: set[str] = set()
    last = first_spawn = started
    try:
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event["kind"] == "spawn" and first_spawn == started:
                first_spawn = event["time"]
            if event["kind"] == "ready" and "pid" not in event:
                ready.add(event["watcher"])
                last = event["time"]
                if len(ready) == LEVELS * PER_LEVEL:
                    break
            if event["kind"] in ("blocked", "failed"):
                raise RuntimeError(f"chain bench: {line}")
    finally:
        stop(process)
    total = last - started
    floor = LEVELS * DELAY
    return {
        "watchers": LEVELS * PER_LEVEL,
        "depth": LEVELS,
        "bind_delay_s": DELAY,
        "launch_to_all_ready_s": round(total, 3),
        "first_spawn_to_all_ready_s": round(last - first_spawn, 3),
        "sum_of_bind_delays_on_the_chain_s": floor,
        "overhead_s": round(last - first_spawn - floor, 3),
        "overhead_per_level_s": round((last - first_spawn - floor) / LEVELS, 3),
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe_cpu(directory: Path, window: float, probed: bool) -> float:
    port = free_ports(1)[0]
    (directory / "server.py").write_text(SERVER)
    server = subprocess.Popen([sys.executable, str(directory / "server.py"), "0", str(port)])
    alive = textwrap.dedent(
        f"""
        [watchers.many.alive]
        tcp = "127.0.0.1:{port}"
        interval = 1.0
        """
    )
    config = directory / f"cpu-{probed}.toml"
    config.write_text(
        f'[watchers.many]\ncmd = "sleep 3600"\nnumprocesses = {PROBED}\n'
        + (alive if probed else "")
    )
    process = launch(config)
    try:
        assert process.stdout is not None
        spawned = 0
        for line in process.stdout:
            if json.loads(line)["kind"] == "spawn":
                spawned += 1
                if spawned == PROBED:
                    break
        time.sleep(3.0)  # the first round of checks, spread out by the spawn times
        before, started = cpu_seconds(process.pid), time.monotonic()
        time.sleep(window)
        used = cpu_seconds(process.pid) - before
        return round(used / (time.monotonic() - started) * 100, 1)
    finally:
        stop(process)
        server.kill()
        server.wait()


def run(quick: bool = False) -> dict[str, object]:
    window = 5.0 if quick else 15.0
    with tempfile.TemporaryDirectory(prefix="tuiman-readiness-bench-") as name:
        directory = Path(name)
        results: dict[str, object] = {"chain": chain(directory)}
        idle = probe_cpu(directory, window, probed=False)
        probing = probe_cpu(directory, window, probed=True)
        results["probe_cpu"] = {
            "processes": PROBED,
            "interval_s": 1.0,
            "window_s": window,
            "cpu_percent_without_checks": idle,
            "cpu_percent_with_checks": probing,
            "cpu_percent_for_the_checks": round(probing - idle, 1),
        }
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 5 s CPU window instead of 15 s")
    options = parser.parse_args(argv)
    print(json.dumps(run(options.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

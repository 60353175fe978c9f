"""Shared tools for the hook suites: hook modules written next to the config, call logs, traces.

Each test writes its hooks to a module with a unique name (the loader appends the config's
directory to `sys.path`, and `sys.modules` would otherwise hand one test another's module).
Every hook appends one JSON line per call to a log file: the hook name, the watcher's state
and pids as the hook saw them, and its keyword arguments.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman.core.events import Event, Kind

PY = sys.executable

# What a hook does after recording its call, per outcome of the hook matrix.
OUTCOMES = ("true", "false", "none", "raise", "timeout")
OUTCOME_BODY = {
    "true": "return True",
    "false": "return False",
    "none": "return None",
    "raise": "raise RuntimeError('boom')",
    "timeout": "time.sleep(1.5)\n    return True",
}
HOOK_TIMEOUT = 0.3  # the `timeout` given to hooks of the "timeout" outcome
TIMEOUT_ERROR = f"timed out after {HOOK_TIMEOUT}s"

_HEADER = """\
import asyncio
import json
import os
import signal
import sys
import threading
import time

LOG = {log!r}


def record(hook_name, watcher, **kwargs):
    entry = {{"hook": hook_name, "state": watcher.status(), "pids": sorted(watcher.pids)}}
    for key, value in kwargs.items():
        if key == "stats":
            entry["stats"] = dict(value)
        else:
            entry[key] = value
    with open(LOG, "a") as log:
        log.write(json.dumps(entry, default=str) + "\\n")


"""

# A child that records the signals it gets (one "pid signum" line each), then dies on TERM.
SIGNAL_CHILD = """\
import os, signal, sys, time
LOG = sys.argv[1]
def note(text):
    with open(LOG, "a") as log:
        log.write(f"{os.getpid()} {text}\\n")
def on_signal(signum, frame):
    note(signum)
    if signum == signal.SIGTERM:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
for signum in (signal.SIGTERM, signal.SIGTSTP, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(signum, on_signal)
note("ready")
while True:
    time.sleep(1)
"""


@dataclass
class HookLab:
    """One test's hook module, its call log, and the directory the config lives in."""

    directory: Path
    module: str
    log: Path

    def write(self, source: str) -> None:
        """Write the module: the `record` helper plus `source` (dedented)."""
        header = _HEADER.format(log=str(self.log))
        (self.directory / f"{self.module}.py").write_text(header + textwrap.dedent(source))

    def path(self, function: str) -> str:
        return f"{self.module}.{function}"

    def calls(self, hook: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        entries = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [e for e in entries if hook is None or e["hook"] == hook]

    def signal_child(self) -> tuple[list[str], Path]:
        """A cmd for a child recording its signals, and the file it records them in."""
        script = self.directory / "signal_child.py"
        script.write_text(SIGNAL_CHILD)
        record = self.directory / f"signals-{uuid.uuid4().hex[:8]}.log"
        return [PY, str(script), str(record)], record


def new_lab(directory: Path, test_name: str) -> HookLab:
    slug = re.sub(r"\W+", "_", test_name).strip("_").lower()
    module = f"hk_{slug}_{uuid.uuid4().hex[:6]}"
    return HookLab(directory, module, directory / f"{module}.calls.jsonl")


def outcome_hook(name: str, outcome: str, *, before: str = "") -> str:
    """Source of a hook `name` that records its call, runs `before`, then does `outcome`."""
    prelude = textwrap.indent(textwrap.dedent(before), "    ") if before else ""
    return (
        f"def {name}(watcher, arbiter, hook_name, **kwargs):\n"
        f"    record(hook_name, watcher, **kwargs)\n"
        f"{prelude}"
        f"    {OUTCOME_BODY[outcome]}\n\n\n"
    )


def hook_entry(path: str, outcome: str = "true", **options: Any) -> str:
    """A TOML inline table for one hook; the "timeout" outcome gets a short timeout."""
    parts = [f'path = "{path}"']
    if outcome == "timeout":
        options.setdefault("timeout", HOOK_TIMEOUT)
    for key, value in options.items():
        parts.append(f"{key} = {json.dumps(value)}")
    return "{ " + ", ".join(parts) + " }"


def signals_received(record: Path, pid: int) -> list[int]:
    if not record.exists():
        return []
    found = []
    for line in record.read_text().splitlines():
        owner, _, what = line.partition(" ")
        if int(owner) == pid and what.isdigit():
            found.append(int(what))
    return found


def child_ready(record: Path, pid: int) -> bool:
    return record.exists() and f"{pid} ready" in record.read_text().splitlines()


def label(event: Event) -> str | None:
    """A short, comparable name for a lifecycle event (None for output/stats/updated)."""
    payload = event.payload
    if event.kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE):
        prefix = "ok" if event.kind == Kind.HOOK_SUCCESS else "fail"
        if payload.get("vetoed"):
            prefix = "veto" if event.kind == Kind.HOOK_SUCCESS else "fail-veto"
        signum = f":{payload['signum']}" if "signum" in payload else ""
        return f"{prefix}:{payload['name']}{signum}"
    if event.kind == Kind.STATE:
        return f"state:{payload['new']}"
    if event.kind in (Kind.KILL, Kind.SIGNAL):
        return f"{event.kind}:{payload['signum']}"
    if event.kind in (Kind.SPAWN, Kind.REAP, Kind.START, Kind.STOP, Kind.FAILED, Kind.RELOAD):
        return str(event.kind)
    return None


def trace(events: Iterable[Event], watcher: str | None = None) -> list[str]:
    labels = (label(e) for e in events if watcher is None or e.watcher == watcher)
    return [text for text in labels if text is not None]


def hook_events(events: Iterable[Event], name: str | None = None) -> list[Event]:
    return [
        e
        for e in events
        if e.kind in (Kind.HOOK_SUCCESS, Kind.HOOK_FAILURE)
        and (name is None or e.payload["name"] == name)
    ]


def veto_label(hook: str, outcome: str) -> str:
    """The trace label of a veto-capable hook's event for an outcome (no ignore_failure)."""
    return {
        "true": f"ok:{hook}",
        "false": f"veto:{hook}",
        "none": f"veto:{hook}",
        "raise": f"fail-veto:{hook}",
        "timeout": f"fail-veto:{hook}",
    }[outcome]


def ignored_label(hook: str, outcome: str) -> str:
    """The trace label of a hook whose result (and failure) is ignored."""
    return f"fail:{hook}" if outcome in ("raise", "timeout") else f"ok:{hook}"


def expected_error(outcome: str) -> str | None:
    return {"raise": "RuntimeError: boom", "timeout": TIMEOUT_ERROR}.get(outcome)

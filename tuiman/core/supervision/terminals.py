"""The commands that reach a process' input and terminal (docs/terminals.md): `send` (text or
named keys, to a pty or a stdin pipe), `resize` (the pty's rows and columns: the UI's pane) and
`terminal` (the recent raw text of a pty, for a front end to replay into its emulator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuiman.core.config.model import WatcherConfig
from tuiman.core.processes.process import ManagedProcess
from tuiman.core.processes.process_input import InputClosed
from tuiman.core.processes.terminal import MAX_SIZE
from tuiman.core.terminal_keys import UnknownKey, key_text

if TYPE_CHECKING:
    from tuiman.core.supervision.watcher import Watcher

MAX_SEND_CHARS = 64 * 1024


class TerminalRequestError(ValueError):
    """A request these commands refuse: the message is the reply's error."""


def input_kind(config: WatcherConfig) -> str | None:
    """ "pty", "pipe" or None: what a watcher's processes read their input from."""
    if config.pty:
        return "pty"
    return "pipe" if config.stdin == "pipe" else None


def _targets(watcher: Watcher, pid: int | None) -> list[ManagedProcess]:
    if pid is not None:
        process = watcher.processes.get(pid)
        if process is None or not process.alive:
            raise TerminalRequestError(f"no process {pid} in watcher {watcher.name}")
        return [process]
    running = [p for p in watcher.processes.values() if p.alive]
    if not running:
        raise TerminalRequestError(f"watcher {watcher.name} has no running process")
    return running


def send_input(watcher: Watcher, pid: int | None, text: str | None, keys: list[str] | None) -> int:
    """Write `text`, then `keys`, to one process (or every running one); the count reached."""
    kind = input_kind(watcher.config)
    if kind is None:
        raise TerminalRequestError(
            f'watcher {watcher.name} has no input: set pty = true or stdin = "pipe" in its config'
        )
    try:
        data = (text or "") + "".join(key_text(k, terminal=kind == "pty") for k in keys or [])
    except UnknownKey as error:
        raise TerminalRequestError(str(error)) from None
    if len(data) > MAX_SEND_CHARS:
        raise TerminalRequestError(f"at most {MAX_SEND_CHARS} characters at a time")
    encoded = data.encode("utf-8", "surrogateescape")
    reached = 0
    errors: list[str] = []
    for process in _targets(watcher, pid):
        if process.input is None:
            errors.append(f"process {process.pid} has no input")
            continue
        try:
            process.input.write(encoded)
        except InputClosed as error:
            errors.append(f"process {process.pid}: {error}")
            continue
        reached += 1
    if errors:
        raise TerminalRequestError("; ".join(errors))
    return reached


def check_size(rows: int, cols: int) -> tuple[int, int]:
    if not (1 <= rows <= MAX_SIZE and 1 <= cols <= MAX_SIZE):
        raise TerminalRequestError(f"rows and cols must be between 1 and {MAX_SIZE}")
    return rows, cols


def resize(watcher: Watcher, pid: int | None, rows: int, cols: int) -> None:
    """Set the terminal size of one process, or of every one and of those spawned later."""
    if not watcher.config.pty:
        raise TerminalRequestError(f"watcher {watcher.name} has no terminal (pty = false)")
    size = check_size(rows, cols)
    if pid is None:
        watcher.terminal_size = size
        targets = [p for p in watcher.processes.values() if p.alive]
    else:
        targets = _targets(watcher, pid)
    for process in targets:
        if process.terminal is not None:
            process.terminal.resize(*size)


def terminal_state(watcher: Watcher, pid: int) -> dict[str, Any]:
    """The raw tail of a pty process' terminal and its size."""
    process = watcher.processes.get(pid)
    if process is None:
        raise TerminalRequestError(f"no process {pid} in watcher {watcher.name}")
    if process.terminal is None:
        raise TerminalRequestError(f"process {pid} of watcher {watcher.name} has no terminal")
    rows, cols = process.terminal.size
    terminal = process.terminal
    return {
        "pid": pid,
        "data": terminal.tail(),
        "end": terminal.written,
        "rows": rows,
        "cols": cols,
    }

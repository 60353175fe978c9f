"""Which process the output pane follows: a slot (wid), from one process to its replacement.

A process that restarts, is respawned after a crash or is stopped with `x` gets a new pid in
the same slot. The pane shows the slot's lines (the old process' last words stay above the new
one's), the processes table's cursor moves to the new row, and the pane's title says which pid
replaced which.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiman.ui.views import WatcherView


@dataclass
class OutputFollow:
    wid: int | None = None  # the followed slot; None: the whole watcher
    pid: int | None = None  # its process as last seen
    replaced: int | None = None  # the pid it replaced, once the slot moved on

    def select(self, view: WatcherView | None, pid: int | None) -> None:
        """The user picked a process row (or none)."""
        process = view.processes.get(pid) if view is not None and pid is not None else None
        self.wid = process.wid if process is not None else None
        self.pid = pid if process is not None else None
        self.replaced = None

    def gone(self, view: WatcherView | None) -> bool:
        """The followed process has exited (its slot may be waiting for a respawn)."""
        return self.pid is not None and (view is None or self.pid not in view.processes)

    def successor(self, view: WatcherView | None) -> int | None:
        """The slot's new process, if the followed one was replaced; None otherwise."""
        if self.wid is None or view is None or self.pid in view.processes:
            return None
        newest = [p for p in view.processes.values() if p.wid == self.wid]
        if not newest:
            return None
        pid = max(newest, key=lambda p: (p.started, p.pid)).pid
        self.replaced, self.pid = self.pid, pid
        return pid

    def title(self, name: str) -> str:
        if self.wid is None or self.pid is None:
            return name
        return f"{name} wid {self.wid} · pid {self.pid}"

    def note(self, view: WatcherView | None) -> str:
        if self.wid is None:
            return ""
        if self.gone(view):
            return f"pid {self.pid} exited · waiting for slot {self.wid}'s new process"
        if self.replaced is not None:
            return f"following slot {self.wid}: pid {self.pid} replaced {self.replaced}"
        return ""

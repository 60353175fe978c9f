"""Small /proc readers shared by the reaper and the stats sampler (Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterable


def read_small(path: str) -> bytes | None:
    """A small /proc file, usually in one read; plain os calls: `open()` costs 4x more here."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        data = chunk = os.read(fd, 4096)
        while chunk:  # a long children list comes in several reads
            chunk = os.read(fd, 65536)
            data += chunk
        return data
    except OSError:
        return None
    finally:
        os.close(fd)


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (fields[0] is the state, [1] the
    ppid, [2] the pgid), or None if the process is gone."""
    data = read_small(f"/proc/{pid}/stat")
    if not data or b")" not in data:
        return None
    # The name is in parentheses and may itself hold ')' or spaces: split after the last ')'.
    fields = data[data.rfind(b")") + 2 :].split()
    return fields if len(fields) > 2 else None


def task_children(pid: int, tasks: Iterable[str] | None = None) -> list[int]:
    """Direct children of `pid`: the kernel's children list of each of its tasks (threads).
    `tasks` saves the listing when the caller knows them (a one-thread process: its pid)."""
    if tasks is None:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return []
    children: list[int] = []
    for task in tasks:
        listed = read_small(f"/proc/{pid}/task/{task}/children")
        if listed:
            children.extend(int(child) for child in listed.split())
    return children

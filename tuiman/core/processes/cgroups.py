"""A cgroup v2 subtree per instance, one cgroup per watcher
(docs/reliability.md#the-watchdog-cannot-be-blinded-or-lost).

Where the machine lets us write to our own cgroup (root, or a subtree systemd delegated to us),
tuiman creates `<own cgroup>/tuiman-<marker>/` with a `supervisor` leaf that tuiman itself moves
into, and one `w-<watcher>` leaf per watcher. A child is born in `supervisor` (where its parent
is) and moved to its watcher's leaf right after it was spawned; whatever it forks from then on
stays there, whatever it does (`setsid`, double forks, a new environment), so `cgroup.kill`
ends all of it at once. What a child forks in the microseconds before it is moved stays in
`supervisor`, with the hooks' own subprocesses: the instance's clean exit and the watchdog kill
that leaf too, once tuiman has left it.

Only plain `os` calls here: the watchdog's forked side uses `kill_tree` and `remove_tree`.
"""

from __future__ import annotations

import contextlib
import os
import re
import time

from tuiman.core.digest import hexdigest
from tuiman.core.processes.cgroup_removal import (
    _populated,
    _wait_unpopulated,
    _write,
    kill_tree,
    remove_tree,
)

__all__ = ["CgroupTree", "CgroupUnavailable", "WatcherCgroup", "kill_tree", "remove_tree"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class WatcherCgroup:
    """One watcher's leaf. Its files stay open, so killing works even when fds are exhausted."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(path, exist_ok=True)
        flags = os.O_CLOEXEC
        self._procs = os.open(f"{path}/cgroup.procs", os.O_WRONLY | flags)
        self._kill = os.open(f"{path}/cgroup.kill", os.O_WRONLY | flags)
        self._events = os.open(f"{path}/cgroup.events", os.O_RDONLY | flags)
        self.misplaced = 0  # children that could not be moved in (they exited first, mostly)

    def add(self, pid: int) -> None:
        """Move a just-spawned child in (one write: this is on the spawn path)."""
        try:
            os.write(self._procs, b"%d" % pid)
        except OSError:
            self.misplaced += 1

    def kill(self) -> None:
        """SIGKILL every process in the leaf, including those forked while it runs."""
        os.write(self._kill, b"1")

    def populated(self) -> bool:
        return _populated(self._events)

    def kill_and_wait(self, timeout: float) -> bool:
        """Blocking: kill, then wait until the leaf is empty. True once it is."""
        self.kill()
        return _wait_unpopulated(self._events, time.monotonic() + timeout)

    def close(self) -> None:
        for fd in (self._procs, self._kill, self._events):
            with contextlib.suppress(OSError):
                os.close(fd)


class CgroupTree:
    """This instance's subtree. `create` returns it, or the one-line reason it is not there."""

    def __init__(self, base: str, root: str) -> None:
        self.base = base  # the cgroup tuiman was started in
        self.root = root
        self.supervisor = f"{root}/supervisor"
        self._watchers: dict[str, WatcherCgroup] = {}

    @classmethod
    def create(cls, marker: str) -> CgroupTree | str:
        try:
            base = own_cgroup_dir()
        except CgroupUnavailable as why:
            return str(why)
        root = f"{base}/tuiman-{marker}"
        try:
            os.mkdir(root, 0o755)
        except OSError as error:
            return f"cannot create a cgroup in {base}: {error.strerror}"
        tree = cls(base, root)
        try:
            if not os.path.exists(f"{root}/cgroup.kill"):
                raise OSError(0, "no cgroup.kill (Linux 5.14 or later is needed)")
            os.mkdir(tree.supervisor, 0o755)
            # tuiman itself moves in, so that its children are born inside the subtree.
            _write(f"{tree.supervisor}/cgroup.procs", b"0")
        except OSError as error:
            tree.close()
            return f"cannot use the cgroup {root}: {error.strerror}"
        return tree

    def for_watcher(self, name: str) -> WatcherCgroup | None:
        """The watcher's leaf, created on first use; None if the kernel refuses it."""
        cgroup = self._watchers.get(name)
        if cgroup is None:
            safe = name if _SAFE_NAME.fullmatch(name) else hexdigest("sha1", name.encode())
            try:
                cgroup = self._watchers[name] = WatcherCgroup(f"{self.root}/w-{safe}")
            except OSError:
                return None
        return cgroup

    def existing(self, name: str) -> WatcherCgroup | None:
        return self._watchers.get(name)

    def close(self, timeout: float = 2.0) -> bool:
        """Blocking: leave the subtree, kill what is left in it (a hook's subprocess, an early
        fork), remove it. True if it is gone."""
        for cgroup in self._watchers.values():
            cgroup.close()
        with contextlib.suppress(OSError):
            _write(f"{self.base}/cgroup.procs", b"0")
        kill_tree(self.root)
        return remove_tree(self.root, timeout)


class CgroupUnavailable(Exception):
    """Why this machine offers no cgroup v2 to this process."""


def own_cgroup_dir() -> str:
    """The directory of this process' cgroup v2."""
    try:
        with open("/proc/self/cgroup", "rb") as own:
            lines = own.read().decode(errors="replace").splitlines()
        with open("/proc/self/mountinfo", "rb") as mounts:
            mountinfo = mounts.read().decode(errors="replace").splitlines()
    except OSError as error:
        raise CgroupUnavailable(
            f"cannot read the cgroup of this process: {error.strerror}"
        ) from None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if path is None:
        raise CgroupUnavailable("no cgroup v2 hierarchy on this machine")
    for line in mountinfo:
        fields = line.split()
        separator = fields.index("-") if "-" in fields else -1
        if separator < 0 or fields[separator + 1] != "cgroup2":
            continue
        mount_root, mount_point = fields[3], fields[4]
        if mount_root == "/" or path == mount_root or path.startswith(mount_root + "/"):
            inner = (path if mount_root == "/" else path[len(mount_root) :]).strip("/")
            return f"{mount_point.rstrip('/')}/{inner}" if inner else mount_point
    raise CgroupUnavailable("no cgroup v2 hierarchy is mounted")

"""What an instance starts before it imports the rest of itself (bench/startup.py).

The watchdog is started first (a fresh small interpreter, `processes/watchdog.py`: it starts up
on the other core while this one imports). Then the
instance's cgroup subtree is set up in a thread (`tuiman-cgroups`): tuiman's move into its
`supervisor` leaf is the kernel's first cgroup migration for this process, and waits for an
RCU grace period (up to ~10 ms on an idle machine, more under load) with the GIL released. The
imports of the instance run meanwhile; `cgroups()` waits for the result before anything spawns.
"""

from __future__ import annotations

import threading

from tuiman.core.processes.cgroups import CgroupTree
from tuiman.core.processes.watchdog import Watchdog, new_marker
from tuiman.core.startup_trace import mark as mark_startup


class EarlyStart:
    """The marker, the watchdog, and the cgroup subtree being set up."""

    def __init__(self) -> None:
        self.marker = new_marker()
        self.watchdog = Watchdog.start(self.marker)
        mark_startup("watchdog")
        self._cgroups: CgroupTree | str = "off: not set up"
        self._thread = threading.Thread(
            target=self._create_cgroups, name="tuiman-cgroups", daemon=True
        )
        self._thread.start()

    def _create_cgroups(self) -> None:
        self._cgroups = CgroupTree.create(self.marker)

    def cgroups(self) -> CgroupTree | str:
        """The subtree (tuiman inside it), or why there is none; waits for the thread."""
        self._thread.join()
        return self._cgroups

    def abandon(self) -> None:
        """The instance never ran (its imports failed): undo what was started."""
        cgroups = self.cgroups()
        if isinstance(cgroups, CgroupTree):
            cgroups.close()
        self.watchdog.close()
        self.watchdog.wait(1.0)

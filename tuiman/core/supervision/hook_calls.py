"""A watcher's calls of its own hooks: a guard that may veto, or a notice whose result is ignored.

A veto or a failure of a guard becomes the watcher's reason (`veto:<hook>`,
`hook_failure:<hook>`), which the command that asked then reports.
"""

from __future__ import annotations

from typing import Any

from tuiman.core.config.model import WatcherConfig
from tuiman.core.states import Reason
from tuiman.core.supervision.hooks import FacadeFactory
from tuiman.core.supervision.watcher_host import WatcherHost
from tuiman.core.supervision.watcher_state import WatcherStatus


class WatcherHooks:
    def __init__(
        self,
        config: WatcherConfig,
        host: WatcherHost,
        status: WatcherStatus,
        facades: FacadeFactory,
    ) -> None:
        self.config = config
        self._host = host
        self._status = status
        self._facades = facades

    async def allows(
        self,
        hook_name: str,
        *,
        result_ignored: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> bool:
        spec = self.config.hooks.get(hook_name)
        host = self._host
        if spec is None or host.forced:
            return True  # after a second quit, hooks that have not started are skipped
        outcome = await host.hooks.call(
            spec,
            self.config.name,
            self._facades,
            kwargs,
            timeout=timeout,
            result_ignored=result_ignored,
        )
        if not outcome.proceed:
            self._status.reason = (
                Reason.hook_failure(hook_name) if outcome.failed else Reason.veto(hook_name)
            )
        return outcome.proceed

    async def run(self, hook_name: str, **kwargs: Any) -> None:
        spec = self.config.hooks.get(hook_name)
        host = self._host
        if spec is not None and not host.forced:
            await host.hooks.call(
                spec, self.config.name, self._facades, kwargs, result_ignored=True
            )

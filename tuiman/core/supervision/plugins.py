"""The plugins of the config (docs/circus.md#plugins), run in the core for the arbiter's life.

Each one starts before the watchers (so the watchdog's port is bound before the first process
sends a heartbeat, and the statsd emitter counts the first spawns) and stops after them. A
plugin that cannot start (a port in use, a host that does not resolve) is a `plugin` event and a
failure of the run; the watchers run all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tuiman.core.config.plugin_model import PluginConfig, StatsdPluginConfig
from tuiman.core.events import Kind

if TYPE_CHECKING:
    from tuiman.core.supervision.arbiter import Arbiter


class RunningPlugin(Protocol):
    @property
    def address(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def make_plugin(config: PluginConfig, arbiter: Arbiter) -> RunningPlugin:
    # Imported only by a config that has plugins: not on the way to the first spawn, and a
    # manager keeps every module it imports.
    from tuiman.core.supervision.plugin_statsd import FullStats, StatsdEmitter
    from tuiman.core.supervision.plugin_watchdog import WatchDog

    if isinstance(config, StatsdPluginConfig):
        if config.use == "full_stats":
            return FullStats(config, arbiter)
        return StatsdEmitter(config, arbiter)
    return WatchDog(config, arbiter)


class Plugins:
    def __init__(self, arbiter: Arbiter) -> None:
        self._arbiter = arbiter
        self.configs: tuple[PluginConfig, ...] = ()
        self.running: dict[str, RunningPlugin] = {}

    async def start(self, configs: tuple[PluginConfig, ...]) -> None:
        self.configs = configs
        bus = self._arbiter.bus
        for config in configs:
            plugin = make_plugin(config, self._arbiter)
            try:
                await plugin.start()
            except OSError as error:
                detail = f"cannot use {plugin.address}: {error.strerror or error}"
                self._arbiter.note_failure(f"plugin {config.name}", detail)
                bus.emit(
                    Kind.PLUGIN,
                    None,
                    {"name": config.name, "use": config.use, "action": "failed", "detail": detail},
                )
                continue
            self.running[config.name] = plugin
            bus.emit(
                Kind.PLUGIN,
                None,
                {
                    "name": config.name,
                    "use": config.use,
                    "action": "started",
                    "detail": plugin.address,
                },
            )

    async def stop(self) -> None:
        running, self.running = self.running, {}
        for plugin in running.values():
            await plugin.stop()

    async def apply(self, configs: tuple[PluginConfig, ...]) -> list[str]:
        """A config reload: restart the plugins if their settings changed."""
        if configs == self.configs:
            return []
        await self.stop()
        await self.start(configs)
        return ["plugins restarted with the new settings"]

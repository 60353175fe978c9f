"""Command palette (ctrl+p): every action for every watcher, and the global ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tuiman.ui.sorting import SORT_KEYS, SortOrder

if TYPE_CHECKING:
    from tuiman.ui.app import TuimanApp

PaletteEntry = tuple[str, str, Callable[[], object]]  # (title, help, callback)


class TuimanCommands(Provider):
    @property
    def tui(self) -> TuimanApp:
        return cast("TuimanApp", self.app)

    def entries(self) -> Iterator[PaletteEntry]:
        app = self.tui
        client = app.client
        for name in app.model.watchers:
            yield (
                f"start {name}",
                "start the watcher",
                partial(app.command, f"start {name}", partial(client.start, name)),
            )
            yield (
                f"stop {name}",
                "stop the watcher gracefully",
                partial(app.command, f"stop {name}", partial(client.stop, name)),
            )
            yield (
                f"restart {name}",
                "restart the watcher",
                partial(app.command, f"restart {name}", partial(client.restart, name)),
            )
            yield (
                f"reload {name}",
                "graceful reload: new processes first, then stop the old ones",
                partial(app.command, f"reload {name}", partial(client.reload, name)),
            )
            yield (
                f"scale {name} up",
                "add a process",
                partial(app.command, f"incr {name}", partial(client.incr, name)),
            )
            yield (
                f"scale {name} down",
                "remove the oldest process",
                partial(app.command, f"decr {name}", partial(client.decr, name)),
            )
            yield (
                f"scale {name} to…",
                "type the number of processes",
                partial(app.scale_watcher_to, name),
            )
            yield (
                f"signal {name}…",
                "pick a signal for every process",
                partial(app.pick_signal, name),
            )
            yield (
                f"info {name}",
                "command line, environment, restart policy, hooks, last exits",
                partial(app.show_watcher_info, name),
            )
            yield (
                f"select {name}",
                "show the watcher's processes and output",
                partial(app.select_watcher, name),
            )
        yield (
            "start all",
            "start every watcher by priority",
            partial(app.command, "start all", client.start),
        )
        yield (
            "stop all",
            "stop every watcher, lowest priority first",
            partial(app.command, "stop all", client.stop),
        )
        yield (
            "restart all",
            "restart every watcher",
            partial(app.command, "restart all", client.restart),
        )
        yield (
            "reopen log files",
            "reopen output files after an external logrotate",
            partial(app.command, "reopen logs", client.reopen_logs),
        )
        yield "help", "every key and what it does", app.show_help
        for key in SORT_KEYS:
            order = SortOrder.by(key)
            yield (
                f"sort {order.label}",
                "order the watchers and processes tables (remembered)",
                partial(app.main.set_sort, order),
            )
        if client.is_remote:
            yield "detach", "leave the instance running", app.exit
            yield (
                "quit the instance",
                "stop every watcher and end tuiman (asks first)",
                app.confirm_quit_instance,
            )
        else:
            yield "quit", "stop everything gracefully and exit", app.action_quit

    async def discover(self) -> Hits:
        for title, help_text, callback in self.entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self.entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)

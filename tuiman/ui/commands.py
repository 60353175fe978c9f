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
                f"dependencies of {name}",
                "what it needs (and their readiness), what needs it",
                partial(app.show_watcher_dependencies, name),
            )
            yield (
                f"select {name}",
                "show the watcher's processes and output",
                partial(app.select_watcher, name),
            )
        yield from self.process_entries()
        yield from self.view_entries()
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
        yield (
            "reload config file",
            "re-read the config file and apply what changed (ctrl+r)",
            app.action_reload_config,
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
            yield "quit", "stop everything gracefully and exit (asks first)", app.action_quit
            yield (
                "kill everything now",
                "SIGKILL every process and quit (asks first)",
                (app.action_kill_now),
            )

    def process_entries(self) -> Iterator[PaletteEntry]:
        """Per-process actions, for the selected watcher's processes."""
        app = self.tui
        name = app.main.selected
        view = app.model.watchers.get(name) if name else None
        if name is None or view is None:
            return
        client = app.client
        for pid in sorted(view.processes):
            wid = view.processes[pid].wid
            yield (
                f"stop process {pid} ({name} wid {wid})",
                "graceful stop of this process; its slot respawns",
                partial(app.command, f"stop process {pid}", partial(client.kill, name, pid)),
            )
            yield (
                f"restart process {pid} ({name} wid {wid})",
                "graceful stop, then its slot respawns",
                partial(app.command, f"restart process {pid}", partial(client.kill, name, pid)),
            )
            yield (
                f"signal process {pid} ({name} wid {wid})…",
                "pick a signal for this process",
                partial(app.pick_process_signal, name, pid),
            )
            yield (
                f"show output of process {pid} ({name} wid {wid})",
                "follow this process' slot in the output pane",
                partial(app.show_process, name, pid),
            )

    def view_entries(self) -> Iterator[PaletteEntry]:
        """What the keys of the main screen do to the view."""
        main = self.tui.main
        yield (
            "extended stats on/off",
            "extra columns from the extended_stats hook, for the selected watcher (e)",
            main.action_extended,
        )
        yield "filter watchers", "type part of a name (/)", main.action_filter
        yield "search output", "find text in the output pane (ctrl+f)", main.action_search
        yield (
            "zoom panel",
            "the focused panel fills the screen, again to restore (z)",
            (main.action_zoom),
        )
        yield (
            "hook calls only / every event",
            "filter the hook log (h)",
            (main.hook_log.action_toggle_hooks_only),
        )
        yield (
            "wrap output lines on/off",
            "long lines fold at the pane width or scroll sideways; remembered (w)",
            main.action_wrap,
        )
        yield (
            "output timestamps on/off",
            "each output line prefixed with its arrival time; remembered (T)",
            main.action_timestamps,
        )
        yield (
            "all watchers' output on/off",
            "every watcher's lines interleaved, each prefixed with its name (a)",
            main.action_combined_output,
        )
        yield (
            "pretty-print JSON lines on/off",
            "a line that is a JSON object is drawn indented (j)",
            main.action_pretty_json,
        )
        yield (
            "select and copy output lines",
            "up/down move, shift extends, y or enter copies (OSC 52: over SSH, in tmux) (v)",
            main.action_select_output,
        )
        yield (
            "clear output",
            "empty the output pane for the selected watcher or process (c)",
            main.action_clear_output,
        )

    async def discover(self) -> Hits:
        for title, help_text, callback in self.entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self.entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)

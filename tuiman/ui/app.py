"""The tuiman Textual app: bus events in through the bridge, commands out through the client."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, cast

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tuiman.client.protocol import CoreClient, EventStream, Outcome
from tuiman.core.events import Event, Kind
from tuiman.core.line_text import terminal_line
from tuiman.core.payloads import ArbiterSnapshot
from tuiman.ui import strip_cycles
from tuiman.ui.bridge import Bridge
from tuiman.ui.collector_hold import AnswerHold, CollectorHold, Releasable
from tuiman.ui.commands import TuimanCommands
from tuiman.ui.crash import write_crash_report
from tuiman.ui.keymap import load_keymap, settings_path
from tuiman.ui.keys import HELP_EXTRAS, attached
from tuiman.ui.log_entries import demo_tip_entries, refused_entries
from tuiman.ui.messages import EventBatch, StreamEnded
from tuiman.ui.model import OUTPUT_KEEP, Alert, Changes, CoreModel, OutputEntry
from tuiman.ui.preferences import Preferences, load_preferences, save_preferences
from tuiman.ui.screens.confirm import ConfirmScreen
from tuiman.ui.screens.help import HelpScreen
from tuiman.ui.screens.main import MainScreen
from tuiman.ui.screens.quit_confirm import KILL_KEY, QuitAnswer, QuitConfirmScreen
from tuiman.ui.screens.quit_progress import QuitScreen
from tuiman.ui.sorting import SortOrder
from tuiman.ui.terminal_text import safe_ansi, safe_text
from tuiman.ui.widgets.terminal_view import TerminalView

strip_cycles.install()

HOOK_HISTORY = 300
ALERT_REPEAT = 3.0  # the same notification is not repeated within this many seconds
# After a key, no event batch for at least this long, nor a collection (and until the key's
# answer is drawn: collector_hold.AnswerHold)
LEAST_BATCH_HOLD = 0.15
LEAST_COLLECTOR_HOLD = 0.3


class TuimanApp(App[int]):
    CSS_PATH = "tuiman.tcss"
    TITLE = "tuiman"
    COMMANDS = App.COMMANDS | {TuimanCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 (Textual declares it)
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (16, "-short"), (30, "-tall")]  # noqa: RUF012
    NOTIFICATION_TIMEOUT = 6
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+q",
            "quit",
            "quit",
            show=False,
            priority=True,
            id="quit-ctrl-q",
            tooltip="Stop everything gracefully and quit (asks first)",
        ),
        Binding(
            "ctrl+c",
            "quit",
            "quit",
            show=False,
            priority=True,
            id="quit-ctrl-c",
            tooltip="Stop everything gracefully and quit (asks first)",
        ),
        Binding(
            KILL_KEY,
            "kill_now",
            "kill now",
            show=False,
            id="kill-now",
            tooltip="Kill every process at once with SIGKILL and quit (asks first unless "
            "already quitting)",
        ),
    ]

    def __init__(
        self,
        client: CoreClient,
        *,
        start_core: Callable[[], Awaitable[Any]] | None = None,
        settings: Path | None = None,
        crash_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock  # wall clock for ages and countdowns (frozen in snapshot tests)
        self.model = CoreModel()
        self.start_core = start_core
        self.settings_path = settings_path() if settings is None else settings
        self.crash_dir = crash_dir
        self.crash_path: Path | None = None
        self.quitting = False
        self.forced = False
        self.ask_before_quit = True  # until the user answers "don't ask again this session"
        self.booted = False
        self.ready = asyncio.Event()  # set once the first snapshot is on screen
        self._boot_started = False
        self.bridge: Bridge | None = None
        self.keymap: dict[str, str] = {}
        self._main = MainScreen()
        self._help_rows: list[tuple[str, Binding]] | None = None
        self._stream: EventStream | None = None
        self._recent_alerts: dict[tuple[str, str], float] = {}
        self._counters_busy = False
        self.preferences = Preferences()
        self.collector_hold = CollectorHold()
        self.answer_hold = AnswerHold(self._answer_holds, self.call_after_refresh)

    def get_default_screen(self) -> Screen[Any]:
        return self._main

    @property
    def main(self) -> MainScreen:
        return self._main

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification (its text often a hook's or a child's) is made terminal-safe."""
        super().notify(
            safe_text(message),
            title=safe_text(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    # -- start-up -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._load_keymap()
        self._load_preferences()

    def on_unmount(self) -> None:
        self.collector_hold.release()  # a key just before quitting: the collector comes back

    def _load_preferences(self) -> None:
        preferences, problems = load_preferences(self.settings_path)
        for problem in problems:
            self.notify(problem, title="settings", severity="warning", markup=False)
        if preferences.theme is not None:
            if preferences.theme in self.available_themes:
                self.theme = preferences.theme
            else:
                self.notify(
                    f"{self.settings_path}: ui.theme: no theme named {preferences.theme!r}",
                    title="settings",
                    severity="warning",
                    markup=False,
                )
        self.preferences = preferences
        self._main.set_sort(preferences.sort, remember=False)
        self._main.output_modes.apply(wrap=preferences.wrap, timestamps=preferences.timestamps)
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    def _remember_theme(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if isinstance(name, str) and name != self.preferences.theme:
            self._remember(self.preferences.with_theme(name))

    def remember_sort(self, order: SortOrder) -> None:
        self._remember(self.preferences.with_sort(order))

    def remember_output(self, *, wrap: bool, timestamps: bool) -> None:
        self._remember(self.preferences.with_output(wrap=wrap, timestamps=timestamps))

    def _remember(self, preferences: Preferences) -> None:
        self.preferences = preferences
        problem = save_preferences(self.settings_path, preferences)
        if problem is not None:
            self.notify(problem, title="settings", severity="warning", markup=False)

    def boot(self) -> None:
        """Subscribe and start feeding the main screen (called once it is mounted)."""
        if not self._boot_started:
            self._boot_started = True
            self.run_worker(self._boot(), name="bridge", group="bridge")

    def _load_keymap(self) -> None:
        known = [b.id for b in self.all_bindings() if b.id]
        keymap, problems = load_keymap(self.settings_path, known)
        if keymap:
            self.keymap = keymap
            self.set_keymap(keymap)
        for problem in problems:
            self.notify(problem, title="settings", severity="warning", markup=False)

    async def _boot(self) -> None:
        stream = self._stream = self.client.subscribe()
        try:
            first = await stream.get()
            history = await self._history(first)
            changes = self.model.apply([first])
            changes.log[:0] = self.model.apply(history).log
            if self.model.source.startswith("demo:"):
                changes.log[:0] = demo_tip_entries(self.clock())
            self._apply(changes)
            await self.main.terminals.send_size_now()  # pty processes start with the pane's size
            self.client.set_stats(True)
            self.booted = True
            self.ready.set()
            if self.start_core is not None:
                self.run_worker(self.start_core(), name="core-start", group="core")
            self.bridge = Bridge(stream, self)
            await self.bridge.run()
        finally:
            self.client.set_stats(False)
            stream.close()

    async def _history(self, first: Event) -> list[Event]:
        """Recent hook events, and each watcher's output ring, from before we subscribed."""
        events = await self.client.hook_events(HOOK_HISTORY)
        if first.kind == Kind.SNAPSHOT:
            events = [e for e in events if e.seq < first.seq]
            for data in cast(ArbiterSnapshot, first.payload)["watchers"]:
                await self._output_history(data["name"])
        return events

    async def _output_history(self, name: str) -> None:
        lines = await self.client.recent_output(name, OUTPUT_KEEP)
        self.model.output_of(name).extend(
            OutputEntry(
                line.time,
                name,
                line.pid,
                line.wid,
                line.stream,
                safe_ansi(terminal_line(line.text)),
            )
            for line in lines
        )

    # -- events -------------------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and self.bridge is not None:
            self.answer_hold.begin()  # under a flood of output, keys are drawn first
        await super().on_event(event)

    def _answer_holds(self) -> list[tuple[Releasable, float]]:
        holds: list[tuple[Releasable, float]] = [(self.collector_hold, LEAST_COLLECTOR_HOLD)]
        if self.bridge is not None:
            holds.append((self.bridge, LEAST_BATCH_HOLD))
        return holds

    @on(EventBatch)
    def _event_batch(self, message: EventBatch) -> None:
        try:
            self._apply(self.model.apply(message.events))
        finally:
            message.handled.set()

    def _apply(self, changes: Changes) -> None:
        with self.batch_update():
            self.main.apply(changes, self.clock())
        for alert in changes.alerts:
            self.alert(alert)

    @on(StreamEnded)
    def _stream_ended(self) -> None:
        if self.client.is_remote and not self.quitting:
            self.exit(1, message="tuiman: the instance went away")

    def alert(self, alert: Alert) -> None:
        now = time.monotonic()
        key = (alert.title, alert.message)
        if now - self._recent_alerts.get(key, -ALERT_REPEAT) < ALERT_REPEAT:
            return
        self._recent_alerts[key] = now
        severity = (
            alert.severity
            if alert.severity in ("information", "warning", "error")
            else "information"
        )
        self.notify(alert.message, title=alert.title, severity=severity, markup=False)  # type: ignore[arg-type]

    def refresh_counters(self) -> None:
        """Restart counters are not evented: ask `status` for watchers that lost processes."""
        if self._counters_busy or not self.booted:
            return
        self._counters_busy = True
        self.run_worker(self._refresh_counters(), group="counters")

    async def _refresh_counters(self) -> None:
        try:
            names = sorted(self.model.reaped_since_status)
            self.model.reaped_since_status.clear()
            changed = False
            for name in names:
                for data in await self.client.status(name):
                    changed = self.model.merge_status(data) or changed
            if changed:
                self.main.sync_watchers()
        finally:
            self._counters_busy = False

    # -- commands -----------------------------------------------------------------------------
    def command(self, label: str, run: Callable[[], Awaitable[Outcome]]) -> None:
        """Run a client command (`run`) in the background; failures become notifications."""
        self.run_worker(self._command(label, run), group="commands")

    async def _command(self, label: str, run: Callable[[], Awaitable[Outcome]]) -> None:
        try:
            outcome = await run()
        except Exception as error:  # a remote connection can fail; the UI must not
            self.notify(
                f"{type(error).__name__}: {error}",
                title=f"{label} failed",
                severity="error",
                markup=False,
            )
            return
        if outcome.ok or outcome.error.startswith(("veto:", "hook_failure:")):
            return  # hook vetoes and failures are notified from their hook events, with the error
        self.notify(
            outcome.error or "failed", title=f"{label} failed", severity="error", markup=False
        )

    def action_reload_config(self) -> None:
        """ctrl+r: apply the config file's changes; a refused file keeps everything running."""
        self.run_worker(self._reload_config(), group="commands")

    async def _reload_config(self) -> None:
        try:
            reload = await self.client.reload_config()
        except Exception as error:  # a remote connection can fail; the UI must not
            self.notify(str(error), title="reload config failed", severity="error", markup=False)
            return
        if reload.ok:  # its changes are in the event log, from the bus' arbiter.reload event
            count = len(reload.changes)
            summary = f"{count} change{'s' if count != 1 else ''}" if count else "nothing changed"
            self.notify(f"{summary} (see the event log)", title="config reloaded", markup=False)
            return
        self.main.hook_log.append(refused_entries(self.clock(), reload.errors))
        self.notify(
            "the errors are in the event log",
            title="config refused, everything keeps running",
            severity="error",
            markup=False,
        )

    def select_watcher(self, name: str) -> None:
        self.main.selected = name
        self.main.watchers_table.select_key(name)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, without its Quit: ours asks first and stops gracefully."""
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command

    def show_watcher_info(self, name: str) -> None:
        self.select_watcher(name)
        self._main.actions.show_info()

    def show_watcher_dependencies(self, name: str) -> None:
        self.select_watcher(name)
        self._main.actions.show_dependencies()

    def scale_watcher_to(self, name: str) -> None:
        self.select_watcher(name)
        self._main.actions.scale_to()

    def show_process(self, name: str, pid: int) -> None:
        self.select_watcher(name)
        main = self.main
        main.processes_table.select_key(str(pid))
        main.processes_table.focus()

    def pick_process_signal(self, name: str, pid: int) -> None:
        self.show_process(name, pid)
        self.call_after_refresh(self.main.action_signal)

    def pick_signal(self, name: str) -> None:
        self.select_watcher(name)
        self.main.watchers_table.focus()
        self.main.action_signal()

    def all_bindings(self) -> list[Binding]:
        bindings = [*MainScreen.BINDINGS, *TerminalView.BINDINGS, *TuimanApp.BINDINGS]
        found = [b for b in bindings if isinstance(b, Binding)]
        return [attached(b) for b in found] if self.client.is_remote else found

    def show_help(self) -> None:
        rows: list[tuple[str, Binding]] = []
        for binding in self.all_bindings():
            keys = self.keymap.get(binding.id or "", binding.key).split(",")
            shown = ", ".join(
                self.get_key_display(dataclasses.replace(binding, key=k.strip())) for k in keys
            )
            rows.append((shown, binding))
        palette = Binding(
            self.COMMAND_PALETTE_BINDING,
            "command_palette",
            "palette",
            tooltip="Command palette: every action for every watcher",
        )
        rows.append((self.get_key_display(palette), palette))
        rows.extend((keys, Binding(keys, "", "", tooltip=what)) for keys, what in HELP_EXTRAS)
        # Installed once and pushed again: laying the help out costs ~100 ms under load.
        if self._help_rows != rows:
            if self._help_rows is not None:
                self.uninstall_screen("help")
            self.install_screen(HelpScreen(rows), "help")
            self._help_rows = rows
        self.push_screen("help")

    # -- quitting -----------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """q, ctrl+q, ctrl+c: ask, then stop everything gracefully. Pressed again it never
        kills (ctrl+k does)."""
        if self.client.is_remote:
            self.exit(0)  # attach: detach, the instance keeps running
            return
        screen = self.screen
        if isinstance(screen, QuitConfirmScreen):
            screen.dismiss("stop")  # ctrl+c or ctrl+q again: the answer is yes
            return
        if self.quitting:
            self.notify(
                f"Already stopping gracefully; {KILL_KEY} kills everything at once.",
                title="quitting",
                timeout=4,
                markup=False,
            )
            return
        if not self.ask_before_quit:
            self._stop_and_quit()
            return
        self.push_screen(QuitConfirmScreen(self.model.total_running()), self._quit_answered)

    def stop_signal(self) -> None:
        """SIGTERM or SIGINT: a stop signal always stops, without asking; the second kills."""
        screen = self.screen
        if isinstance(screen, QuitConfirmScreen):
            screen.dismiss("stop")
        elif self.quitting:
            self.action_force_quit()
        else:
            self._stop_and_quit()

    def _quit_answered(self, answer: QuitAnswer | None) -> None:
        if answer is None:
            return
        if answer == "stop-always":
            self.ask_before_quit = False
        self._stop_and_quit()
        if answer == "kill":
            self.action_force_quit()

    def _stop_and_quit(self) -> None:
        self.begin_quit()
        self.run_worker(self._quit_instance(), group="quit")

    def action_kill_now(self) -> None:
        """ctrl+k: SIGKILL everything; asks first unless tuiman is already quitting."""
        screen = self.screen
        if isinstance(screen, QuitConfirmScreen):
            screen.dismiss("kill")
            return
        if self.client.is_remote:
            self.notify(
                "Attached: the palette's 'quit the instance' stops it.", timeout=4, markup=False
            )
            return
        if self.quitting:
            self.action_force_quit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._stop_and_quit()
                self.action_force_quit()

        self.push_screen(
            ConfirmScreen("Kill every process now with SIGKILL and quit?", danger=True), answered
        )

    def begin_quit(self) -> None:
        """Show the stopping-progress view (also when the core quits on its own)."""
        if self.quitting:
            return
        self.quitting = True
        self.push_screen(QuitScreen(self.model, self.clock))

    async def _quit_instance(self) -> None:
        await self.client.quit_instance()
        self.exit(0)

    def action_force_quit(self) -> None:
        if not self.quitting:
            self.begin_quit()
            self.run_worker(self._quit_instance(), group="quit")
        if self.forced:
            return
        self.forced = True
        self.client.force_quit()
        if isinstance(self.screen, QuitScreen):
            self.screen.mark_forced()

    def confirm_quit_instance(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.begin_quit()
                self.run_worker(self._quit_instance(), group="quit")

        self.push_screen(
            ConfirmScreen("Stop every watcher and end this tuiman instance?", danger=True), answered
        )

    # -- crashes ------------------------------------------------------------------------------
    def _handle_exception(self, error: Exception) -> None:
        # Textual restores the terminal and exits; the session then stops every process.
        if self.crash_path is None:
            self.crash_path = write_crash_report(error, self.crash_dir)
        super()._handle_exception(error)

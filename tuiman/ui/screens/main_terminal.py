"""The output pane's terminal: which pty process it shows, feeding its emulator, the size the
pty processes get, and typing into the shown one (docs/terminals.md#in-the-ui).

Only the process on screen has an emulator; `terminal` events of the others cost a list append.
When the pane starts showing a process (and after events were dropped) its recent raw text is
fetched from the core and replayed, then the live events take over from where it ended.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from tuiman.core.payloads import TerminalPayload
from tuiman.ui.model import Changes
from tuiman.ui.terminal_buffer import TerminalBuffer

if TYPE_CHECKING:
    from textual.widget import Widget

    from tuiman.ui.screens.main import MainScreen
    from tuiman.ui.widgets.terminal_view import TerminalView

Target = tuple[str, int]  # watcher, pid


class MainTerminal:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.target: Target | None = None
        self._end = 0  # characters of the shown terminal already fed
        self._fetching: Target | None = None
        self._waiting: list[TerminalPayload] = []  # events that came while fetching
        self._sent_size: tuple[int, int] | None = None
        self._typed: list[str] = []
        self._focus_before: Widget | None = None
        self._sending = False

    @property
    def view(self) -> TerminalView:
        return self.screen.output_panel.terminal

    # -- which process --------------------------------------------------------------------------
    def _wanted(self) -> Target | None:
        screen = self.screen
        view = screen.selected_view
        if view is None or view.input != "pty" or not view.processes:
            return None
        pid = screen.output_pid
        if pid not in view.processes:
            pid = min(view.processes.values(), key=lambda p: p.wid).pid
        return view.name, pid

    def update(self) -> None:
        """Show the right process (or none) after a selection or its processes changed."""
        wanted = self._wanted()
        if wanted == self.target:
            return
        self.target = wanted
        panel = self.screen.output_panel
        self.view.typing = False
        if wanted is None:
            self.view.attach(None)
            panel.show_terminal(False)
        else:
            panel.show_terminal(True)
            self._refetch()
        self.screen.update_titles()
        self.screen.actions.refresh_bindings_if_changed()

    def _refetch(self) -> None:
        target = self.target
        if target is None:
            return
        rows, cols = self.pane_size() or (24, 80)
        self.view.attach(TerminalBuffer(rows, cols))
        self._end = 0
        self._fetching = target
        self._waiting = []
        self.screen.run_worker(self._fetch(target), group="terminal-fetch", exclusive=True)

    async def _fetch(self, target: Target) -> None:
        tail = await self.screen.tui.client.terminal_tail(*target)
        if self.target != target:
            return
        self._fetching = None
        waiting, self._waiting = self._waiting, []
        if tail.ok:
            self._end = tail.end - len(tail.data)
            self._feed([{"pid": target[1], "wid": 0, "data": tail.data, "end": tail.end}])
        self._feed(waiting)

    # -- events ---------------------------------------------------------------------------------
    def apply(self, changes: Changes) -> None:
        if changes.rebuilt or changes.processes:
            self.update()
            if changes.rebuilt:
                self._sent_size = None
                self.send_size()
        target = self.target
        if target is None:
            return
        if changes.rebuilt or changes.dropped:
            self._refetch()  # the emulator missed text: replay from the core
            return
        name, pid = target
        payloads = [
            cast(TerminalPayload, event.payload)
            for event in changes.terminal
            if event.watcher == name and event.payload.get("pid") == pid
        ]
        if not payloads:
            return
        if self._fetching is not None:
            self._waiting.extend(payloads)
        else:
            self._feed(payloads)

    def _feed(self, payloads: list[TerminalPayload]) -> None:
        pieces: list[str] = []
        end = self._end
        for payload in payloads:
            data, stop = payload["data"], payload["end"]
            if stop <= end:
                continue  # already in the replayed tail
            start = stop - len(data)
            pieces.append(data[end - start :] if start < end else data)
            end = stop
        self._end = end
        if pieces:
            self.view.feed("".join(pieces))

    # -- size -------------------------------------------------------------------------------------
    def pane_size(self) -> tuple[int, int] | None:
        panel = self.screen.output_panel
        if panel.terminal.display:
            size = panel.terminal.size
            rows, cols = size.height, size.width
        else:
            region = panel.view.scrollable_content_region
            rows, cols = region.height, region.width
        return (rows, cols) if rows > 0 and cols > 0 else None

    def send_size(self) -> None:
        """Every pty watcher's terminals take the pane's size (and new processes start with it)."""
        size = self.pane_size()
        if size is None or size == self._sent_size:
            return
        self._sent_size = size
        client = self.screen.tui.client
        for name, view in self.screen.model.watchers.items():
            if view.input == "pty":
                resize = partial(client.resize_terminal, name, *size)
                self.screen.tui.command(f"resize {name}", resize)

    async def send_size_now(self) -> None:
        """At boot, before the core starts anything: awaited, so the first spawns have it."""
        size = self.pane_size()
        if size is None:
            return
        self._sent_size = size
        client = self.screen.tui.client
        for name, view in self.screen.model.watchers.items():
            if view.input == "pty":
                await client.resize_terminal(name, *size)

    # -- typing -----------------------------------------------------------------------------------
    def start_typing(self) -> None:
        if self.target is not None:
            view = self.view
            focused = self.screen.focused
            self._focus_before = focused if focused is not view else None
            view.send = self._type
            view.start_typing()

    def typing_stopped(self) -> None:
        """Keys are tuiman's again: back to the panel they were typed from."""
        before, self._focus_before = self._focus_before, None
        if before is not None and before.is_attached and self.view.has_focus:
            before.focus()

    def _type(self, text: str) -> None:
        self._typed.append(text)
        if not self._sending:
            self._sending = True
            self.screen.run_worker(self._send_typed(), group="typing")

    async def _send_typed(self) -> None:
        try:
            while self._typed and self.target is not None:
                text, self._typed = "".join(self._typed), []
                name, pid = self.target
                outcome = await self.screen.tui.client.send_input(name, pid, text=text)
                if not outcome.ok:
                    self.screen.notify(outcome.error, title="typing", severity="error")
                    self._typed.clear()
        finally:
            self._sending = False
            self._typed.clear()

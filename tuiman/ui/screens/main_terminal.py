"""The output pane's terminal: which pty process it shows, feeding its emulator, the size the
pty processes get, and typing into the shown one (docs/terminals.md#in-the-ui).

Only the process on screen has an emulator; `terminal` events of the others cost a list append.
When the pane starts showing a process (and after events were dropped) its recent raw text is
fetched from the core and replayed, then the live events take over from where it ended.
"""

from __future__ import annotations

import asyncio
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
HELD_CHARS = 256 * 1024  # text kept for the terminal while a dialog covers it


class MainTerminal:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.target: Target | None = None
        self._end = 0  # characters of the shown terminal already fed
        self._fetching: Target | None = None
        self._waiting: list[TerminalPayload] = []  # events that came while fetching
        self._sent_size: tuple[int, int] | None = None
        self._sized: set[str] = set()  # pty watchers that were sent `_sent_size`
        self._typed: list[str] = []
        self._held = False  # a dialog covers the pane: nothing is fed, the tail is fetched after
        self._stale = False
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
        if screen.output_panel.combined:
            return None  # every watcher's lines: the line view
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
        self.view.attach(None)  # not another process' screen under this one's title
        if wanted is None:
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
        self._stale = False
        self._fetching = target
        self._waiting = []

        # The function, not a coroutine: an exclusive worker cancelled before it ran must not
        # leave a coroutine that was never awaited.
        async def fetch() -> None:
            await self._fetch(target)

        # (Textual types the callable as returning Coroutine[None, None, T]: an async def's
        # send type is Any to mypy)
        self.screen.run_worker(fetch, group="terminal-fetch", exclusive=True)  # type: ignore[arg-type]

    async def _fetch(self, target: Target) -> None:
        rows, cols = self.pane_size() or (24, 80)
        tail = await self.screen.tui.client.terminal_tail(*target)
        buffer = TerminalBuffer(rows, cols)
        # Replaying a full-screen program's redraws can take a few hundred ms of pyte: in a
        # thread, so keys and frames go on meanwhile.
        await asyncio.to_thread(buffer.feed, tail.data if tail.ok else "")
        if self.target != target or self._fetching != target:
            return
        self._fetching = None
        self.view.attach(buffer)
        self._end = tail.end if tail.ok else 0
        waiting, self._waiting = self._waiting, []
        self._feed(waiting)

    # -- events ---------------------------------------------------------------------------------
    def apply(self, changes: Changes) -> None:
        if changes.rebuilt or changes.processes:
            self.update()
        if changes.rebuilt or changes.watchers:
            self._size_new_watchers()
        target = self.target
        if target is None:
            return
        if changes.rebuilt or changes.dropped:
            self._stale = True  # the emulator missed text: replay from the core
        if self._stale:
            if not self._held:
                self._refetch()
            return
        name, pid = target
        payloads = [
            cast(TerminalPayload, event.payload)
            for event in changes.terminal
            if event.watcher == name and event.payload.get("pid") == pid
        ]
        if not payloads:
            return
        if self._fetching is not None or self._held:
            self._waiting.extend(payloads)
            if self._held and sum(len(p["data"]) for p in self._waiting) > HELD_CHARS:
                self._waiting, self._stale = [], True  # too much: replay the tail instead
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

    def hold(self, held: bool) -> None:
        """A dialog covers the pane (or no longer does): its terminal waits, then catches up."""
        self._held = held
        if held:
            return
        if self._stale:
            self._refetch()
        elif self._fetching is None:
            waiting, self._waiting = self._waiting, []
            self._feed(waiting)

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

    def _pty_watchers(self) -> set[str]:
        return {name for name, view in self.screen.model.watchers.items() if view.input == "pty"}

    def _size_new_watchers(self) -> None:
        """A pty watcher added or changed by a config reload gets the pane's size too."""
        names = self._pty_watchers()
        new, self._sized = names - self._sized, names
        if new and self._sent_size is not None:
            self._resize(new, self._sent_size)

    def send_size(self) -> None:
        """Every pty watcher's terminals take the pane's size (and new processes start with it)."""
        size = self.pane_size()
        if size is None or size == self._sent_size:
            return
        self._sent_size = size
        self._sized = self._pty_watchers()
        self._resize(self._sized, size)

    def _resize(self, names: set[str], size: tuple[int, int]) -> None:
        client = self.screen.tui.client
        for name in sorted(names):
            resize = partial(client.resize_terminal, name, *size)
            self.screen.tui.command(f"resize {name}", resize)

    async def send_size_now(self) -> None:
        """At boot, before the core starts anything: awaited, so the first spawns have it."""
        if self.pane_size() is None:
            await self.screen.wait_for_refresh()  # laid out: the pane has its size
        size = self.pane_size()
        if size is None:
            return
        self._sent_size = size
        self._sized = self._pty_watchers()
        for name in sorted(self._sized):
            await self.screen.tui.client.resize_terminal(name, *size)

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

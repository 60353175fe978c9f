"""The hook-event log: every hook call and lifecycle event, coloured by outcome, scrolling live."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from tuiman.ui.format import fmt_clock, fmt_duration, fmt_running, shorten
from tuiman.ui.log_entries import HookCall, LogEntry, Outcome
from tuiman.ui.palette import Palette
from tuiman.ui.widgets.line_view import LineView, follow_status
from tuiman.ui.widgets.panels import Panel

HOOK_LOG_LINES = 2000
TIME_W, LABEL_W, PID_W, OUTCOME_W, DURATION_W = 8, 14, 7, 7, 7
OUTCOME_TEXT = {
    Outcome.OK: "ok",
    Outcome.VETO: "VETO",
    Outcome.FAILURE: "FAILED",
    Outcome.IGNORED: "failed",
    Outcome.RUNNING: "running",
    Outcome.ABANDONED: "dropped",
    Outcome.INFO: "",
    Outcome.WARN: "",
    Outcome.ERROR: "",
}


def _cells(
    watcher_width: int, values: tuple[str, str, str, str, str, str]
) -> list[tuple[str, int]]:
    widths = (TIME_W, watcher_width, LABEL_W, PID_W, OUTCOME_W, DURATION_W)
    return [(value, width) for value, width in zip(values, widths, strict=True)]


def header_text(watcher_width: int) -> Text:
    text = Text(style=Style(bold=True))
    for value, width in _cells(
        watcher_width, ("time", "watcher", "hook / event", "pid", "result", "took")
    ):
        text.append(value.ljust(width) + " ")
    text.append("error / details")
    return text


class HookLogHeader(Static):
    def set_watcher_width(self, watcher_width: int) -> None:
        self.update(header_text(watcher_width))


HOOK_OUTCOMES = frozenset(
    {
        Outcome.OK,
        Outcome.VETO,
        Outcome.FAILURE,
        Outcome.IGNORED,
        Outcome.RUNNING,
        Outcome.ABANDONED,
    }
)
RUNNING_REFRESH = 0.5  # seconds between redraws of the running hooks' durations


class HookLog(LineView[LogEntry]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "h",
            "toggle_hooks_only",
            "hooks",
            tooltip="Show only hook calls, or every event",
            id="hooks-only",
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(HOOK_LOG_LINES, id=id)
        self.watcher_width = 8
        self.hooks_only = False
        self._everything: deque[LogEntry] = deque(maxlen=HOOK_LOG_LINES)
        self._live_calls: dict[HookCall, int] = {}  # calls with a live row, and how many
        self.now: Callable[[], float] = time.time

    def on_mount(self) -> None:
        self.now = getattr(self.app, "clock", time.time)
        self.set_interval(RUNNING_REFRESH, self._tick_running)

    def _tick_running(self) -> None:
        if self._live_calls and not self.held:
            self.invalidate()

    def append(self, items: Iterable[LogEntry]) -> None:
        entries: list[LogEntry] = []
        for entry in items:
            call = entry.call
            if call is not None and entry.outcome == Outcome.RUNNING:
                self._live_calls[call] = self._live_calls.get(call, 0) + 1
            elif call is not None and call in self._live_calls:
                if _settle_in_batch(entries, call, entry) or self._settle(call, entry):
                    self._forget_live(call)
                    continue  # the live row became this outcome
                self._forget_live(call)
            entries.append(entry)
        self._everything.extend(entries)
        if self.hooks_only:
            entries = [entry for entry in entries if entry.outcome in HOOK_OUTCOMES]
        super().append(entries)
        if entries and not self.follow:
            self.show_status()

    def watch_follow(self, following: bool) -> None:
        super().watch_follow(following)
        self.show_status()

    def show_status(self) -> None:
        """The panel's subtitle: following, or paused and what arrived since (as the output's)."""
        panel = self.parent
        if isinstance(panel, Panel):
            panel.set_labels(subtitle=follow_status(self))

    def _forget_live(self, call: HookCall) -> None:
        left = self._live_calls[call] - 1
        if left:
            self._live_calls[call] = left
        else:
            del self._live_calls[call]

    def _settle(self, call: HookCall, outcome: LogEntry) -> bool:
        """Replace the live row of `call` by its outcome, in place; False if gone."""
        found = _newest_running(self._everything, call)
        if found is None:
            return False
        self._everything[found] = outcome
        shown = _newest_running(self.items, call)
        if shown is not None:
            self.replace_at(shown, outcome)
        elif (waiting := _newest_running(self.pending, call)) is not None:
            self.pending[waiting] = outcome
        return True

    def action_toggle_hooks_only(self) -> None:
        """Toggle the filter; a paused view keeps showing (from) the row at its top."""
        top = None if self.follow or not self.items else self.items[int(self.scroll_y)]
        self.hooks_only = not self.hooks_only
        shown = [e for e in self._everything if not self.hooks_only or e.outcome in HOOK_OUTCOMES]
        self.replace(shown)
        if top is not None:
            self.scroll_to_row(_first_at_or_after(shown, self._everything, top))
        panel = self.parent
        if isinstance(panel, Panel):
            panel.set_labels("hooks" if self.hooks_only else "hooks & events")

    def item_width(self, item: LogEntry) -> int:
        return (
            TIME_W
            + self.watcher_width
            + LABEL_W
            + PID_W
            + OUTCOME_W
            + DURATION_W
            + 6
            + len(item.detail)
        )

    def render_item(self, item: LogEntry, number: int, palette: Palette) -> Text:
        style = palette.outcome(item.outcome)
        is_hook = item.outcome in HOOK_OUTCOMES
        took = (
            fmt_running(self.now() - item.time)
            if item.outcome == Outcome.RUNNING
            else fmt_duration(item.duration)
        )
        values = (
            fmt_clock(item.time),
            shorten(item.watcher, self.watcher_width),
            shorten(item.label, LABEL_W),
            "" if item.pid is None else str(item.pid),
            OUTCOME_TEXT[item.outcome],
            took,
        )
        text = Text()
        for index, (value, width) in enumerate(_cells(self.watcher_width, values)):
            cell_style = (
                palette.muted if index == 0 else style if index in (2, 4) and is_hook else Style()
            )
            if index == 2 and not is_hook:
                cell_style = style
            text.append(value.ljust(width) + " ", cell_style)
        text.append(
            item.detail,
            palette.error if item.outcome in (Outcome.FAILURE, Outcome.IGNORED) else style,
        )
        return text


def _settle_in_batch(entries: list[LogEntry], call: HookCall, outcome: LogEntry) -> bool:
    """A call that started and ended within one batch: its row is the outcome at once."""
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.outcome == Outcome.RUNNING and entry.call == call:
            entries[index] = outcome
            return True
    return False


def _newest_running(entries: deque[LogEntry], call: HookCall) -> int | None:
    """Searched from the end: a live row is almost always among the last few."""
    last = len(entries) - 1
    for back, entry in enumerate(reversed(entries)):
        if entry.outcome == Outcome.RUNNING and entry.call == call:
            return last - back
    return None


def _first_at_or_after(shown: list[LogEntry], everything: deque[LogEntry], top: LogEntry) -> int:
    """Where the row `top` is in `shown`, or the first shown row after it (it was filtered
    out)."""
    position = {id(entry): index for index, entry in enumerate(shown)}
    started = False
    for entry in everything:
        started = started or entry is top
        if started and id(entry) in position:
            return position[id(entry)]
    return max(len(shown) - 1, 0)

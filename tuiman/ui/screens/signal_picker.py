"""Pick a signal to send (type to filter); SIGKILL asks for confirmation first."""

from __future__ import annotations

import signal
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tuiman.ui.screens.confirm import ConfirmScreen

SIGNALS: tuple[tuple[str, str], ...] = (
    ("TERM", "terminate (the usual stop signal)"),
    ("HUP", "hang up: many daemons reload their config"),
    ("INT", "interrupt, like ctrl+c"),
    ("QUIT", "quit with a core dump"),
    ("USR1", "user signal 1 (often: reopen logs)"),
    ("USR2", "user signal 2"),
    ("STOP", "pause the process (cannot be caught)"),
    ("CONT", "resume a paused process"),
    ("WINCH", "window size changed"),
    ("TTIN", "background read (gunicorn: one more worker)"),
    ("TTOU", "background write (gunicorn: one less worker)"),
    ("ALRM", "alarm clock"),
    ("KILL", "kill at once (cannot be caught; asks first)"),
)


class SignalPicker(ModalScreen[int | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel", id="signal-cancel"),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
    ]

    def __init__(self, target: str) -> None:
        super().__init__(classes="dialog-screen opaque")
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog signals"):
            yield Static(f"Send a signal to [b]{self.target}[/b]", classes="question")
            yield Input(placeholder="type to filter, enter to send", id="signal-filter")
            yield OptionList(*self._options(""), id="signal-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.query_one(Input).focus()

    @staticmethod
    def _options(term: str) -> list[Option]:
        term = term.strip().upper().removeprefix("SIG")
        return [
            Option(f"[b]{name:<6}[/b] {description}", id=name)
            for name, description in SIGNALS
            if not term or term in name or term.lower() in description
        ]

    @on(Input.Changed, "#signal-filter")
    def _filter(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.set_options(self._options(event.value))
        options.highlighted = 0 if options.option_count else None

    @on(Input.Submitted, "#signal-filter")
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            self._choose(option.id or "")

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id or "")

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = (current + step) % options.option_count

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _choose(self, name: str) -> None:
        if not name:
            return
        signum = int(signal.Signals[f"SIG{name}"])
        if name != "KILL":
            self.dismiss(signum)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(signum)

        self.app.push_screen(
            ConfirmScreen(
                f"Send SIGKILL to {self.target}?\nIt cannot be caught: no cleanup will run.",
                danger=True,
            ),
            confirmed,
        )

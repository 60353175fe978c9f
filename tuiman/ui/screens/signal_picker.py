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


DESCRIPTIONS = dict(SIGNALS)


def signal_choices(term: str) -> list[tuple[int, str, str]]:
    """The signals offered for what was typed: (number, name, description), best match first.

    A name typed exactly comes first, then names it begins, then names that contain it, then
    descriptions that mention it (so "st" offers STOP before TERM, whose description says
    "stop"). A number (`9`) or any name the OS knows (`PIPE`, `RTMIN+2`) is offered as itself.
    """
    text = term.strip().upper().removeprefix("SIG")
    if not text:
        return [(int(signal.Signals[f"SIG{name}"]), name, d) for name, d in SIGNALS]
    exact = _signal_named(text)
    if exact is not None:
        name = _name_of(exact, text)
        rest = [c for c in _ranked(text) if c[0] != exact]
        return [(exact, name, DESCRIPTIONS.get(name, f"signal {exact}")), *rest]
    return _ranked(text)


def _ranked(text: str) -> list[tuple[int, str, str]]:
    known = {name: int(signal.Signals[f"SIG{name}"]) for name, _ in SIGNALS}
    for member in signal.Signals:
        known.setdefault(member.name.removeprefix("SIG"), int(member))
    ranks: list[tuple[int, int, str]] = []
    for order, name in enumerate(known):
        description = DESCRIPTIONS.get(name, "")
        if name.startswith(text):
            rank = 0
        elif text in name:
            rank = 1
        elif text.lower() in description:
            rank = 2
        else:
            continue
        ranks.append((rank, order, name))
    return [(known[name], name, DESCRIPTIONS.get(name, "")) for _, _, name in sorted(ranks)]


def _signal_named(text: str) -> int | None:
    """The signal `text` names exactly: a number, a name, or RTMIN+N / RTMAX-N."""
    if text.isdigit():
        number = int(text)
        return number if 0 < number <= signal.SIGRTMAX else None
    for base, sign in (("RTMIN+", 1), ("RTMAX-", -1)):
        if text.startswith(base) and text[len(base) :].isdigit():
            origin = signal.SIGRTMIN if sign > 0 else signal.SIGRTMAX
            number = int(origin) + sign * int(text[len(base) :])
            return number if signal.SIGRTMIN <= number <= signal.SIGRTMAX else None
    member = signal.Signals.__members__.get(f"SIG{text}")
    return int(member) if member is not None else None


def _name_of(signum: int, typed: str) -> str:
    try:
        return signal.Signals(signum).name.removeprefix("SIG")
    except ValueError:
        return typed  # a real-time signal Python has no name for: as the user wrote it


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
            yield Static(self._question(), classes="question", id="signal-question")
            yield Input(placeholder="type to filter, enter to send", id="signal-filter")
            yield OptionList(*self._options(""), id="signal-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.query_one(Input).focus()

    def refill(self, target: str) -> None:
        """Opened again (the screen is reused): a new target, nothing typed, the first signal."""
        self.target = target
        self.query_one("#signal-question", Static).update(self._question())
        box = self.query_one(Input)
        if box.value:
            box.value = ""
            self._show_choices("")
        self.query_one(OptionList).highlighted = 0
        box.focus()

    def _question(self) -> str:
        return f"Send a signal to [b]{self.target}[/b]"

    @staticmethod
    def _options(term: str) -> list[Option]:
        return [
            Option(f"[b]{name:<6}[/b] {description}", id=f"{signum}:{name}")
            for signum, name, description in signal_choices(term)
        ]

    @on(Input.Changed, "#signal-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._show_choices(event.value)

    def _show_choices(self, typed: str) -> None:
        options = self.query_one(OptionList)
        options.set_options(self._options(typed))
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

    def _choose(self, choice: str) -> None:
        if not choice:
            return
        signum = int(choice.partition(":")[0])
        if signum != signal.SIGKILL:
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

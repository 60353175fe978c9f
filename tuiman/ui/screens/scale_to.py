"""Scale to N (`n`): type the number of processes the selected watcher should run."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tuiman.ui.terminal_text import safe_text


def parse_count(text: str) -> int | str:
    """The number typed, or why it is not one (the dialog shows the reason and stays open)."""
    value = text.strip()
    if not value:
        return "type a number of processes"
    if not value.isdigit() or not value.isascii():
        return f"{value!r} is not a whole number ≥ 0"
    return int(value)


HINT = "enter applies · escape cancels"


class ScaleToScreen(ModalScreen[int | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel", id="scale-cancel"),
    ]

    def __init__(self, watcher: str, current: int) -> None:
        super().__init__(classes="dialog-screen opaque")
        self.watcher = watcher
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm scale-to"):
            yield Static(self._question(), classes="question", markup=False, id="scale-question")
            yield Input(str(self.current), id="count", restrict=r"[0-9]*", max_length=6)
            yield Static(HINT, classes="tip", id="scale-hint")

    def on_mount(self) -> None:
        box = self.query_one("#count", Input)
        box.focus()
        box.select_all()

    def refill(self, watcher: str, current: int) -> None:
        """Opened again (the screen is reused): another watcher, its count selected."""
        self.watcher, self.current = watcher, current
        self.query_one("#scale-question", Static).update(self._question())
        self.query_one("#scale-hint", Static).update(HINT)
        self.query_one("#count", Input).value = str(current)
        self.on_mount()

    def _question(self) -> str:
        return f"Scale {safe_text(self.watcher)} to how many processes? (now {self.current})"

    @on(Input.Submitted, "#count")
    def _submitted(self, event: Input.Submitted) -> None:
        count = parse_count(event.value)
        if isinstance(count, str):
            self.query_one("#scale-hint", Static).update(count)
            return
        self.dismiss(count)

    def action_cancel(self) -> None:
        self.dismiss(None)

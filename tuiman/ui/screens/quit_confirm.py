"""The question `q` asks before stopping everything: one key confirms, one more remembers the
answer for the session; the immediate kill has a key of its own (ctrl+k), never a double tap."""

from __future__ import annotations

from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

QuitAnswer = Literal["stop", "stop-always", "kill"]
KILL_KEY = "ctrl+k"


class QuitConfirmScreen(ModalScreen[QuitAnswer | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter,q,ctrl+q,ctrl+c", "answer('stop')", "stop and quit", id="quit-yes"),
        Binding("a", "answer('stop-always')", "yes, don't ask again", id="quit-always"),
        Binding(KILL_KEY, "answer('kill')", "kill now", id="quit-kill"),
        Binding("n,escape", "answer(None)", "stay", id="quit-no"),
    ]

    def __init__(self, running: int) -> None:
        super().__init__(classes="dialog-screen opaque")
        self.running = running

    def compose(self) -> ComposeResult:
        processes = f"{self.running} process{'es' if self.running != 1 else ''}"
        with VerticalScroll(classes="dialog confirm quit-confirm"):
            yield Static(
                Text.assemble(
                    ("Stop every watcher gracefully and quit?", "bold"), f"  ({processes} running)"
                ),
                classes="question",
            )
            yield Static(
                Text.assemble(
                    ("q", "bold"),
                    " / ",
                    ("y", "bold"),
                    " / ",
                    ("enter", "bold"),
                    "  stop and quit\n",
                    ("a", "bold"),
                    "  stop and quit, and don't ask again this session\n",
                    ("n", "bold"),
                    " / ",
                    ("escape", "bold"),
                    "  stay\n",
                    (KILL_KEY, "bold"),
                    "  kill everything now (SIGKILL, no graceful stop)",
                ),
                id="quit-keys",
            )

    def action_answer(self, answer: QuitAnswer | None) -> None:
        self.dismiss(answer)

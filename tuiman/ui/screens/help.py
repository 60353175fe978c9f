"""The help screen: every key (as remapped), what it does, and where to remap it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiman.ui.widgets.frozen import Frozen

TIPS = (
    "Actions apply to the selected watcher, or to the selected process when the processes "
    "table has focus (x and r then stop or restart just that process; its slot respawns).",
    "The output pane shows the selected watcher, or the selected process' slot (it follows the "
    "slot to the new process after a restart). It follows new lines until you scroll up; a "
    "paused pane holds still and counts what arrives; press end to follow again.",
    "q asks before stopping (a: don't ask again this session); ctrl+k kills everything at once.",
    "Remap keys by binding id in ~/.config/tuiman/settings.toml, e.g.\n"
    '[keymap]\nstop = "x,delete"\nsignal = "ctrl+k"',
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "close", id="help-close"),
    ]

    def __init__(self, bindings: Iterable[tuple[str, Binding]]) -> None:
        super().__init__(classes="dialog-screen opaque")
        self.bindings = list(bindings)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("action")
        table.add_column("binding id", style="dim", no_wrap=True)
        for key, binding in self.bindings:
            table.add_row(
                Text(key, style="bold"), binding.tooltip or binding.description, binding.id or ""
            )
        with VerticalScroll(classes="dialog help"):
            yield Static("[b]tuiman keys[/b]  (escape closes)", classes="question")
            yield Static(Frozen(table))
            for tip in TIPS:
                yield Static(tip, classes="tip", markup=False)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)

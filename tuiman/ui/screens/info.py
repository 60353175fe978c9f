"""The info dialog (`i`): a watcher, and its selected process, in full (text from `info_text`)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiman.ui.info_text import Section
from tuiman.ui.palette import palette_of
from tuiman.ui.terminal_text import safe_text
from tuiman.ui.widgets.frozen import Frozen

LABEL_WIDTH = 16


class InfoScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,i", "close_info", "close", id="info-close"),
    ]

    def __init__(self, title: str, sections: list[Section]) -> None:
        super().__init__(classes="dialog-screen opaque")
        self.title_text = title
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help info"):
            yield Static(self._title(), classes="question", id="info-title")
            yield Static(Frozen(self._table()), id="info-body")

    def refill(self, title: str, sections: list[Section]) -> None:
        """Opened again (the screen is reused): new content, from the top."""
        self.title_text, self.sections = title, sections
        self.query_one("#info-title", Static).update(self._title())
        self.query_one("#info-body", Static).update(Frozen(self._table()))
        self.query_one(VerticalScroll).scroll_home(animate=False, immediate=True)

    def _title(self) -> Text:
        return Text(f"{safe_text(self.title_text)}  (escape closes)", style="bold")

    def _table(self) -> Table:
        palette = palette_of(self.app)
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column("label", no_wrap=True, style="dim", width=LABEL_WIDTH)
        table.add_column("text", ratio=1, overflow="fold")  # long command lines wrap, never cut
        for index, (heading, lines) in enumerate(self.sections):
            if index:
                table.add_row("", "")
            table.add_row(Text(heading, style="bold"), "")
            for line in lines:
                # Config, hook and child text: no markup, no terminal sequences.
                table.add_row(
                    safe_text(line.label), Text(safe_text(line.text), style=palette.role(line.role))
                )
        return table

    def action_close_info(self) -> None:
        self.dismiss(None)

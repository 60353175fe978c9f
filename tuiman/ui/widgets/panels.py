"""Containers of the main screen: a titled panel, and the output search box."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input


class Panel(Vertical):
    """A bordered, titled panel; `z` maximizes the one holding the focus.

    In the narrow layout panels have only a top border, so the subtitle joins the title.
    """

    ALLOW_MAXIMIZE = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = ""
        self._subtitle = ""
        self._compact = False
        self._shown: tuple[str, str] | None = None

    def set_labels(self, title: str | None = None, subtitle: str | None = None) -> None:
        if title is not None:
            self._title = title
        if subtitle is not None:
            self._subtitle = subtitle
        self._show_labels()

    def set_compact(self, compact: bool) -> None:
        if compact != self._compact:
            self._compact = compact
            self._show_labels()

    def _show_labels(self) -> None:
        if self._compact:
            joined = f"{self._title} · {self._subtitle}" if self._subtitle else self._title
            title, subtitle = joined, ""
        else:
            title, subtitle = self._title, self._subtitle
        # Assigning a border label repaints the whole panel, even when it is the same text.
        if (title, subtitle) != self._shown:
            self._shown = (title, subtitle)
            self.border_title = title
            self.border_subtitle = subtitle


class SearchInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "find(True)", "older match", show=False),
        Binding("down", "find(False)", "newer match", show=False),
    ]

    class Find(Message):
        def __init__(self, older: bool) -> None:
            super().__init__()
            self.older = older

    def action_find(self, older: bool) -> None:
        self.post_message(self.Find(older))

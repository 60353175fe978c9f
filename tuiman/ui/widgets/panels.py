"""Containers of the main screen: a titled panel, and the output search box."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input


class Panel(Vertical):
    """A bordered, titled panel; `z` maximizes the one holding the focus."""

    ALLOW_MAXIMIZE = True


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

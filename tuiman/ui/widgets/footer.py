"""The main screen's footer, recomposed only when what it shows changed, and only on top.

Textual's Footer recomposes (20-odd keys, each mounted and styled) whenever its screen's
bindings are published. A screen publishes them when a dialog covers it and again when it is
back on top: every `k`, `i`, `n` or `?` rebuilt a footer nobody could see between the key and
the dialog's first frame, and the same footer again on `escape`, just before the next key.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer


class QuietFooter(Footer):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[Hashable, ...] | None = None  # what the last recompose drew

    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.app.screen:  # not is_current: that is true under a dialog too
            return
        if not self.app.app_focus:
            super().bindings_changed(screen)  # Textual's own: no recompose, keys ready
            return
        shown = self._signature(screen)
        if shown != self._shown:
            self._shown = shown
            super().bindings_changed(screen)

    def _signature(self, screen: Screen[object]) -> tuple[Hashable, ...]:
        """What compose reads of the bindings."""
        display = self.app.get_key_display
        return tuple(
            (
                binding.key,
                display(binding),
                binding.description,
                binding.action,
                enabled,
                tooltip,
                None
                if binding.group is None
                else (binding.group.description, binding.group.compact),
            )
            for _, binding, enabled, tooltip in screen.active_bindings.values()
            if binding.show
        )

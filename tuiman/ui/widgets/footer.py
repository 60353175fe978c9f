"""The main screen's footer, recomposed only while its screen is on top.

Textual's Footer recomposes (20-odd keys, each styled) whenever its screen's bindings are
published, and a screen publishes them when a dialog covers it: every `k`, `i` or `n` rebuilt a
footer nobody could see, in the time between the key and the dialog's first frame. The screen
publishes its bindings again when it is back on top (ScreenResume), and the footer catches up
then.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class QuietFooter(Footer):
    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.app.screen:  # not is_current: true for a screen under a dialog
            super().bindings_changed(screen)

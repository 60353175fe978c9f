"""The main screen's sizes: compact panels and footer on narrow terminals, the height of the
top row, the width of the hook log's watcher column.

Each is set only when it changes: setting a style or a border label lays out or repaints the
screen again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from tuiman.ui.screens.main import MainScreen

NARROW = 110  # columns: below this the panels stack (the app's -narrow breakpoint)


class MainLayout:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self._footer_style: tuple[bool, bool] | None = None
        self._top_height: int | None = None

    def resize(self) -> None:
        screen = self.screen
        width = screen.size.width
        panels = (
            screen.watchers_panel,
            screen.processes_panel,
            screen.hooks_panel,
            screen.output_panel,
        )
        for panel in panels:
            panel.set_compact(width < NARROW)
        footer_style = (width < NARROW, width >= 100)
        if footer_style != self._footer_style:
            # Only on a change: the Footer recomposes, which lays the screen out again.
            self._footer_style = footer_style
            footer = screen.query_one(Footer)
            footer.compact, footer.show_command_palette = footer_style
        self.fit_top()

    def fit_top(self) -> None:
        """Wide layout: the top row is as tall as its longest table, up to 45% of the screen."""
        # Compared with what we set last, never with styles.height (which includes the CSS):
        # setting a style re-lays out the screen, which calls this again.
        screen = self.screen
        height: int | None = None
        if not screen.has_class("-narrow"):
            # The longest process list of any watcher, not the selected one's: moving between
            # watchers must not resize the panels (a full re-layout and redraw of the screen).
            longest = max(
                (len(v.processes) + len(v.pauses) for v in screen.model.watchers.values()),
                default=0,
            )
            rows = max(screen.watchers_table.row_count, longest, 2)
            extra = 4 if screen.filter_box.display else 3  # borders and the header row
            height = min(rows + extra, max(int(screen.size.height * 0.45), 6))
        if height != self._top_height:
            self._top_height = height
            screen.top.styles.height = height

    def fit_watcher_column(self) -> None:
        """The hook log's watcher column: as wide as the longest name, from 7 to 14 cells."""
        screen = self.screen
        width = min(max((len(name) for name in screen.model.watchers), default=8), 14)
        screen.hook_log.watcher_width = max(width, 7)
        screen.hook_log_header.set_watcher_width(screen.hook_log.watcher_width)
        screen.hook_log.invalidate()

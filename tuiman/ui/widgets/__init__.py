"""Widgets of the main screen: tables, the hook-event log, the output pane, the header."""

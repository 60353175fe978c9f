"""Screens: the main screen and the modals on top of it."""

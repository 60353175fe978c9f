"""The palette follows the theme variables it was made from (not a name shared by every app)."""

from __future__ import annotations

from rich.style import Style
from textual.app import App

from tuiman.ui.palette import palette_of


def test_a_palette_is_made_again_when_the_variables_change() -> None:
    app: App[None] = App()
    app.theme_variables = {"text-warning": "#ffc473"}
    first = palette_of(app)
    assert first.warn == Style(color="#ffc473")
    assert palette_of(app) is first  # unchanged variables: the same palette
    app.theme_variables = {"text-warning": "#a05a00"}  # same theme name, new variables
    assert palette_of(app).warn == Style(color="#a05a00")


def test_apps_with_the_same_theme_name_do_not_share_a_palette() -> None:
    early: App[None] = App()
    early.theme_variables = {"text-warning": "#ffc473"}  # read before its theme's were in place
    later: App[None] = App()
    later.theme_variables = {"text-warning": "#a05a00"}
    assert early.theme == later.theme
    assert palette_of(early).warn != palette_of(later).warn

"""What the UI remembers between sessions: `[ui]` in ~/.config/tuiman/settings.toml (no Textual).

The file is also the user's own (`[keymap]`, comments): saving rewrites only the `[ui]` table's
lines and leaves every other line as it was. A value tuiman does not understand is ignored with
one warning line, never an error: a settings file must not keep the UI from opening.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import tomli_w

from tuiman.ui.sorting import CONFIG_ORDER, SORT_KEYS, SortOrder

TABLE = "ui"


@dataclass(frozen=True, slots=True)
class Preferences:
    theme: str | None = None
    sort: SortOrder = CONFIG_ORDER

    def with_sort(self, sort: SortOrder) -> Preferences:
        return replace(self, sort=sort)

    def with_theme(self, theme: str) -> Preferences:
        return replace(self, theme=theme)

    def as_table(self) -> dict[str, object]:
        table: dict[str, object] = {"sort": self.sort.key, "sort_descending": self.sort.descending}
        if self.theme is not None:
            table["theme"] = self.theme
        return table


def load_preferences(path: Path) -> tuple[Preferences, list[str]]:
    """The `[ui]` table of `path` (missing file or table: defaults) and one line per problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Preferences(), []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return Preferences(), [f"{path}: {error}"]
    table = data.get(TABLE, {})
    if not isinstance(table, dict):
        return Preferences(), [f"{path}: {TABLE} must be a table"]
    problems: list[str] = []
    theme = table.get("theme")
    if theme is not None and not isinstance(theme, str):
        problems.append(f"{path}: ui.theme: expected a theme name")
        theme = None
    key = table.get("sort", "config")
    if key not in SORT_KEYS:
        problems.append(f"{path}: ui.sort: expected one of {', '.join(SORT_KEYS)}")
        key = "config"
    descending = table.get("sort_descending", SortOrder.by(key).descending)
    if not isinstance(descending, bool):
        problems.append(f"{path}: ui.sort_descending: expected true or false")
        descending = SortOrder.by(key).descending
    return Preferences(theme, SortOrder(key, descending)), problems


def save_preferences(path: Path, preferences: Preferences) -> str | None:
    """Write `preferences` as the `[ui]` table of `path`; None, or why it could not."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as error:
        return f"{path}: not saved: {error}"
    table = tomli_w.dumps({TABLE: preferences.as_table()})
    updated = replace_table(text, TABLE, table)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed over: a crash mid-write never leaves half a settings file.
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=".settings-", delete=False
        ) as temporary:
            temporary.write(updated)
        os.replace(temporary.name, path)
    except OSError as error:
        return f"{path}: not saved: {error.strerror or error}"
    return None


def replace_table(text: str, name: str, table_text: str) -> str:
    """`text` with the `[name]` table's lines replaced by `table_text` (appended if absent)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _header(line) == name), None)
    if start is None:
        separator = (
            "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        )
        return text + separator + table_text
    end = next(
        (i for i in range(start + 1, len(lines)) if _header(lines[i]) is not None), len(lines)
    )
    tail = lines[end:]
    gap = ["\n"] if tail else []
    return "".join([*lines[:start], table_text, *gap, *tail])


def _header(line: str) -> str | None:
    stripped = line.split("#", 1)[0].strip()
    if stripped.startswith("[") and stripped.endswith("]") and not stripped.startswith("[["):
        return stripped[1:-1].strip()
    return None

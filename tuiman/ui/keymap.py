"""User key remapping: `[keymap]` in ~/.config/tuiman/settings.toml, binding id -> keys."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tuiman" / "settings.toml"


def load_keymap(path: Path, known_ids: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """The keymap of `path` (missing file: empty) and one line per problem found in it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        return {}, [f"{path}: {error}"]
    table = data.get("keymap", {})
    if not isinstance(table, dict):
        return {}, [f"{path}: keymap must be a table"]
    known = set(known_ids)
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in table.items():
        if binding_id not in known:
            problems.append(f"{path}: keymap.{binding_id}: no binding with this id")
        elif isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            keymap[binding_id] = ",".join(keys)
        elif isinstance(keys, str) and keys.strip():
            keymap[binding_id] = keys
        else:
            problems.append(f'{path}: keymap.{binding_id}: expected a key string such as "ctrl+k"')
    return keymap, problems

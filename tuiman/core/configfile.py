"""Which reader a config file needs: tuiman's TOML or a Circus INI, chosen by its suffix.

It sits above both readers (`config` and `circus`), so neither has to know the other.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuiman.core.config.loader import (
    DEFAULT_CONFIG_NAME,
    load_config_text,
    load_demo_config,
    read_text,
)
from tuiman.core.config.model import Config


def load_config(path: str | Path | None, *, cwd: Path | None = None) -> Config:
    """Load `path`; without one, `./tuiman.toml` if it exists, else the embedded demo
    (docs/configuration.md#files-and-lookup)."""
    working_dir = Path(cwd) if cwd is not None else Path.cwd()
    if path is None:
        default_path = working_dir / DEFAULT_CONFIG_NAME
        if not os.path.isfile(default_path):
            return load_demo_config(cwd=working_dir)
        path = DEFAULT_CONFIG_NAME
    file_label = str(path)
    file_path = Path(os.path.expanduser(path))
    if not file_path.is_absolute():
        file_path = working_dir / file_path
    if file_path.suffix.lower() == ".ini":
        # Imported here: the Circus reader is four modules that a TOML config never needs.
        from tuiman.core.circus.loader import load_circus_config

        return load_circus_config(file_path, display_name=file_label, cwd=working_dir)
    text = read_text(file_path, file_label)
    return load_config_text(text, file_path, display_name=file_label, cwd=working_dir)


def watcher_environment_problems(config: Config, file_label: str) -> list[str]:
    """What would fail each watcher at start (`tuiman check`), one line each, named as the
    file names the watcher (`watchers.NAME.key` or `[watcher:NAME] key`)."""
    from tuiman.core.config.environment import environment_problems

    is_ini = str(file_label).lower().endswith(".ini")
    lines: list[str] = []
    for watcher in config.watchers:
        for problem in environment_problems(watcher):
            where = f"[watcher:{watcher.name}] " if is_ini else f"watchers.{watcher.name}."
            lines.append(f"{file_label}: {where}{problem}")
    return lines

"""Circus' `CommandReloader` plugin, mapped onto restart on change (docs/circus.md).

Circus' plugin looks every `loop_rate` seconds at each watcher's executable (its `cmd`, with
symlinks resolved) and restarts the watcher when the file's mtime or resolved path changed.
tuiman gives every watcher `watch = [the executable]` (a named file's symlink target counts
too) and `watch_debounce = loop_rate`: the kernel reports the change at once, and the restart
follows once the file has been quiet that long.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuiman.core.circus.model import (
    IniProblems,
    IniSection,
    OptionReader,
    ini_bool,
    ini_number,
    lowercase_env,
    section_location,
)

COMMAND_RELOADER = "circus.plugins.command_reloader.CommandReloader"
_DEFAULT_LOOP_RATE = 1  # seconds, as the plugin's default


@dataclass(frozen=True)
class CommandReloader:
    section: IniSection
    loop_rate: float


def is_command_reloader(section: IniSection) -> bool:
    entry = section.options.get("use")
    return entry is not None and entry.value.strip() == COMMAND_RELOADER


def read_command_reloader(
    sections: list[IniSection], problems: IniProblems, environ: Mapping[str, str]
) -> CommandReloader | None:
    """The active `[plugin:…] use = …CommandReloader` section, if any."""
    reloader: CommandReloader | None = None
    for section in sections:
        reader = OptionReader(section, problems, lowercase_env(environ))
        reader.raw("use")
        loop_rate = reader.get("loop_rate", ini_number)
        active = reader.get("active", ini_bool)
        for option in ("priority", "name"):
            if reader.raw(option) is not None:
                problems.warn_at(
                    reader.location(option),
                    f"tuiman ignores {option}: it configures Circus' plugin process; "
                    "tuiman runs none",
                )
        reader.report_unknown(["use", "loop_rate", "active", "priority", "name"])
        if loop_rate is not None and loop_rate <= 0:
            problems.error_at(reader.location("loop_rate"), f"must be > 0, got {loop_rate}")
            continue
        if reloader is not None:
            problems.error_at(
                section_location(section),
                f"a second CommandReloader plugin (the first is [{reloader.section.name}])",
            )
            continue
        if active is False:
            problems.warn_at(
                section_location(section, "active"),
                "the plugin is off (active = false): no watcher is restarted on change",
            )
            continue
        rate = _DEFAULT_LOOP_RATE if loop_rate is None else loop_rate
        reloader = CommandReloader(section, float(rate))
    return reloader


def add_reloader_watch(
    name: str,
    table: dict[str, Any],
    reloader: CommandReloader,
    problems: IniProblems,
    cwd: Path,
    environ: Mapping[str, str],
) -> None:
    """Give the translated watcher `table` the plugin's watch on its executable."""
    location = section_location(reloader.section)
    executable = _executable(table.get("cmd"), cwd, environ)
    if executable is None:
        problems.error_at(
            location,
            f"cannot find the executable of watcher {name} (cmd = {table.get('cmd')!r}) "
            "to watch it for changes",
        )
        return
    # A named file's symlink target counts too, re-resolved after each change of the link.
    table["watch"] = [executable]
    table["watch_debounce"] = reloader.loop_rate
    for key in ("watch", "watch_debounce"):
        problems.origins[("watchers", name, key)] = location


def _executable(cmd: object, cwd: Path, environ: Mapping[str, str]) -> str | None:
    """The program a watcher's command runs, as an absolute path; None if not found."""
    if not isinstance(cmd, str):
        return None
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    if not words or "$(" in words[0]:
        return None
    program = os.path.expanduser(words[0])
    if "/" in program:
        candidate = os.path.normpath(os.path.join(cwd, program))
        return candidate if os.path.isfile(candidate) else None
    # Circus resolves a bare name against its working directory (and its plugin stops with an
    # error when nothing is there); the spawn finds it on PATH, and so does tuiman.
    found = shutil.which(program, path=environ.get("PATH", os.defpath))
    return os.path.abspath(found) if found else None

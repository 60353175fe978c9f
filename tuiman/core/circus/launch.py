"""Circus watcher options that shape the launch: `virtualenv`, `virtualenv_py_ver`,
`copy_path`, `send_hup`, `umask`, and `[circus] umask` (docs/circus.md).

What the processes get from them is built as Circus builds it
(`tuiman.core.config.environment`); here they only become the TOML keys of the same names.
"""

from __future__ import annotations

from pathlib import Path

from tuiman.core.circus.model import OptionReader, ini_bool
from tuiman.core.circus.options import WatcherValues
from tuiman.core.config.launch_keys import as_umask
from tuiman.core.config.validate import InvalidValue
from tuiman.core.config.watchers import absolute_path

LAUNCH_OPTIONS = ("virtualenv", "virtualenv_py_ver", "copy_path", "send_hup", "umask")


def translate_launch(values: WatcherValues, cwd: Path) -> None:
    reader = values.reader
    virtualenv = reader.text("virtualenv")
    if virtualenv is not None and virtualenv.strip():
        # Circus joins a relative path to its own cwd, as for working_dir.
        values.put("virtualenv", str(absolute_path(virtualenv.strip(), cwd)), "virtualenv")
    py_ver = reader.text("virtualenv_py_ver")
    if py_ver is not None and py_ver.strip():
        values.put("virtualenv_py_ver", py_ver.strip(), "virtualenv_py_ver")
    for option in ("copy_path", "send_hup"):
        if reader.get(option, ini_bool):
            values.put(option, True, option)
    umask = read_umask(reader, "umask")
    if umask is not None:
        values.put("umask", umask, "umask")
        values.problems.warn_at(
            reader.location("umask"),
            "Circus 0.19 ignores a watcher's umask (only [circus] umask counts); "
            "tuiman applies it to this watcher's processes",
        )


def read_umask(reader: OptionReader, option: str) -> str | None:
    """Circus reads the umask as octal text (`002`); empty means none. The TOML spelling is the
    same text (`umask = "002"`)."""
    text = reader.text(option)
    if text is None or not text.strip():
        return None
    try:
        return f"{as_umask(text.strip()):03o}"
    except InvalidValue as problem:
        reader.problems.error_at(reader.location(option), str(problem))
        return None

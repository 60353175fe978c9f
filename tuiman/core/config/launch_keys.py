"""The watcher keys that shape how its processes are launched: `virtualenv`,
`virtualenv_py_ver`, `copy_path`, `send_hup`, `umask` (docs/configuration.md#keys), and the
`umask` of `[tuiman]`.

Only the values are checked here; whether the virtualenv exists is checked at each start
(`tuiman.core.config.environment`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tuiman.core.config.validate import (
    InvalidValue,
    Problems,
    TableReader,
    as_bool,
    as_str,
    describe_value,
)

_OCTAL = re.compile(r"0?[oO]?[0-7]{1,4}")
_PY_VER = re.compile(r"\d+\.\d+")


def as_umask(value: object) -> int:
    """`0o022` (a TOML integer) or `"022"` (octal text, as Circus reads it) → 0..0o777."""
    if isinstance(value, str) and _OCTAL.fullmatch(value.strip()):
        number = int(value.strip().lower().replace("o", ""), 8)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise InvalidValue(
            f'expected an octal umask such as 0o022 or "022", got {describe_value(value)}'
        )
    if not 0 <= number <= 0o777:
        raise InvalidValue(f"must be between 0o000 and 0o777, got {oct(number)}")
    return number


def as_py_version(value: object) -> str:
    text = as_str(value).strip()
    if not _PY_VER.fullmatch(text):
        raise InvalidValue(f'expected a Python version such as "3.11", got {describe_value(value)}')
    return text


def read_launch_keys(
    reader: TableReader,
    *,
    copy_env: bool,
    config_dir: Path,
    default_umask: int | None,
) -> dict[str, Any]:
    """The WatcherConfig fields of these keys (absent keys: their defaults)."""
    problems: Problems = reader.problems
    virtualenv_text = reader.get_optional("virtualenv", as_str)
    virtualenv = None
    if virtualenv_text is not None:
        if not virtualenv_text.strip():
            problems.error(reader.path("virtualenv"), "empty path")
        else:
            virtualenv = Path(
                os.path.normpath(config_dir / os.path.expanduser(virtualenv_text.strip()))
            )
    py_ver = reader.get_optional("virtualenv_py_ver", as_py_version)
    copy_path = reader.get("copy_path", as_bool, False)
    # Circus refuses these too: both extend the environment copied from the supervisor.
    if not copy_env:
        if virtualenv is not None:
            problems.error(reader.path("virtualenv"), "needs copy_env = true (as in Circus)")
        if copy_path:
            problems.error(reader.path("copy_path"), "needs copy_env = true (as in Circus)")
    umask = reader.get_optional("umask", as_umask)
    return {
        "virtualenv": virtualenv,
        "virtualenv_py_ver": py_ver,
        "copy_path": copy_path,
        "send_hup": reader.get("send_hup", as_bool, False),
        "umask": default_umask if umask is None else umask,
    }

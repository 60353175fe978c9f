"""A UI crash's traceback goes to a file whose path tuiman prints once the terminal is back."""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path


def crash_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "tuiman"


def write_crash_report(error: BaseException, directory: Path | None = None) -> Path:
    """Write the traceback of `error`; never raises (falls back to the temp directory)."""
    text = "".join(traceback.format_exception(error))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (directory or crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path(os.devnull)

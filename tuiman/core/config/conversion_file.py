"""Writing a converted config (`tuiman convert`): atomically, never over the file converted."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tuiman.core.config.loader import ConfigError


def write_converted(
    toml_text: str, source: Path, output_path: str | Path, source_kind: str
) -> Path:
    """Write `toml_text` to `output_path` by rename; returns the absolute path written.

    `source_kind` names the converted file in the refusal (`the Procfile`, `the Circus config`).
    """
    output = Path(os.path.abspath(output_path))
    if os.path.exists(output) and os.path.samefile(output, source):
        raise ConfigError([f"{output_path}: is {source_kind} being converted"])
    temporary = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(toml_text, encoding="utf-8")
        os.replace(temporary, output)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise ConfigError([f"{output_path}: cannot write: {error.strerror or error}"]) from None
    return output

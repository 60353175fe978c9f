"""What the command line adds to a config file: env files and a Procfile's formation and port.

Kept on the loaded `Config`, so a config reload reads the file the way the first load did.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ENV_FILE = ".env"


@dataclass(frozen=True)
class LoadOptions:
    # -e/--env-file, as given (relative to tuiman's working directory); given, they replace the
    # automatic `.env` next to the config.
    env_files: tuple[str, ...] = ()
    default_env_file: bool = True  # False with --no-env-file
    formation: tuple[tuple[str, int], ...] = ()  # a Procfile's -m web=2,worker=1
    port: int | None = None  # a Procfile's -p/--port: the first process type's PORT

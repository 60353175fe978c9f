"""Programs for spawn-error tests."""

from __future__ import annotations

from pathlib import Path


def unrunnable_program(directory: Path, name: str = "unrunnable") -> Path:
    """An executable script whose interpreter does not exist. It passes the environment check
    of a start (docs/configuration.md#environment-problems), and every spawn of it fails with
    ENOENT: a spawn error, retried `max_retry` times."""
    path = directory / name
    path.write_text("#!/nonexistent/tuiman-test-interpreter\n")
    path.chmod(0o755)
    return path

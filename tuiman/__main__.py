"""`python -m tuiman`."""

from __future__ import annotations

from tuiman.cli import entry

entry()

"""tuiman: an interactive terminal process manager with Circus-style hooks."""

from __future__ import annotations

__version__ = "0.1.0"

"""tuiman: an interactive terminal process manager with Circus-style hooks."""

from __future__ import annotations

from tuiman.core.startup_trace import mark as _mark_startup

__version__ = "0.1.0"

_mark_startup("interpreter")  # bench/startup.py: everything before tuiman's first line

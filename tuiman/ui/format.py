"""Plain-text formatting of numbers, times and signals for the tables and logs."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Mapping

_UNITS = ("K", "M", "G", "T")


def fmt_bytes(size: int | None) -> str:
    """1536 -> '1.5K', 73400320 -> '70M'; None -> '-'."""
    if size is None:
        return "-"
    if size < 1024:
        return f"{size}B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{size}B"  # pragma: no cover - the loop always returns


def fmt_cpu(percent: float | None) -> str:
    if percent is None:
        return "-"
    return f"{percent:.1f}%" if percent < 100 else f"{percent:.0f}%"


def fmt_age(seconds: float | None) -> str:
    """A compact age: '42s', '3m', '2h05m', '3d04h'.

    Seconds only for the first minute: an age cell that changes every second costs a redraw
    of the whole visible table every second (DataTable re-renders it on any update).
    """
    if seconds is None:
        return "-"
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fmt_duration(seconds: float | None) -> str:
    """A hook's duration: '0.4ms', '301ms', '1.20s'."""
    if seconds is None:
        return ""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f}ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"


def fmt_running(seconds: float) -> str:
    """How long a hook has been running: '0.4s…', '12s…', '3m…'."""
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f}s…"
    return f"{seconds:.0f}s…" if seconds < 120 else f"{seconds / 60:.0f}m…"


def fmt_clock(timestamp: float) -> str:
    """Wall-clock time of day, for display only."""
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def fmt_countdown(seconds: float) -> str:
    return f"{max(seconds, 0.0):.0f}s" if seconds >= 10 else f"{max(seconds, 0.0):.1f}s"


def fmt_retry_in(seconds: float) -> str:
    """A paused slot's countdown in a 6-cell column: 'in 4s', 'in 45s', 'in 12m'."""
    whole = max(math.ceil(seconds), 0)
    return f"in {whole}s" if whole < 100 else f"in {math.ceil(whole / 60)}m"


def signal_name(signum: int | None) -> str:
    if signum is None:
        return "?"
    try:
        return signal.Signals(signum).name.removeprefix("SIG")
    except ValueError:
        return str(signum)


def fmt_last_exit(last_exit: Mapping[int, int | None], wid: int) -> str:
    """A slot's last exit: '-' before its first one, '?' when its status is unknown (collected
    by someone else, docs/hooks.md#what-a-hook-must-not-do)."""
    if wid not in last_exit:
        return "-"
    code = last_exit[wid]
    return "?" if code is None else fmt_exit(code)


def fmt_exit(code: int | None) -> str:
    """An exit code as the tables show it: '0', '3', 'TERM' for -15."""
    if code is None:
        return "-"
    if code < 0:
        return signal_name(-code)
    return str(code)


def shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"

"""Rotation of a log file by time, as Circus' TimedRotatingFileStream does it (itself after
`logging.handlers.TimedRotatingFileHandler`): when to rotate, the name of the rotated file
(`out.log.2025013114` for hourly), and which old ones to delete beyond `backup_count`.
Writer thread only (docs/output-and-stats.md#log-files).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

_DAY = 24 * 60 * 60
# when → (seconds per unit, suffix, pattern of the suffix)
_UNITS: dict[str, tuple[int, str, str]] = {
    "S": (1, "%Y%m%d%H%M%S", r"^\d{14}$"),
    "M": (60, "%Y%m%d%H%M", r"^\d{12}$"),
    "H": (60 * 60, "%Y%m%d%H", r"^\d{10}$"),
    "D": (_DAY, "%Y%m%d", r"^\d{8}$"),
    "MIDNIGHT": (_DAY, "%Y%m%d", r"^\d{8}$"),
    "W": (7 * _DAY, "%Y%m%d", r"^\d{8}$"),
}


class TimedRotation:
    def __init__(self, path: Path, when: str, interval: int, utc: bool, backup_count: int):
        self.path = path
        self.when = when
        self.utc = utc
        self.backup_count = backup_count
        unit, self._suffix, pattern = _UNITS[when[0] if when.startswith("W") else when]
        self._interval = unit * interval
        self._pattern = re.compile(pattern)
        self._day_of_week = int(when[1]) if when.startswith("W") else 0
        try:
            start = int(os.stat(path).st_mtime)
        except OSError:
            start = int(time.time())
        self.rollover_at = self._compute_rollover(start)

    def due(self, now: float) -> bool:
        return int(now) >= self.rollover_at

    def rotated_name(self, now: float) -> Path:
        """The name the current file gets (the start of the period it holds)."""
        current = int(now)
        then = self.rollover_at - self._interval
        if self.utc:
            stamp = time.gmtime(then)
        else:
            stamp = time.localtime(then)
            dst_now, dst_then = time.localtime(current).tm_isdst, stamp.tm_isdst
            if dst_now != dst_then:
                stamp = time.localtime(then + (3600 if dst_now else -3600))
        return self.path.with_name(f"{self.path.name}.{time.strftime(self._suffix, stamp)}")

    def advance(self, now: float) -> None:
        current = int(now)
        next_rollover = self._compute_rollover(current)
        while next_rollover <= current:
            next_rollover += self._interval
        self.rollover_at = next_rollover

    def files_to_delete(self) -> list[Path]:
        """The oldest rotated files beyond `backup_count` (0 keeps them all)."""
        if self.backup_count <= 0:
            return []
        prefix = self.path.name + "."
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return []
        rotated = sorted(
            self.path.with_name(name)
            for name in names
            if name.startswith(prefix) and self._pattern.match(name[len(prefix) :])
        )
        if len(rotated) < self.backup_count:
            return []
        return rotated[: len(rotated) - self.backup_count]

    def _compute_rollover(self, current: int) -> int:
        result = current + self._interval
        if self.when != "MIDNIGHT" and not self.when.startswith("W"):
            return result
        moment = time.gmtime(current) if self.utc else time.localtime(current)
        result = current + _DAY - ((moment.tm_hour * 60 + moment.tm_min) * 60 + moment.tm_sec)
        if not self.when.startswith("W"):
            return result
        day = moment.tm_wday
        if day != self._day_of_week:
            days_to_wait = self._day_of_week - day
        else:
            days_to_wait = 6 - day + self._day_of_week + 1
        rollover = result + days_to_wait * _DAY
        if not self.utc:
            dst_now, dst_then = moment.tm_isdst, time.localtime(rollover).tm_isdst
            if dst_now != dst_then:
                rollover += -3600 if not dst_now else 3600
        return rollover

"""The `[watchers.NAME.output]` keys of how lines are written and when files rotate by time or
are reopened (docs/output-and-stats.md#log-files): `line_format`, `time_format`,
`rotate_when`, `rotate_interval`, `rotate_utc`, `reopen_moved`.

They give what Circus' FileStream, TimedRotatingFileStream and WatchedFileStream write.
"""

from __future__ import annotations

import re
from typing import Any

from tuiman.core.config.validate import (
    InvalidValue,
    TableReader,
    as_bool,
    as_str,
    describe_value,
    integer_in_range,
)

LINE_FORMATS = ("tuiman", "raw")
_ROTATE_WHEN = re.compile(r"S|M|H|D|MIDNIGHT|W[0-6]")


def as_line_format(value: object) -> str:
    if value not in LINE_FORMATS:
        raise InvalidValue(f'expected "tuiman" or "raw", got {describe_value(value)}')
    return str(value)


def as_rotate_when(value: object) -> str:
    """Circus' (and logging's) intervals: S, M, H, D, MIDNIGHT, W0 (Monday) … W6."""
    when = as_str(value).strip().upper()
    if not _ROTATE_WHEN.fullmatch(when):
        raise InvalidValue(
            f"expected S, M, H, D, MIDNIGHT or W0..W6 (W0 is Monday), got {describe_value(value)}"
        )
    return when


def as_time_format(value: object) -> str:
    text = as_str(value)
    if not text:
        raise InvalidValue("empty format")
    return text


def read_output_format(reader: TableReader) -> dict[str, Any]:
    """The OutputConfig fields of these keys; `max_bytes` is 0 when files rotate by time."""
    line_format = reader.get_optional("line_format", as_line_format)
    time_format = reader.get_optional("time_format", as_time_format)
    if time_format is not None and line_format == "tuiman":
        reader.problems.error(
            reader.path("time_format"),
            'cannot be combined with line_format = "tuiman" (it gives its own time stamps)',
        )
    rotate_when = reader.get_optional("rotate_when", as_rotate_when)
    fields: dict[str, Any] = {
        "line_format": line_format or "tuiman",
        "time_format": time_format,
        "rotate_when": rotate_when,
        "rotate_interval": reader.get("rotate_interval", integer_in_range(1, 10**6), 1),
        "rotate_utc": reader.get("rotate_utc", as_bool, False),
        "reopen_moved": reader.get("reopen_moved", as_bool, False),
    }
    if rotate_when is not None:
        if reader.table.get("max_bytes", 0) != 0:
            reader.problems.error(
                reader.path("rotate_when"),
                "cannot be combined with max_bytes (rotate by size or by time, not both)",
            )
        fields["max_bytes"] = 0
    return fields

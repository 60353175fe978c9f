"""Strict JSON (RFC 8259) for everything tuiman writes or reads as JSON: the control socket's
requests, replies and event streams, `tuiman ctl --json` and headless `--json`.

Python's json module reads and writes `NaN`, `Infinity` and `-Infinity` by default, and reads
`1e999` as infinity; none of them is JSON, and a strict reader (jq, JavaScript, Go) rejects the
whole line. So on input they are refused with a clear error, and on output a non-finite float
(from a hook's custom event, say) is written as `null`. The output check costs nothing on the
usual path: the C encoder refuses non-finite floats itself, and only then is the value copied.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "loads"]


# Made once: `json.dumps` with any option builds a new encoder per call, which costs more than
# encoding a small object (headless `--json` writes one per output line).
_ENCODERS = {
    compact: json.JSONEncoder(
        default=str,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":") if compact else None,
    )
    for compact in (False, True)
}


def dumps(value: Any, *, compact: bool = False) -> str:
    """`value` as strict JSON; non-finite floats become null, other objects their `str`."""
    separators = (",", ":") if compact else None
    try:
        return _ENCODERS[compact].encode(value)
    except ValueError as error:
        if "JSON compliant" not in str(error):  # a circular reference: not ours to hide
            raise
    return json.dumps(
        _finite(value, set()),
        default=str,
        ensure_ascii=False,
        allow_nan=False,
        separators=separators,
    )


def loads(data: str | bytes | bytearray) -> Any:
    """Parse strict JSON; ValueError for `NaN`, `Infinity` or a number too large for a float."""
    return json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def _finite_key(key: Any) -> Any:
    return repr(key) if isinstance(key, float) and not math.isfinite(key) else key


def _finite(value: Any, path: set[int]) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list | tuple):
        if id(value) in path:
            raise ValueError("Circular reference detected")
        path.add(id(value))
        try:
            if isinstance(value, dict):
                return {_finite_key(key): _finite(item, path) for key, item in value.items()}
            return [_finite(item, path) for item in value]
        finally:
            path.discard(id(value))
    return value

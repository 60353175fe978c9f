"""A line that is a JSON object, indented for reading (the output pane's `j`)."""

from __future__ import annotations

import json
from functools import lru_cache

# json.dumps escapes C0 controls itself; DEL and the C1 range (0x9b is a CSI) it leaves raw.
_UNSAFE = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


@lru_cache(maxsize=4096)
def pretty_json_lines(plain: str) -> tuple[str, ...] | None:
    """The lines of `plain` pretty-printed, if it is a JSON object; None otherwise."""
    stripped = plain.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return tuple(text.translate(_UNSAFE).splitlines())

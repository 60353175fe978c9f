"""Text from children and hooks made safe for the terminal
(docs/reliability.md#child-output-cannot-drive-the-terminal).

Everything the core sends the UI passes `safe_ansi` (output lines: SGR colours kept for Rich's
decoder) or `safe_text` (everything else) once, where it enters the UI's model, so no widget
can hand a control sequence of a child's to the real terminal: `ESC c` would reset it, an OSC
could set the title or the clipboard, `CSI ?1000l` would turn mouse reporting off. Sequences
other than SGR are dropped; other control characters (C0, DEL, and the C1 range that some
terminals read as ESC-sequences) become U+FFFD; a TAB is expanded. Pure: no Textual or Rich.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from tuiman.core.events import Event

REPLACEMENT = "\ufffd"
# One scan decides the common case: a line with no control character is returned as is.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f]")
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: SGR colours, cursor moves, modes
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]"  # two-byte and nF sequences: ESC c, ESC 7, ESC ( B
    r"|\x1b"  # a lone or truncated ESC
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROL_BUT_ESC = re.compile("[\x00-\x08\x0a-\x1a\x1c-\x1f\x7f-\x9f]")  # after the SGR pass
_MAX_DEPTH = 50


def _keep_sgr(match: re.Match[str]) -> str:
    sequence = match.group()
    return sequence if _SGR.fullmatch(sequence) else ""


def safe_ansi(text: str) -> str:
    """`text` with its SGR sequences (colours, bold…) kept and every other control removed."""
    if _UNSAFE.search(text) is None:
        return text
    if "\x1b" in text:
        text = _SEQUENCE.sub(_keep_sgr, text)  # every ESC left starts an SGR sequence
    return _CONTROL_BUT_ESC.sub(REPLACEMENT, text.expandtabs())


def safe_text(text: str) -> str:
    """`text` with no escape sequence and no control character at all."""
    if _UNSAFE.search(text) is None:
        return text
    if "\x1b" in text:
        text = _SEQUENCE.sub("", text)
    return _CONTROL.sub(REPLACEMENT, text.expandtabs())


def safe_value(value: Any, depth: int = 0) -> Any:
    """`value` with `safe_text` applied to every string in it (dict keys too), at any depth."""
    if isinstance(value, str):
        return safe_text(value)
    if depth >= _MAX_DEPTH:
        return value if isinstance(value, int | float | bool | None) else REPLACEMENT
    if isinstance(value, dict):
        return {safe_value(k, depth + 1): safe_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [safe_value(item, depth + 1) for item in value]
    if isinstance(value, tuple):
        return tuple(safe_value(item, depth + 1) for item in value)
    return value


def safe_event(event: Event) -> Event:
    """`event` with every string of its payload, its kind and its watcher's name made safe."""
    return replace(
        event,
        kind=safe_text(event.kind),
        watcher=None if event.watcher is None else safe_text(event.watcher),
        payload=safe_value(event.payload),
    )

"""Named keys a process can be sent (`tuiman ctl send --keys`, typing mode in the UI): what a
terminal would write for each (docs/terminals.md#named-keys). Stdlib only."""

from __future__ import annotations

_SPECIAL: dict[str, str] = {
    "enter": "\r",
    "tab": "\t",
    "backtab": "\x1b[Z",
    "escape": "\x1b",
    "space": " ",
    "backspace": "\x7f",
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "insert": "\x1b[2~",
    "delete": "\x1b[3~",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "f1": "\x1bOP",
    "f2": "\x1bOQ",
    "f3": "\x1bOR",
    "f4": "\x1bOS",
    "f5": "\x1b[15~",
    "f6": "\x1b[17~",
    "f7": "\x1b[18~",
    "f8": "\x1b[19~",
    "f9": "\x1b[20~",
    "f10": "\x1b[21~",
    "f11": "\x1b[23~",
    "f12": "\x1b[24~",
}
_ALIASES = {
    "return": "enter",
    "esc": "escape",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "del": "delete",
}
_CONTROL_PUNCTUATION = {
    "@": "\x00",
    "[": "\x1b",
    "\\": "\x1c",
    "]": "\x1d",
    "^": "\x1e",
    "_": "\x1f",
}

KEY_NAMES_HELP = (
    "Enter, Tab, BackTab, Escape, Backspace, Space, Up, Down, Left, Right, Home, End, PageUp,"
    " PageDown, Insert, Delete, F1-F12, C-a … C-z (control)"
)


class UnknownKey(ValueError):
    pass


def key_text(name: str, *, terminal: bool = True) -> str:
    """What pressing `name` writes: `Enter` is a carriage return to a terminal (its line
    discipline makes it a newline) and a newline to a pipe. Raises `UnknownKey`."""
    lowered = name.strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    if lowered == "enter" and not terminal:
        return "\n"
    if lowered in _SPECIAL:
        return _SPECIAL[lowered]
    for prefix in ("c-", "ctrl-", "ctrl+", "^"):
        if lowered.startswith(prefix) and len(lowered) == len(prefix) + 1:
            char = lowered[-1]
            if "a" <= char <= "z":
                return chr(ord(char) - ord("a") + 1)
            if char in _CONTROL_PUNCTUATION:
                return _CONTROL_PUNCTUATION[char]
    raise UnknownKey(f"unknown key {name!r} (known: {KEY_NAMES_HELP})")


def keys_text(names: list[str], *, terminal: bool = True) -> str:
    return "".join(key_text(name, terminal=terminal) for name in names)

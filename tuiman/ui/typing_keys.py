"""Typing mode's keys: what a Textual key press writes to a process
(docs/terminals.md#typing-mode)."""

from __future__ import annotations

from tuiman.core.terminal_keys import UnknownKey, key_text

_NAMED = {
    "enter": "Enter",
    "tab": "Tab",
    "shift+tab": "BackTab",
    "escape": "Escape",
    "backspace": "Backspace",
    "ctrl+h": "Backspace",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "home": "Home",
    "end": "End",
    "insert": "Insert",
    "delete": "Delete",
    "pageup": "PageUp",
    "pagedown": "PageDown",
    **{f"f{n}": f"F{n}" for n in range(1, 13)},
}
_CONTROL_PUNCTUATION = {
    "ctrl+@": "C-@",
    "ctrl+left_square_bracket": "C-[",
    "ctrl+backslash": "C-\\",
    "ctrl+right_square_bracket": "C-]",
    "ctrl+circumflex_accent": "C-^",
    "ctrl+underscore": "C-_",
}


def typed_text(key: str, character: str | None, *, terminal: bool) -> str | None:
    """What pressing `key` (Textual's name) writes, or None for a key with no meaning there."""
    name = _NAMED.get(key) or _CONTROL_PUNCTUATION.get(key)
    if name is None and key.startswith("ctrl+") and len(key) == 6 and key[-1].isalpha():
        name = f"C-{key[-1]}"
    if name is not None:
        try:
            return key_text(name, terminal=terminal)
        except UnknownKey:
            return None
    if character is not None and character.isprintable():
        return character
    return None

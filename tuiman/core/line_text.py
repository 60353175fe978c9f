"""What a line of output looks like on a terminal (docs/terminals.md#carriage-returns).

A program that draws a progress bar writes `\\r` and writes over the line again; a terminal shows
the last state, a pipe keeps every state. `terminal_line` gives the last state of one line.
Stdlib only: the headless printer and the UI both use it.
"""

from __future__ import annotations

import re

_ANSI = re.compile(
    r"\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)"  # OSC, DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b[ -/]*[0-~]"  # two-byte sequences
    r"|\x1b"
)
_ERASE_LINE = re.compile(r"\x1b\[([012]?)K")
_OVERWRITES = re.compile(r"[\r\b]|\x1b\[[012]?K")


def terminal_line(text: str) -> str:
    """`text` as a terminal leaves it: after a carriage return the next text overwrites the line
    from its start, a backspace moves back one column, `ESC [ K` erases to the end of the line.
    A line without those comes back unchanged (colours kept); one with them comes back plain."""
    if "\r" not in text and "\b" not in text:
        return text
    cells: list[str] = []
    column = 0
    position = 0
    plain = text if "\x1b" not in text else None
    for match in _OVERWRITES.finditer(text):
        column = _put(cells, column, _visible(text[position : match.start()], plain))
        position = match.end()
        control = match.group()
        if control == "\r":
            column = 0
        elif control == "\b":
            column = max(column - 1, 0)
        else:
            mode = _ERASE_LINE.fullmatch(control)
            which = mode.group(1) if mode else ""
            if which in ("", "0"):
                del cells[column:]
            elif which == "1":
                cells[: column + 1] = [" "] * min(column + 1, len(cells))
            else:
                cells[:] = [" "] * min(column, len(cells))
    _put(cells, column, _visible(text[position:], plain))
    return "".join(cells).rstrip(" ") if cells else ""


def _visible(piece: str, plain: str | None) -> str:
    return piece if plain is not None else _ANSI.sub("", piece)


def _put(cells: list[str], column: int, piece: str) -> int:
    if not piece:
        return column
    if column == len(cells):
        cells.extend(piece)
    else:
        if column > len(cells):
            cells.extend(" " * (column - len(cells)))
        cells[column : column + len(piece)] = piece
    return column + len(piece)

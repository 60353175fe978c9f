"""A terminal's text reduced to lines (docs/terminals.md#what-readers-get-lines), carriage
returns applied (docs/terminals.md#carriage-returns), and named keys
(docs/terminals.md#named-keys)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuiman.core.line_text import terminal_line
from tuiman.core.processes.terminal import LineReducer
from tuiman.core.terminal_keys import UnknownKey, key_text, keys_text


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("plain \x1b[31mred\x1b[0m", "plain \x1b[31mred\x1b[0m"),  # nothing to apply: kept
        ("0%\r50%\r100%", "100%"),
        ("progress 100%\rdone", "doneress 100%"),  # as a terminal: no erase, no clearing
        ("10%\r\x1b[K20%", "20%"),
        ("abc\b\bX", "aXc"),
        ("\x1b[32m10%\x1b[0m\r\x1b[32m90%\x1b[0m", "90%"),
        ("trailing\r", "trailing"),
    ],
)
def test_a_line_shows_its_last_state(written: str, shown: str) -> None:
    assert terminal_line(written) == shown


def feed_all(chunks: list[str]) -> list[tuple[str, bool]]:
    reducer = LineReducer()
    lines = [line for chunk in chunks for line in reducer.feed(chunk)]
    return lines + reducer.flush()


def test_terminal_text_becomes_readable_lines() -> None:
    written = (
        "\x1b[?1049h\x1b[H\x1b[2J\x1b]0;title\x07\x1b[1;32mready\x1b(B\x1b[m\r\n"
        "0%\r\x1b[K50%\r\x1b[K100%\r\n"
        "no newline at the end"
    )
    assert feed_all([written]) == [
        ("ready", False),
        ("100%", False),
        ("no newline at the end", False),
    ]


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20))
def test_lines_do_not_depend_on_how_reads_cut_the_text(cuts: list[int]) -> None:
    written = "\x1b[31mred\x1b[0m line\r\n\x1b]2;a title\x1b\\ok 10%\r\x1b[Kok 99%\r\nlast\x1b[1m!"
    pieces, position = [], 0
    for cut in cuts:
        pieces.append(written[position : position + cut])
        position += cut
    pieces.append(written[position:])
    assert feed_all(pieces) == feed_all([written])
    assert feed_all([written]) == [("red line", False), ("ok 99%", False), ("last!", False)]


def test_named_keys() -> None:
    assert key_text("Enter") == "\r"
    assert key_text("enter", terminal=False) == "\n"
    assert keys_text(["Up", "C-c", "ctrl-d", "^z", "F5", "C-]"]) == "\x1b[A\x03\x04\x1a\x1b[15~\x1d"
    with pytest.raises(UnknownKey, match="unknown key 'Hyper'"):
        key_text("Hyper")

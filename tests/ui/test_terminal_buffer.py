"""The UI's terminal emulator (docs/terminals.md#in-the-ui): scrollback, the alternate screen,
floods, and that nothing a child writes reaches the real terminal as a control character."""

from __future__ import annotations

from tuiman.ui.terminal_buffer import TerminalBuffer
from tuiman.ui.typing_keys import typed_text
from tuiman.ui.widgets.terminal_view import line_strip


def row_text(buffer: TerminalBuffer, y: int, back: int = 0) -> str:
    return "".join(char.data for char in buffer.line(y, back).values()).rstrip()


def test_lines_scrolled_off_the_top_are_kept_for_the_wheel() -> None:
    buffer = TerminalBuffer(3, 20)
    buffer.feed("".join(f"line {n}\r\n" for n in range(6)))
    assert buffer.text_lines() == ["line 4", "line 5", ""]
    assert buffer.history_size == 4
    assert [row_text(buffer, y, back=2) for y in range(3)] == ["line 2", "line 3", "line 4"]


def test_a_full_screen_program_leaves_the_screen_as_it_found_it() -> None:
    buffer = TerminalBuffer(4, 20)
    buffer.feed("$ top\r\n")
    buffer.feed("\x1b[?1049h\x1b[H\x1b[2Jtop - 10:00\r\n\x1b[7m  PID USER\x1b[m")
    assert buffer.text_lines()[:2] == ["top - 10:00", "  PID USER"]
    buffer.feed("\x1b[?1049l$ ")
    assert buffer.text_lines()[:2] == ["$ top", "$"]
    assert buffer.history_size == 0  # the full screen's redraws are not scrollback


def test_a_flood_that_only_scrolls_skips_to_its_end() -> None:
    buffer = TerminalBuffer(5, 40)
    buffer.feed("".join(f"line {n}\r\n" for n in range(10_000)))
    assert buffer.text_lines()[:4] == ["line 9996", "line 9997", "line 9998", "line 9999"]
    assert buffer.skipped > 0


def test_text_that_moves_the_cursor_is_never_skipped() -> None:
    buffer = TerminalBuffer(5, 40)
    header = "\x1b[H\x1b[2Jheader\r\n"
    body = "".join(f"\x1b[3;1Hrow {n}\x1b[K" for n in range(5_000))
    buffer.feed(header + body)
    assert buffer.text_lines()[0] == "header"
    assert buffer.text_lines()[2] == "row 4999"
    assert buffer.skipped == 0


def test_no_control_character_reaches_the_screen() -> None:
    buffer = TerminalBuffer(4, 30)
    buffer.feed("\x1bc\x1b]52;c;Zm9v\x07\x1b[?1000l\x9b31m\x90x\x9c\x07\x00ok \u2603 \u4e2d\r\n")
    for y in range(buffer.rows):
        strip = line_strip(buffer.line(y, 0), buffer.cols, cursor_x=None)
        assert sum(segment.cell_length for segment in strip) == buffer.cols
        for segment in strip:
            assert all(char.isprintable() for char in segment.text), repr(segment.text)


def test_typed_keys() -> None:
    assert typed_text("enter", None, terminal=True) == "\r"
    assert typed_text("enter", None, terminal=False) == "\n"
    assert typed_text("ctrl+c", None, terminal=True) == "\x03"
    assert typed_text("up", None, terminal=True) == "\x1b[A"
    assert typed_text("a", "a", terminal=True) == "a"
    assert typed_text("ctrl+right_square_bracket", None, terminal=True) == "\x1d"
    assert typed_text("f13", None, terminal=True) is None


def test_sequences_pyte_cannot_handle_are_skipped_not_fatal() -> None:
    buffer = TerminalBuffer(4, 30)
    # vim's modifyOtherKeys (a private SGR), and private forms of other CSIs
    buffer.feed("\x1b[>4;2mone\x1b[?5W\x1b[>0q\x1b[=5u\x1b[>1;2;3c two\r\nthree")
    lines = buffer.text_lines()
    assert lines[0].startswith("one") and "two" in lines[0]
    assert lines[1] == "three"

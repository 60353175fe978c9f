"""A Rich renderable laid out once per width, for static content drawn again and again."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment

_KEPT_LAYOUTS = 8


class Frozen:
    """Wraps a renderable whose content never changes (the help screen's key table).

    Textual measures and renders a Rich renderable on every layout and every frame; a Rich
    Table does that cell by cell. Under load that made opening the help screen cost 100 ms.
    Here each width is laid out once; later frames replay the segments. The renderable must not
    depend on the height it is given (a Rich Table does not): Textual asks for each layout twice,
    with no height to measure it and with its height to draw it, and the second is the first
    cut or padded to that height, as `Console.render_lines` would.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable
        self._lines: dict[int, list[list[Segment]]] = {}
        self._measurements: dict[int, Measurement] = {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self._lines.get(options.max_width)
        if lines is None:
            if len(self._lines) >= _KEPT_LAYOUTS:  # a terminal resized again and again
                self._lines.clear()
            free = options.update(height=None)
            lines = self._lines[options.max_width] = console.render_lines(
                self.renderable, free, pad=False
            )
        height = options.height
        if height is not None:
            blank = [Segment(" " * options.max_width)]
            lines = lines[:height] + [blank] * (height - len(lines))
        new_line = Segment.line()
        for line in lines:
            yield from line
            yield new_line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        measurement = self._measurements.get(options.max_width)
        if measurement is None:
            if len(self._measurements) >= _KEPT_LAYOUTS:
                self._measurements.clear()
            measurement = Measurement.get(console, options, self.renderable)
            self._measurements[options.max_width] = measurement
        return measurement

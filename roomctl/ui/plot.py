"""A small text plotter for the trend panel: bars, BP ranges, phase bands, alarm marks.

Pure module (Rich ``Text`` only, no Textual, no clock). Time runs left to right over
``window_s`` seconds ending at ``t_end``; each column is one slice of time. A column
with values is drawn as a bar in eighth blocks; a column whose values were not live is
drawn as a dim gap (``╌``), never as a value; a column with no data at all is blank.

>>> rows = area(
...     [(0.0, 95.0), (30.0, None)],
...     t_end=60,
...     window_s=60,
...     width=2,
...     height=1,
...     low=80,
...     high=100,
... )
>>> [row.plain for row in rows]
['▆╌']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

from roomctl.events import AlarmPriority, Phase

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

#: Eighth blocks, empty to full.
BLOCKS = " ▁▂▃▄▅▆▇█"
#: A column whose values were not live.
GAP = "╌"
#: Drawn where a limit line crosses empty cells.
LIMIT = "┄"
#: Plots lower than this draw no limit lines.
MIN_LIMIT_ROWS = 4

#: Alarm colours (IEC 60601-1-8 practice: red high, yellow medium, cyan low).
PRIORITY_STYLE: dict[AlarmPriority, str] = {
    AlarmPriority.HIGH: "bold red",
    AlarmPriority.MEDIUM: "bold yellow",
    AlarmPriority.LOW: "bold cyan",
}
#: Phase band colours: quiet backgrounds that no alarm colour uses.
PHASE_STYLE: dict[Phase, str] = {
    Phase.PREPARATION: "white on grey30",
    Phase.DOSING: "white on purple4",
    Phase.PEAK: "white on dark_magenta",
    Phase.RETURN: "white on dodger_blue3",
    Phase.INTEGRATION: "white on dark_green",
    Phase.CLOSED: "white on grey19",
}


@dataclass(frozen=True, slots=True)
class Window:
    """The time axis: ``width`` columns over ``window_s`` seconds up to ``t_end``."""

    t_end: float
    window_s: float
    width: int

    def column(self, t: float) -> int | None:
        """The column of time ``t``; ``None`` outside the window."""
        start = self.t_end - self.window_s
        if self.width <= 0 or t < start or t > self.t_end:
            return None
        index = int((t - start) / self.window_s * self.width)
        return min(index, self.width - 1)

    def column_middle(self, index: int) -> float:
        """The middle moment of column ``index``."""
        return self.t_end - self.window_s + (index + 0.5) * self.window_s / self.width


def buckets(
    points: Iterable[tuple[float, float | None]], window: Window
) -> list[list[float | None]]:
    """The points of each column (``None`` entries are gaps)."""
    columns: list[list[float | None]] = [[] for _ in range(max(window.width, 0))]
    for t, value in points:
        index = window.column(t)
        if index is not None:
            columns[index].append(value)
    return columns


def area(
    points: Iterable[tuple[float, float | None]],
    *,
    t_end: float,
    window_s: float,
    width: int,
    height: int,
    low: float,
    high: float,
    summary: Callable[[Sequence[float]], float] = min,
    style: str = "",
    limits: Sequence[float] = (),
) -> list[Text]:
    """Rows of a bar chart, top row first; ``summary`` picks each column's value.

    ``limits`` are drawn as dotted lines in the cells a bar does not fill, when
    the plot is at least ``MIN_LIMIT_ROWS`` high (lower, every row would hold one).
    """
    window = Window(t_end, window_s, width)
    span = max(high - low, 1e-9)
    eighths = height * 8
    levels: list[int | None] = []
    gaps: list[bool] = []
    for column in buckets(points, window):
        values = [v for v in column if v is not None]
        gaps.append(bool(column) and not values)
        if values:
            fraction = (summary(values) - low) / span
            levels.append(max(1, min(eighths, round(fraction * eighths))))
        else:
            levels.append(None)
    limit_rows = {
        height - 1 - min(height - 1, max(0, int((limit - low) / span * height)))
        for limit in limits
        if low <= limit <= high and height >= MIN_LIMIT_ROWS
    }
    rows: list[Text] = []
    for row in range(height):
        line = Text()
        floor = (height - 1 - row) * 8
        for index, level in enumerate(levels):
            if level is not None and level > floor:
                line.append(BLOCKS[min(8, level - floor)], style)
            elif gaps[index] and row == height - 1:
                line.append(GAP, "grey50")
            elif row in limit_rows:
                line.append(LIMIT, "grey35")
            else:
                line.append(" ")
        rows.append(line)
    return rows


def ranges(
    readings: Iterable[tuple[float, float, float]],
    *,
    t_end: float,
    window_s: float,
    width: int,
    height: int,
    low: float,
    high: float,
    style: str = "",
    limits: Sequence[float] = (),
) -> list[Text]:
    """Rows showing each ``(t, top, bottom)`` reading as a vertical bar (BP sys/dia).

    ``limits`` are drawn as in ``area``.
    """
    window = Window(t_end, window_s, width)
    span = max(high - low, 1e-9)
    columns: dict[int, tuple[float, float]] = {}
    for t, top, bottom in readings:
        index = window.column(t)
        if index is None:
            continue
        old = columns.get(index)
        columns[index] = (
            (max(top, old[0]), min(bottom, old[1])) if old else (top, bottom)
        )

    def row_of(value: float) -> int:
        return height - 1 - min(height - 1, max(0, int((value - low) / span * height)))

    limit_rows = {
        row_of(limit)
        for limit in limits
        if low <= limit <= high and height >= MIN_LIMIT_ROWS
    }
    grid = [[" "] * width for _ in range(height)]
    styles = [[""] * width for _ in range(height)]
    for row in limit_rows:
        for index in range(width):
            grid[row][index], styles[row][index] = LIMIT, "grey35"
    for index, (top, bottom) in columns.items():
        for row in range(row_of(top), row_of(bottom) + 1):
            grid[row][index], styles[row][index] = "┃", style
    rows = []
    for row in range(height):
        line = Text()
        for char, cell_style in zip(grid[row], styles[row], strict=True):
            line.append(char, cell_style)
        rows.append(line)
    return rows


def phase_band(
    phases: Sequence[tuple[float, Phase]], *, t_end: float, window_s: float, width: int
) -> Text:
    """One row: the phase in force at each column, its initial where a phase starts."""
    window = Window(t_end, window_s, width)
    line = Text()
    previous: Phase | None = None
    for index in range(width):
        middle = window.column_middle(index)
        current: Phase | None = None
        for t, phase in phases:
            if t <= middle:
                current = phase
        if current is None:
            line.append(" ")
        elif current is not previous:
            line.append(current.value[0].upper(), PHASE_STYLE[current])
        else:
            line.append(" ", PHASE_STYLE[current])
        previous = current
    return line


def alarm_marks(
    marks: Iterable[tuple[float, AlarmPriority, str]],
    *,
    t_end: float,
    window_s: float,
    width: int,
) -> Text:
    """One row: ``▲`` where an alarm was raised, in its priority's colour."""
    window = Window(t_end, window_s, width)
    worst: dict[int, AlarmPriority] = {}
    for t, priority, _code in marks:
        index = window.column(t)
        if index is not None and (
            index not in worst or priority.rank > worst[index].rank
        ):
            worst[index] = priority
    line = Text()
    for index in range(width):
        top = worst.get(index)
        if top is None:
            line.append(" ")
        else:
            line.append("▲", PRIORITY_STYLE[top])
    return line


def time_axis(*, window_s: float, width: int) -> Text:
    """``-60m`` on the left, the middle, ``now`` on the right.

    >>> time_axis(window_s=3600, width=20).plain
    '-60m     -30m    now'
    """
    minutes = round(window_s / 60)
    cells = [" "] * width
    marks = ((0, f"-{minutes}m"), (width // 2 - 1, f"-{minutes // 2}m"))
    for start, label in marks:
        for offset_, char in enumerate(label):
            if 0 <= start + offset_ < width:
                cells[start + offset_] = char
    for offset_, char in enumerate("now"):
        position = width - 3 + offset_
        if 0 <= position < width:
            cells[position] = char
    return Text("".join(cells), style="grey62")

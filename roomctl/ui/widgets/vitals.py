"""The vitals tiles: SpO2, pulse rate and NIBP with limits, age and a mini trend.

The mini trend is one row over the last 60 minutes on a fixed clinical scale (not
Textual's self-scaling ``Sparkline``, which would draw a 1 % wobble as a full swing):
time runs left to right as on the trend panel, and a stretch that was not live shows
as a gap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import Vertical
from textual.widget import Widget

from roomctl.ui import plot
from roomctl.ui.state import Tile
from roomctl.ui.view import nibp_tile, trend_end, vital_tile
from roomctl.ui.widgets import PlainStatic, set_alarm_classes

if TYPE_CHECKING:
    from textual.app import ComposeResult, RenderResult

    from roomctl.ui.view import RoomView


#: Fixed scales of the mini trends: ``(low, high, summary)``; SpO2 shows each slice's
#: lowest value, the others their highest (the worst case is what a glance must catch).
SCALES = {
    Tile.SPO2: (80.0, 100.0, min),
    Tile.PULSE: (40.0, 160.0, max),
    Tile.NIBP: (60.0, 220.0, max),
}


class MiniTrend(Widget):
    """One row of trend over the room's trend window."""

    DEFAULT_CSS = """
    MiniTrend { height: 1; }
    """

    def __init__(self, tile: Tile) -> None:
        super().__init__()
        self._tile = tile
        self._points: list[tuple[float, float | None]] = []
        self._t_end = 0.0
        self._window_s = 3600.0

    def set_points(
        self, points: list[tuple[float, float | None]], t_end: float, window_s: float
    ) -> None:
        """Show ``points`` over ``window_s`` seconds ending at ``t_end``."""
        if (points, t_end, window_s) != (self._points, self._t_end, self._window_s):
            self._points, self._t_end, self._window_s = points, t_end, window_s
            self.refresh()

    def render(self) -> RenderResult:
        """The row, sized to the widget."""
        low, high, summary = SCALES[self._tile]
        (row,) = plot.area(
            self._points,
            t_end=self._t_end,
            window_s=self._window_s,
            width=max(1, self.size.width),
            height=1,
            low=low,
            high=high,
            summary=summary,
        )
        return row


class VitalTile(Vertical):
    """One vital: its number (or ``--``), the trend and what to know about it."""

    def __init__(self, tile: Tile, *, id: str | None = None) -> None:  # noqa: A002 -- Textual's name
        super().__init__(id=id)
        self.tile = tile
        """Which vital this tile shows."""

    def compose(self) -> ComposeResult:
        """Value, mini trend, detail."""
        yield PlainStatic("--", classes="value")
        yield MiniTrend(self.tile)
        yield PlainStatic("", classes="detail")

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        content = (
            nibp_tile(view) if self.tile is Tile.NIBP else vital_tile(view, self.tile)
        )
        self.border_title = content.title
        self.border_subtitle = content.limits
        value = Text(content.value)
        if content.flag:
            value.append(f"  {content.flag}", "bold")
        self.query_one(".value", PlainStatic).update(value)
        self.query_one(".detail", PlainStatic).update(content.detail)
        self.query_one(MiniTrend).set_points(
            content.trend, trend_end(view), view.model.history.window_s
        )
        set_alarm_classes(
            self,
            content.priority,
            unacknowledged=content.unacknowledged,
            stale=content.stale,
        )

"""The trend panel: SpO2, pulse rate and NIBP over the last 60 minutes.

Below the plots, the session's phase bands and a mark wherever an alarm was raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from roomctl.ui import plot
from roomctl.ui.state import PULSE, SPO2
from roomctl.ui.view import trend_end

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textual.app import RenderResult

    from roomctl.ui.state import Limits
    from roomctl.ui.view import RoomView

#: Columns for the labels on the left.
MARGIN = 9


def _label_rows(name: str, low: float, high: float, height: int) -> list[Text]:
    if height == 1:
        return [Text(f"{name} {low:.0f}-{high:.0f}"[:MARGIN].ljust(MARGIN), "grey70")]
    rows = [Text(f"{name:<5}{high:>3.0f} ", "grey70")]
    rows += [Text(" " * MARGIN) for _ in range(height - 2)]
    rows.append(Text(f"{'':<5}{low:>3.0f} ", "grey70"))
    return rows


def _limits(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


class TrendPanel(Widget):
    """A plot of the room's last hour (the console's own samples, about 1 Hz)."""

    DEFAULT_CSS = """
    TrendPanel { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 -- Textual's name
        super().__init__(id=id)
        self._view: RoomView | None = None

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        self._view = view
        self.set_class(not view.live, "-stale")
        self.refresh()

    def render(self) -> RenderResult:
        """The plot, sized to the widget."""
        view = self._view
        history = None if view is None else view.model.history
        if view is None or history is None or history.last_t is None:
            return Text("No trend yet: the console draws what it receives, live.")
        width = max(10, self.size.width - MARGIN)
        series_h = max(1, (self.size.height - 3) // 3)
        t_end, window = trend_end(view), history.window_s
        state = view.state
        limits: Limits | None = None if state is None else state.limits
        spo2 = history.series[SPO2]
        pulse = history.series[PULSE]
        pulse_values = [v for _, v in pulse if v is not None]
        pulse_low = min([40.0, *pulse_values])
        pulse_high = max([140.0, *pulse_values])
        bp_values = [float(v) for _, s, d in history.nibp for v in (s, d)]
        bp_low, bp_high = min([40.0, *bp_values]), max([200.0, *bp_values])
        blocks: list[tuple[str, float, float, list[Text]]] = [
            (
                "SpO2",
                80.0,
                100.0,
                plot.area(
                    spo2,
                    t_end=t_end,
                    window_s=window,
                    width=width,
                    height=series_h,
                    low=80,
                    high=100,
                    summary=min,
                    style="bright_blue",
                    limits=_limits(
                        [limits.spo2_low, limits.spo2_severe_low] if limits else []
                    ),
                ),
            ),
            (
                "PR",
                pulse_low,
                pulse_high,
                plot.area(
                    pulse,
                    t_end=t_end,
                    window_s=window,
                    width=width,
                    height=series_h,
                    low=pulse_low,
                    high=pulse_high,
                    summary=max,
                    style="green",
                    limits=_limits(
                        [limits.pulse_low, limits.pulse_high] if limits else []
                    ),
                ),
            ),
            (
                "BP",
                bp_low,
                bp_high,
                plot.ranges(
                    [(t, float(s), float(d)) for t, s, d in history.nibp],
                    t_end=t_end,
                    window_s=window,
                    width=width,
                    height=series_h,
                    low=bp_low,
                    high=bp_high,
                    style="magenta",
                    limits=_limits([limits.sbp_high, limits.sbp_low] if limits else []),
                ),
            ),
        ]
        lines: list[Text] = []
        for name, low, high, rows in blocks:
            for label, row in zip(
                _label_rows(name, low, high, series_h), rows, strict=True
            ):
                lines.append(Text.assemble(label, row))
        lines.append(
            Text.assemble(
                Text("phase".ljust(MARGIN), "grey70"),
                plot.phase_band(
                    history.phases, t_end=t_end, window_s=window, width=width
                ),
            )
        )
        lines.append(
            Text.assemble(
                Text("alarms".ljust(MARGIN), "grey70"),
                plot.alarm_marks(
                    history.marks, t_end=t_end, window_s=window, width=width
                ),
            )
        )
        lines.append(
            Text.assemble(" " * MARGIN, plot.time_axis(window_s=window, width=width))
        )
        return Group(*lines)

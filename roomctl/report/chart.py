"""The session chart: SpO2, pulse rate and NIBP against minutes from the dose.

Drawn with matplotlib's object API on a ``Figure`` the caller owns (no pyplot, no
global backend: PNG output goes through Agg, PDF through matplotlib's PDF backend).
From the top: the phase strip, the alarm lanes (high, medium, low; a bar for as long
as the alarm was on, a triangle where it was raised or escalated, in its priority's
colour: red high, yellow medium, cyan low), then SpO2, pulse rate and NIBP (systolic
and diastolic joined by a line, MAP as a dot) with the baseline dashed, the phases
shaded, the rise episodes bracketed and the link gaps hatched. A value that was not
valid is a gap in its line, never a point.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from roomctl.events import AlarmPriority, Phase
from roomctl.report.tables import offset

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from roomctl.report.model import ReportModel, Series

#: Alarm colours (IEC 60601-1-8 practice: red high, yellow medium, cyan low), dark
#: enough to read on white paper.
PRIORITY_COLOURS: dict[AlarmPriority, str] = {
    AlarmPriority.HIGH: "#d62728",
    AlarmPriority.MEDIUM: "#e6b400",
    AlarmPriority.LOW: "#00b4c8",
}
#: Phase colours: quiet tints no alarm colour uses.
PHASE_COLOURS: dict[Phase, str] = {
    Phase.PREPARATION: "#dedede",
    Phase.DOSING: "#cdb9e8",
    Phase.PEAK: "#e8b9df",
    Phase.RETURN: "#b9d3ef",
    Phase.INTEGRATION: "#bfe3bf",
    Phase.CLOSED: "#c8c8c8",
}
#: Phase names for narrow bands.
_SHORT_PHASE: dict[Phase, str] = {
    Phase.PREPARATION: "prep.",
    Phase.DOSING: "dose",
    Phase.PEAK: "peak",
    Phase.RETURN: "ret.",
    Phase.INTEGRATION: "integr.",
    Phase.CLOSED: "closed",
}
SPO2_COLOUR = "#1f4e9c"
PULSE_COLOUR = "#2e7d32"
BP_COLOUR = "#6d2c0c"
EPISODE_COLOUR = "#5b2a86"
BASELINE_COLOUR = "#555555"
GAP_COLOUR = "#7f7f7f"

#: A continuous signal with no sample for longer than this is drawn with a gap.
MAX_SAMPLE_GAP_S = 5.0

#: Which vital panel an alarm code's mark goes on.
_PANEL_OF = (("spo2.", "spo2"), ("hr.", "pulse"), ("bp.", "bp"))


def broken(
    series: Series, max_gap_s: float = MAX_SAMPLE_GAP_S
) -> tuple[list[float], list[float]]:
    """The series as plot data, with NaN where no line may be drawn.

    NaN stands where a value was not valid and in every gap between samples longer
    than ``max_gap_s``, so a line never bridges missing data.
    """
    xs: list[float] = []
    ys: list[float] = []
    previous: float | None = None
    for t, value in zip(series.t_min, series.values, strict=True):
        if previous is not None and (t - previous) * 60 > max_gap_s:
            xs.append((t + previous) / 2)
            ys.append(math.nan)
        xs.append(t)
        ys.append(math.nan if value is None else value)
        previous = t
    return xs, ys


def _limits(
    values: list[float], low: float, high: float, pad: float
) -> tuple[float, float]:
    """Axis limits that hold ``low``..``high`` and every value, with a margin."""
    if values:
        low, high = min(low, min(values) - pad), max(high, max(values) + pad)
    return low, high


def _shade(ax: Axes, model: ReportModel) -> None:
    for band in model.phases:
        ax.axvspan(
            model.t_min(band.start_ts),
            model.t_min(band.end_ts),
            color=PHASE_COLOURS[band.phase],
            alpha=0.35,
            linewidth=0,
            zorder=0,
        )
    for gap in model.gaps:
        end = gap.end_ts if gap.end_ts is not None else model.end_ts
        ax.axvspan(
            model.t_min(gap.start_ts),
            model.t_min(end),
            facecolor="none",
            edgecolor=GAP_COLOUR,
            hatch="////",
            linewidth=0,
            zorder=1,
        )
    if model.reference == "dose start":
        ax.axvline(0, color="black", linewidth=0.9, zorder=2)
    ax.grid(axis="both", color="#e0e0e0", linewidth=0.5, zorder=0)


def _baseline(ax: Axes, value: float | None, label: str) -> None:
    if value is None:
        return
    ax.axhline(value, color=BASELINE_COLOUR, linestyle="--", linewidth=0.9, zorder=2)
    ax.annotate(
        f"{label}\n{value:g}",
        xy=(1.0, value),
        xycoords=("axes fraction", "data"),
        xytext=(3, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        fontsize=6.5,
        color=BASELINE_COLOUR,
        annotation_clip=False,
    )


def _marks(ax: Axes, model: ReportModel, panel: str) -> None:
    for mark in model.marks:
        target = next(
            (p for prefix, p in _PANEL_OF if mark.code.startswith(prefix)), None
        )
        if target == panel:
            ax.axvline(
                model.t_min(mark.ts),
                color=PRIORITY_COLOURS[mark.priority],
                linewidth=1.4,
                linestyle=":",
                zorder=3,
            )


def _episodes(ax: Axes, model: ReportModel, signal: str) -> None:
    shown = [e for e in model.episodes if e.signal == signal]
    for index, episode in enumerate(shown):
        start = model.t_min(episode.opened_ts)
        end_ts = episode.closed_ts if episode.closed_ts is not None else model.end_ts
        end = model.t_min(end_ts)
        y = 0.93 - 0.1 * (index % 2)
        transform = ax.get_xaxis_transform()
        ax.plot(
            [start, start, end, end],
            [y - 0.04, y, y, y - 0.04],
            transform=transform,
            color=EPISODE_COLOUR,
            linewidth=1.3,
            zorder=4,
        )
        peak = episode.peak
        if "sbp" in peak and "dbp" in peak:
            value = f"{peak['sbp']:g}/{peak['dbp']:g}"
        else:
            value = ", ".join(f"{v:g}" for v in peak.values())
        when = ""
        if episode.peak_t is not None and model.reference == "dose start":
            when = f" at {offset(model, model.reference_ts + episode.peak_t)}"
        state = "" if episode.closed_ts is not None else " (open)"
        ax.text(
            start,
            y + 0.015,
            f"{signal.upper()} response: peak {value}{when}{state}",
            transform=transform,
            fontsize=7,
            color=EPISODE_COLOUR,
            va="bottom",
            zorder=4,
        )


def _line(ax: Axes, series: Series, colour: str) -> None:
    xs, ys = broken(series)
    ax.plot(xs, ys, color=colour, linewidth=0.8, zorder=3)


def _text_minutes(
    fig: Figure, ax: Axes, span: float, chars: int, size_pt: float
) -> float:
    """How many minutes of the x axis a text of ``chars`` characters covers."""
    width_pt = ax.get_position().width * fig.get_figwidth() * 72
    # DejaVu Sans averages about 0.6 em a character; 4 pt of margin.
    return (chars * 0.6 * size_pt + 4) * span / width_pt


def _phase_strip(fig: Figure, ax: Axes, model: ReportModel, span: float) -> None:
    for band in model.phases:
        start, end = model.t_min(band.start_ts), model.t_min(band.end_ts)
        ax.axvspan(start, end, color=PHASE_COLOURS[band.phase], linewidth=0)
        name = band.phase.value
        if _text_minutes(fig, ax, span, len(name), 8) > end - start:
            name = _SHORT_PHASE[band.phase]  # where the band is narrow
        if _text_minutes(fig, ax, span, len(name), 8) <= end - start:
            ax.text(
                (start + end) / 2,
                0.5,
                name,
                ha="center",
                va="center",
                fontsize=8,
                transform=ax.get_xaxis_transform(),
            )
    if model.reference == "dose start":
        ax.axvline(0, color="black", linewidth=0.9)
    ax.set_yticks([])
    ax.set_ylabel("Phase", rotation=0, ha="right", va="center", fontsize=8)


def _alarm_lanes(fig: Figure, ax: Axes, model: ReportModel, span: float) -> None:
    lanes = {AlarmPriority.LOW: 1, AlarmPriority.MEDIUM: 2, AlarmPriority.HIGH: 3}
    for row in model.alarms:
        for start, end, priority in row.segments(model.end_ts):
            ax.hlines(
                lanes[priority],
                model.t_min(start),
                max(model.t_min(end), model.t_min(start) + span * 0.002),
                color=PRIORITY_COLOURS[priority],
                linewidth=5,
                zorder=2,
            )
    label_end: dict[int, float] = {}
    for mark in model.marks:
        lane, x = lanes[mark.priority], model.t_min(mark.ts)
        ax.plot(
            x,
            lane,
            marker="v",
            markersize=7,
            color=PRIORITY_COLOURS[mark.priority],
            markeredgecolor="black",
            markeredgewidth=0.5,
            zorder=3,
        )
        # A code is written where it does not run into the one before it.
        if x >= label_end.get(lane, -math.inf):
            label_end[lane] = x + _text_minutes(fig, ax, span, len(mark.code), 6.5)
            ax.text(x, lane + 0.32, mark.code, fontsize=6.5, va="bottom", zorder=4)
    ax.set_ylim(0.4, 3.9)
    ax.set_yticks([1, 2, 3], ["low", "medium", "high"], fontsize=7)
    for label, priority in zip(
        ax.get_yticklabels(),
        (AlarmPriority.LOW, AlarmPriority.MEDIUM, AlarmPriority.HIGH),
        strict=True,
    ):
        label.set_color(PRIORITY_COLOURS[priority])
        label.set_fontweight("bold")
    ax.set_ylabel("Alarms", rotation=0, ha="right", va="center", fontsize=8)
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.5)


def _nibp_panel(ax: Axes, model: ReportModel) -> list[float]:
    ok = [
        (p.t_min, p.sbp, p.dbp, p.map)
        for p in model.nibp
        if p.sbp is not None and p.dbp is not None
    ]
    failed = [p.t_min for p in model.nibp if p.sbp is None or p.dbp is None]
    if ok:
        xs, sbp, dbp = [o[0] for o in ok], [o[1] for o in ok], [o[2] for o in ok]
        ax.vlines(xs, dbp, sbp, color=BP_COLOUR, linewidth=1.2)
        ax.plot(xs, sbp, "v", color=BP_COLOUR, markersize=6, label="systolic")
        ax.plot(xs, dbp, "^", color=BP_COLOUR, markersize=6, label="diastolic")
        maps = [(o[0], o[3]) for o in ok if o[3] is not None]
        if maps:
            ax.plot(
                [m[0] for m in maps],
                [m[1] for m in maps],
                "o",
                color="white",
                markeredgecolor=BP_COLOUR,
                markersize=4,
                label="MAP",
            )
    if failed:
        ax.plot(
            failed,
            [0.04] * len(failed),
            "x",
            color=GAP_COLOUR,
            transform=ax.get_xaxis_transform(),
            label="no reading",
        )
    return [v for o in ok for v in (o[1], o[2])]


def draw_chart(
    fig: Figure, model: ReportModel, rect: tuple[float, float, float, float]
) -> None:
    """Draw the chart into ``rect`` (left, bottom, right, top, figure fractions).

    The baseline labels go to the right of ``right``: leave them about 0.5 in.
    """
    from matplotlib.patches import Patch  # noqa: PLC0415 (matplotlib only for output)
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    left, bottom, right, top = rect
    grid = fig.add_gridspec(
        5,
        1,
        left=left,
        bottom=bottom,
        right=right,
        top=top,
        height_ratios=(0.45, 1.0, 2.0, 2.0, 2.6),
        hspace=0.12,
    )
    strip = fig.add_subplot(grid[0])
    axes = [strip] + [fig.add_subplot(grid[i], sharex=strip) for i in range(1, 5)]
    phases, alarms, spo2_ax, pulse_ax, bp_ax = axes
    start = min(model.t_min(model.session.started_at.timestamp()), 0.0)
    end = max(model.t_min(model.end_ts), start + 1.0)
    span = end - start
    strip.set_xlim(start - span * 0.01, end + span * 0.01)
    _phase_strip(fig, phases, model, span)
    _alarm_lanes(fig, alarms, model, span)
    for ax, panel in ((spo2_ax, "spo2"), (pulse_ax, "pulse"), (bp_ax, "bp")):
        _shade(ax, model)
        _marks(ax, model, panel)

    base = model.baseline
    _line(spo2_ax, model.spo2, SPO2_COLOUR)
    spo2_ax.set_ylim(*_limits(model.spo2.valid, 85.0, 100.0, 1.0))
    spo2_ax.set_ylim(top=101.0)
    spo2_ax.set_ylabel("SpO2 %", fontsize=8)
    _baseline(spo2_ax, base.spo2, "baseline")

    _line(pulse_ax, model.pulse, PULSE_COLOUR)
    pulse_ax.set_ylim(*_limits(model.pulse.valid, 50.0, 110.0, 5.0))
    pulse_ax.set_ylabel("Pulse rate\nbpm", fontsize=8)
    _baseline(pulse_ax, base.hr, "baseline")
    _episodes(pulse_ax, model, "hr")

    values = _nibp_panel(bp_ax, model)
    low, high = _limits(values, 50.0, 160.0, 10.0)
    bp_ax.set_ylim(low, high + (high - low) * 0.25)  # room for the episode brackets
    bp_ax.set_ylabel("NIBP\nmmHg", fontsize=8)
    _baseline(bp_ax, base.sbp, "baseline SBP")
    _baseline(bp_ax, base.dbp, "baseline DBP")
    _episodes(bp_ax, model, "bp")
    handles, _labels = bp_ax.get_legend_handles_labels()
    if model.gaps:
        handles.append(
            Patch(
                facecolor="white", edgecolor=GAP_COLOUR, hatch="////", label="link gap"
            )
        )
    if handles:
        bp_ax.legend(
            handles=handles, loc="lower right", fontsize=7, ncols=5, framealpha=0.9
        )
    for ax in (spo2_ax, pulse_ax, bp_ax):
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))

    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    for ax in axes:
        ax.tick_params(labelsize=7)
    reference = model.clock(model.reference_ts, "%H:%M:%S %Z").strip()
    bp_ax.set_xlabel(f"Minutes from {model.reference} ({reference})", fontsize=8)

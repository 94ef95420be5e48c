"""The session: phase timeline, baseline, rise-episode cards, discharge readiness."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from rich.text import Text

from roomctl.events import Phase
from roomctl.ui.format import number
from roomctl.ui.widgets import PlainStatic

if TYPE_CHECKING:
    from roomctl.ui.state import BaselineValues, RoomState
    from roomctl.ui.view import RoomView


def _times(view: RoomView, state: RoomState) -> list[str]:
    """Dose, infusion end and route, in words."""
    times = []
    offset_s = state.dose_offset_s
    if offset_s is not None:
        dose_at = None if state.at is None else state.at - timedelta(seconds=offset_s)
        times.append(f"dose given {view.clock(dose_at)}")
    else:
        times.append("no dose yet")
    if state.infusion_end_at is not None:
        planned = "" if state.infusion_end_recorded else " (planned)"
        times.append(f"infusion ends {view.clock(state.infusion_end_at)}{planned}")
    if state.route:
        times.append(f"route {state.route}")
    return times


class PhaseTimeline(PlainStatic):
    """Every phase in order, the current one highlighted; dose and infusion times."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        current = None if state is None else state.phase
        line = Text("Phase: ")
        for index, phase in enumerate(Phase):
            if index:
                line.append(" > ", "grey50")
            if phase is current:
                line.append(f" {phase.value.upper()} ", "bold reverse")
            elif current is not None and phase.order < current.order:
                line.append(phase.value, "grey50")
            else:
                line.append(phase.value)
        if state is None:
            self.update(line)
            return
        line.append("\n" + " | ".join(_times(view, state)))
        if state.closed_reason:
            line.append(f"\nClosed with reason: {state.closed_reason}")
        self.update(line)


def _values(values: BaselineValues) -> str:
    return f"BP {values.bp_text}  HR {number(values.hr)}  SpO2 {number(values.spo2)}"


class BaselinePanel(PlainStatic):
    """The baseline in force, how it came about, and what a nurse still has to do."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        baseline = None if state is None else state.baseline
        if baseline is None:
            self.update("Baseline: not reported")
            return
        head = Text("Baseline ")
        if baseline.status == "unconfirmed":
            head.append("UNCONFIRMED", "bold yellow")
            head.append(" (b: confirm or override)")
        else:
            who = f" by {baseline.confirmed_by}" if baseline.confirmed_by else ""
            head.append(f"{baseline.status}{who} {view.clock(baseline.confirmed_at)}")
        head.append(f": {_values(baseline.values)}")
        lines = [head]
        if baseline.overridden:
            lines.append(
                Text(
                    f"Computed: {_values(baseline.computed)} | overridden "
                    f"{', '.join(baseline.overridden)}: "
                    f"{baseline.override_reason or ''}"
                )
            )
        if baseline.missing:
            lines.append(
                Text(
                    f"Missing: {', '.join(baseline.missing)} (their relative rules "
                    "are off)",
                    "yellow",
                )
            )
        if baseline.frozen:
            lines.append(Text("Frozen at dose start.", "grey62"))
        self.update(Text("\n").join(lines))
        self.set_class(baseline.status == "unconfirmed", "-todo")


class EpisodeCards(PlainStatic):
    """Transient BP/HR rise episodes: information cards, not alarms."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        episodes = () if state is None else state.episodes
        if not episodes:
            self.update("Rise episodes: none")
            return
        lines = [Text("Rise episodes:")]
        for episode in episodes:
            mark, style = ("*", "bold") if episode.open else ("-", "grey62")
            status = "open" if episode.open else "closed"
            lines.append(Text(f" {mark} {episode.text} [{status}]", style))
        self.update(Text("\n").join(lines))


class DischargePanel(PlainStatic):
    """Discharge-ready, or the reasons why not."""

    def show(self, view: RoomView) -> None:
        """Update from ``view``."""
        state = view.state
        discharge = None if state is None else state.discharge
        if discharge is None:
            self.update("Discharge: not reported")
            return
        if discharge.ready:
            self.update(Text("Discharge: READY", "bold green"))
        else:
            earliest = (
                f" (earliest {view.clock(discharge.earliest_at)})"
                if discharge.earliest_at
                else ""
            )
            lines = [Text(f"Discharge: NOT READY{earliest}", "bold")]
            lines += [Text(f" - {reason}") for reason in discharge.reasons]
            self.update(Text("\n").join(lines))
        self.set_class(discharge.ready, "-ready")

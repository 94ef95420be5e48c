"""Transient-rise episodes for BP and HR, and the relative ``bp.rise`` row.

Layer: pure core. alarm-policy.md, "Transient-rise episode object": an episode opens on
the first relative or absolute crossing, records the baseline, the peak and its time
from dose start and the number of confirming readings, and closes when the resolution
rule is met. It is an information card, not an alarm.

Decisions on the policy's ambiguities:

- Episodes describe the response to the dose, so they open only after dose start.
  Relative crossings need the baseline part; without it only absolute ones open an
  episode.
- BP: a crossing is SBP >= baseline + 40 or DBP >= baseline + 25 (relative), or the
  ``bp.high`` limits (absolute). The peak is the highest plausible reading by SBP, then
  DBP. The episode closes by the ``bp.rise`` resolution rule: 2 consecutive readings at
  least 5 min apart, each with SBP <= baseline + 20 and DBP <= baseline + 10, or with
  SBP < 140 and DBP < 90 (either is enough for a reading: back near the baseline, or
  normal; without a baseline only the second).
- ``bp.rise`` is raised by 2 consecutive relative crossings *below the absolute
  limits* (a reading at or above them belongs to ``bp.high``/``bp.severe`` and breaks
  the count); it clears when its episode closes, and becomes MEDIUM "BP not resolved"
  once still active at the deadline (IV: infusion end + 60 min; other routes: dose +
  120 min).
- HR: crossings and the peak are judged on the 10 s median (not single samples). A
  crossing is the ``hr.rise`` limit (max(baseline + 30, 110)) or the ``hr.high``
  limit, whichever is lower. The episode closes when the median has met both the
  ``hr.rise`` resolution (<= baseline + 15; skipped without a baseline) and the
  ``hr.high`` one (< 130 - 10) for the longer of their times. A new HR peak is reported
  only when it beats the last reported one by ``hr_update_step_bpm``; the snapshot
  always has the true peak.
- The sentence: "ketamine BP response: peak 162/98 at +38 min, resolving". The last
  word is "ongoing" while the latest reading still crosses, "resolving" once it does
  not, and "resolved at +80 min" once closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from roomctl.alarms.board import Assertion
from roomctl.alarms.signal import EMPTY, Region, SustainedRun
from roomctl.alarms.state import EpisodeView
from roomctl.events import (
    AlarmKind,
    EpisodeChanged,
    EpisodeSignal,
    EpisodeTransition,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from roomctl.alarms.bp import Bp
    from roomctl.alarms.policy import (
        BpHighPolicy,
        BpRelativePolicy,
        HrHighPolicy,
        HrRelativePolicy,
    )


def minutes_text(seconds: float) -> str:
    """``+38 min`` for 2280 s after dose start.

    >>> minutes_text(2280.0), minutes_text(-30.0)
    ('+38 min', '-0 min')
    """
    sign = "+" if seconds >= 0 else "-"
    return f"{sign}{round(abs(seconds) / 60)} min"


@dataclass(slots=True, kw_only=True)
class Episode:
    """One episode's mutable record."""

    episode_id: int
    signal: EpisodeSignal
    opened_mono: float
    baseline: dict[str, float]
    peak: dict[str, float]
    peak_mono: float
    dose_mono: float
    confirming: int = 0
    closed_mono: float | None = None
    crossing: bool = True
    #: The peak the last event reported (HR reports in steps).
    reported: dict[str, float] = field(default_factory=dict)

    def peak_text(self) -> str:
        """``162/98`` or ``135 bpm``."""
        if self.signal is EpisodeSignal.BP:
            return f"{self.peak['sbp']:g}/{self.peak['dbp']:g}"
        return f"{self.peak['hr']:g} bpm"

    def text(self) -> str:
        """The sentence the console shows."""
        if self.closed_mono is not None:
            state = f"resolved at {minutes_text(self.closed_mono - self.dose_mono)}"
        else:
            state = "ongoing" if self.crossing else "resolving"
        return (
            f"ketamine {self.signal.value.upper()} response: peak {self.peak_text()} "
            f"at {minutes_text(self.peak_mono - self.dose_mono)}, {state}"
        )


class EpisodeLog:
    """Every episode of the session, with ids and events."""

    def __init__(self, stamp: Callable[[float], datetime]) -> None:
        self._stamp = stamp
        self.episodes: list[Episode] = []

    def open(
        self,
        signal: EpisodeSignal,
        now: float,
        *,
        dose_mono: float,
        baseline: dict[str, float],
        peak: dict[str, float],
    ) -> Episode:
        """Open a new episode (its event comes from ``event``)."""
        episode = Episode(
            episode_id=len(self.episodes) + 1,
            signal=signal,
            opened_mono=now,
            baseline=baseline,
            peak=peak,
            peak_mono=now,
            dose_mono=dose_mono,
            reported=dict(peak),
        )
        self.episodes.append(episode)
        return episode

    def event(
        self, episode: Episode, transition: EpisodeTransition, now: float
    ) -> EpisodeChanged:
        """An ``EpisodeChanged`` for the episode as it stands."""
        episode.reported = dict(episode.peak)
        return EpisodeChanged(
            occurred_mono=now,
            occurred_at=self._stamp(now),
            transition=transition,
            signal=episode.signal,
            episode_id=episode.episode_id,
            baseline=dict(episode.baseline),
            peak=dict(episode.peak),
            peak_t=episode.peak_mono - episode.dose_mono,
            text=episode.text(),
        )

    def open_episodes(self) -> list[Episode]:
        """Episodes not yet closed."""
        return [e for e in self.episodes if e.closed_mono is None]

    def views(self) -> tuple[EpisodeView, ...]:
        """Every episode, oldest first."""
        return tuple(
            EpisodeView(
                episode_id=e.episode_id,
                signal=e.signal,
                open=e.closed_mono is None,
                opened_at=self._stamp(e.opened_mono),
                baseline=dict(e.baseline),
                peak=dict(e.peak),
                peak_t=e.peak_mono - e.dose_mono,
                confirming_readings=e.confirming,
                closed_at=None if e.closed_mono is None else self._stamp(e.closed_mono),
                text=e.text(),
            )
            for e in self.episodes
        )


class BpResponse:
    """The BP episode and ``bp.rise``."""

    def __init__(
        self,
        rel: BpRelativePolicy,
        high: BpHighPolicy,
        log: EpisodeLog,
        *,
        spacing_tolerance_s: float = 0.0,
    ) -> None:
        self._rel = rel
        #: The resolution's spacing less the NIBP cycle's tolerance.
        self._resolve_spacing_s = max(0.0, rel.resolve_spacing_s - spacing_tolerance_s)
        self._high = high
        self._log = log
        self.episode: Episode | None = None
        self._consecutive = 0
        self.rise_active = False
        self._resolved = 0
        self._last_resolving: float | None = None
        self._latest: Bp | None = None
        #: The latest relative crossing below the absolute limits (the LOW card).
        self._trigger: Bp | None = None
        self._baseline: tuple[float, float] | None = None
        #: Highest plausible post-dose reading (trend marker).
        self.peak: Bp | None = None

    def _resolving(self, bp: Bp, baseline: tuple[float, float] | None) -> bool:
        rel = self._rel
        near = baseline is not None and (
            bp.sbp <= baseline[0] + rel.resolve_sbp_rise_mmhg
            and bp.dbp <= baseline[1] + rel.resolve_dbp_rise_mmhg
        )
        normal = (
            bp.sbp < rel.resolve_sbp_below_mmhg and bp.dbp < rel.resolve_dbp_below_mmhg
        )
        return near or normal

    def reading(
        self, bp: Bp, *, dose_mono: float, baseline: tuple[float, float] | None
    ) -> list[EpisodeChanged]:
        """Judge one plausible post-dose reading."""
        rel, high = self._rel, self._high
        self._latest, self._baseline = bp, baseline
        if self.peak is None or (bp.sbp, bp.dbp) > (self.peak.sbp, self.peak.dbp):
            self.peak = bp
        relative = baseline is not None and (
            bp.sbp >= baseline[0] + rel.sbp_rise_mmhg
            or bp.dbp >= baseline[1] + rel.dbp_rise_mmhg
        )
        absolute = bp.sbp >= high.sbp_mmhg or bp.dbp >= high.dbp_mmhg
        crossing = relative or absolute
        self._consecutive = self._consecutive + 1 if relative and not absolute else 0
        if self._consecutive:
            self._trigger = bp
        events = []
        episode = self.episode
        if episode is None:
            if not crossing:
                return []
            base = {} if baseline is None else {"sbp": baseline[0], "dbp": baseline[1]}
            episode = self._log.open(
                EpisodeSignal.BP,
                bp.t,
                dose_mono=dose_mono,
                baseline=base,
                peak={"sbp": bp.sbp, "dbp": bp.dbp},
            )
            self.episode = episode
            events.append(self._log.event(episode, EpisodeTransition.OPENED, bp.t))
        elif crossing:
            episode.confirming += 1
            if (bp.sbp, bp.dbp) > (episode.peak["sbp"], episode.peak["dbp"]):
                episode.peak = {"sbp": bp.sbp, "dbp": bp.dbp}
                episode.peak_mono = bp.t
                events.append(self._log.event(episode, EpisodeTransition.UPDATED, bp.t))
        episode.crossing = crossing
        if self._consecutive >= rel.confirm_readings:
            self.rise_active = True
        events.extend(self._follow_resolution(bp, episode, baseline))
        return events

    def _follow_resolution(
        self, bp: Bp, episode: Episode, baseline: tuple[float, float] | None
    ) -> list[EpisodeChanged]:
        rel = self._rel
        if not self._resolving(bp, baseline):
            self._resolved = 0
            self._last_resolving = None
            return []
        if (
            self._last_resolving is None
            or bp.t - self._last_resolving >= self._resolve_spacing_s
        ):
            self._resolved += 1
            self._last_resolving = bp.t
        if self._resolved < rel.resolve_readings:
            return []
        episode.closed_mono = bp.t
        self.episode = None
        self.rise_active = False
        self._consecutive = 0
        self._resolved = 0
        self._last_resolving = None
        return [self._log.event(episode, EpisodeTransition.CLOSED, bp.t)]

    def resolution(self) -> str:
        """The resolution rule in words, with the baseline's numbers."""
        rel = self._rel
        normal = f"< {rel.resolve_sbp_below_mmhg:g}/{rel.resolve_dbp_below_mmhg:g}"
        if self._baseline is None:
            within = normal
        else:
            within = (
                f"<= {self._baseline[0] + rel.resolve_sbp_rise_mmhg:g}/"
                f"{self._baseline[1] + rel.resolve_dbp_rise_mmhg:g} (or {normal})"
            )
        return (
            f"{rel.resolve_readings} readings {within} at least "
            f"{rel.resolve_spacing_s / 60:g} min apart"
        )

    def assertion(self, now: float, deadline: float | None) -> Assertion | None:
        """``bp.rise`` in force, if any; MEDIUM once past ``deadline``."""
        latest, trigger, base = self._latest, self._trigger, self._baseline
        if not self.rise_active or not latest or not trigger or not base:
            return None
        rel = self._rel
        late = deadline is not None and now >= deadline
        # LOW shows the crossing that raised it; "not resolved" shows the latest.
        latest = latest if late else trigger
        over = f"+{latest.sbp - base[0]:g}/+{latest.dbp - base[1]:g}"
        words = "BP not resolved" if late else "BP rise"
        return Assertion(
            code="bp.rise",
            priority=rel.escalated_priority if late else rel.priority,
            kind=AlarmKind.PHYSIOLOGICAL,
            text=(
                f"{words}: {latest.text} ({over} over baseline {base[0]:g}/{base[1]:g})"
            ),
            value=latest.text,
            limit=f"{base[0] + rel.sbp_rise_mmhg:g}/{base[1] + rel.dbp_rise_mmhg:g}",
            resolution=self.resolution(),
        )


class HrResponse:
    """The HR episode."""

    def __init__(
        self,
        rel: HrRelativePolicy,
        high: HrHighPolicy,
        log: EpisodeLog,
        *,
        step_bpm: float,
    ) -> None:
        self._rel = rel
        self._high = high
        self._log = log
        self._step = step_bpm
        self.episode: Episode | None = None
        self.close_run = SustainedRun()
        self._baseline: float | None = None
        #: Highest median HR since dose start, and when (trend marker).
        self.peak: tuple[float, float] | None = None

    def _crossing_level(self, baseline: float | None) -> float:
        relative = (
            math.inf
            if baseline is None
            else max(baseline + self._rel.rise_bpm, self._rel.floor_bpm)
        )
        return min(relative, self._high.limit_bpm)

    def _settled(self, median: float, baseline: float | None) -> bool:
        high = self._high
        near = baseline is None or median <= baseline + self._rel.clear_rise_bpm
        return near and median < high.limit_bpm - high.clear_margin_bpm

    def sample(
        self, t: float, median: float, *, dose_mono: float, baseline: float | None
    ) -> list[EpisodeChanged]:
        """Take one post-dose median (after a valid PR sample)."""
        self._baseline = baseline
        if self.peak is None or median > self.peak[0]:
            self.peak = (median, t)
        settled = self._settled(median, baseline)
        self.close_run.feed(t, raw=settled, smoothed=settled)
        crossing = median >= self._crossing_level(baseline)
        episode = self.episode
        if episode is None:
            if not crossing:
                return []
            self.episode = self._log.open(
                EpisodeSignal.HR,
                t,
                dose_mono=dose_mono,
                baseline={} if baseline is None else {"hr": baseline},
                peak={"hr": median},
            )
            return [self._log.event(self.episode, EpisodeTransition.OPENED, t)]
        episode.crossing = crossing
        if not crossing:
            return []
        episode.confirming += 1
        if median <= episode.peak["hr"]:
            return []
        episode.peak = {"hr": median}
        episode.peak_mono = t
        if median - episode.reported["hr"] < self._step:
            return []
        return [self._log.event(episode, EpisodeTransition.UPDATED, t)]

    def still(self, median: float, baseline: float | None) -> Region:
        """Medians whose ``sample`` changes nothing (no peak, crossing or settling).

        Empty unless ``median`` is inside, or when a sample would take a new
        baseline.
        """
        peak, episode = self.peak, self.episode
        if (
            peak is None
            or baseline != self._baseline
            or (episode is not None and episode.crossing)
        ):
            return EMPTY
        settled = self._settled(median, baseline)
        if settled != (self.close_run.since is not None):
            return EMPTY
        level = self._crossing_level(baseline)
        lo, hi = self._settled_region(median, baseline, settled=settled)
        hi = min(hi, peak[0], math.nextafter(level, -math.inf))
        return (lo, hi) if lo <= median <= hi else EMPTY

    def _settled_region(
        self, median: float, baseline: float | None, *, settled: bool
    ) -> Region:
        high = self._high
        below = high.limit_bpm - high.clear_margin_bpm
        near = math.inf if baseline is None else baseline + self._rel.clear_rise_bpm
        if settled:
            return (-math.inf, min(near, math.nextafter(below, -math.inf)))
        if median >= below:
            return (below, math.inf)
        # Below the limit yet not settled: above the baseline's margin.
        return (math.nextafter(near, math.inf), math.inf)

    def advance(self, now: float, *, live: bool) -> list[EpisodeChanged]:
        """Close the episode once HR has settled long enough."""
        if not live:
            self.close_run.reset()
            return []
        episode = self.episode
        needed = max(
            self._high.clear_after_s,
            0.0 if self._baseline is None else self._rel.clear_after_s,
        )
        if (
            episode is None
            or self.close_run.since is None
            or self.close_run.held_for(now) < needed
        ):
            return []
        episode.closed_mono = now
        self.episode = None
        return [self._log.event(episode, EpisodeTransition.CLOSED, now)]

    def resolution(self) -> str:
        """The closing rule in words."""
        high = self._high
        limit = f"< {high.limit_bpm - high.clear_margin_bpm:g}"
        if self._baseline is None:
            return f"HR {limit} bpm for {high.clear_after_s:g} s"
        return (
            f"HR <= {self._baseline + self._rel.clear_rise_bpm:g} and {limit} bpm for "
            f"{max(high.clear_after_s, self._rel.clear_after_s):g} s"
        )

"""The engine's snapshot: frozen values for the console, MQTT state and replay.

Pure module. ``AlarmEngine.snapshot(now)`` returns an ``EngineState``; nothing in it
refers back to the engine's mutable state. Times are given twice, as monotonic seconds
(``*_mono``, for logic) and aware UTC (``*_at``, for people and records).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from roomctl.events import (
        AlarmKind,
        AlarmPriority,
        EpisodeSignal,
        Phase,
        Role,
        Route,
    )


class BaselineStatus(enum.StrEnum):
    """Whether a nurse has looked at the baseline."""

    #: Computed by roomctl, not (yet) confirmed by a nurse.
    UNCONFIRMED = "unconfirmed"
    #: A nurse confirmed the computed values.
    CONFIRMED = "confirmed"
    #: A nurse entered one or more values, with a reason.
    OVERRIDDEN = "overridden"


class NibpFreshness(enum.StrEnum):
    """How the console shows the last NIBP reading (alarm-policy.md, NIBP freshness)."""

    FRESH = "fresh"
    #: Older than ``grey_after_cycles`` cycles: shown greyed.
    GREY = "grey"
    #: Older than ``invalid_after_min``: shown as invalid.
    INVALID = "invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmView:
    """One alarm on the board (active, latched, or a card awaiting acknowledgement)."""

    code: str
    priority: AlarmPriority
    kind: AlarmKind
    #: Display text with value and limit ("BP 188/114 >= 180/110").
    text: str
    #: The latest value the rule judged, in the metric's unit ("188/114" for BP).
    value: float | str | None
    #: The limit in force.
    limit: float | str | None
    #: Whether an operator acknowledged it (its audio is silenced).
    acknowledged: bool
    acknowledged_by: Role | None
    #: It reached its latching priority and stays until reset.
    latched: bool
    #: The rule's condition holds now (False: a latched alarm or a card).
    condition_present: bool
    #: It is sounding now.
    sounding: bool
    #: Volume steps above normal (0 or 1).
    volume_step: int
    raised_mono: float
    raised_at: datetime
    #: When the condition ended; ``None`` while present.
    ended_at: datetime | None
    #: The resolution rule in words ("SpO2 >= 92 % for 30 s, then reset").
    resolution: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioView:
    """The alarm audio."""

    #: Whether any alarm is sounding now.
    sounding: bool
    #: Codes sounding now.
    sounding_codes: tuple[str, ...]
    #: Codes still present but silenced by an acknowledgement.
    silenced_codes: tuple[str, ...]
    #: Highest volume step among sounding alarms (0: normal).
    volume_step: int
    #: End of the audio pause; ``None`` when not paused.
    paused_until_mono: float | None
    paused_until_at: datetime | None
    #: Seconds of pause left (0 when not paused), for the countdown.
    pause_remaining_s: float
    paused_by: Role | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineValues:
    """Baseline values; ``None`` where a part cannot be computed."""

    sbp_mmhg: float | None = None
    dbp_mmhg: float | None = None
    hr_bpm: float | None = None
    spo2_percent: float | None = None

    @property
    def missing(self) -> tuple[str, ...]:
        """Parts that are missing: ``bp``, ``hr``, ``spo2``.

        >>> BaselineValues(hr_bpm=72).missing
        ('bp', 'spo2')
        """
        parts = (
            ("bp", self.sbp_mmhg is None or self.dbp_mmhg is None),
            ("hr", self.hr_bpm is None),
            ("spo2", self.spo2_percent is None),
        )
        return tuple(name for name, absent in parts if absent)


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineView:
    """The session baseline and how it came about (the record keeps both)."""

    #: The values the relative rules use.
    values: BaselineValues
    #: What roomctl computed (live before dosing, frozen at dose start).
    computed: BaselineValues
    status: BaselineStatus
    confirmed_by: Role | None
    confirmed_at: datetime | None
    #: Names of the overridden fields (``sbp``, ``dbp``, ``hr``, ``spo2``).
    overridden: tuple[str, ...]
    override_reason: str | None
    #: Parts missing from ``values``; their relative rules are off.
    missing: tuple[str, ...]
    #: Dose start froze the computation.
    frozen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeView:
    """A transient BP or HR rise episode (an information card)."""

    episode_id: int
    signal: EpisodeSignal
    open: bool
    opened_at: datetime
    #: Baseline values, ``{"sbp": 120, "dbp": 75}`` or ``{"hr": 72}``; empty if none.
    baseline: Mapping[str, float]
    peak: Mapping[str, float]
    #: Seconds from dose start to the peak.
    peak_t: float
    #: Readings (BP) or samples (HR) after the first that also crossed.
    confirming_readings: int
    closed_at: datetime | None
    #: The sentence the console shows.
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakView:
    """The highest values since dose start, for the trend marker (no alarm)."""

    #: Highest plausible BP reading (by SBP, then DBP), ``{"sbp": ..., "dbp": ...}``.
    bp: Mapping[str, float] = field(default_factory=dict)
    #: Seconds from dose start to that reading.
    bp_t: float | None = None
    #: Highest median HR (bpm).
    hr_bpm: float | None = None
    hr_t: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DischargeView:
    """Whether the patient may leave, and if not, why (sentences)."""

    ready: bool
    reasons: tuple[str, ...]
    #: Earliest time the minimum monitoring allows; ``None`` before the dose.
    earliest_mono: float | None
    earliest_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NibpScheduleView:
    """The NIBP cycle roomctl asks for."""

    #: Seconds between determinations; ``None``: on demand.
    cycle_s: float | None
    next_due_mono: float | None
    next_due_at: datetime | None
    stat_requested: bool
    #: ``tech.nibp.overdue`` is active.
    overdue: bool
    last_reading_mono: float | None
    last_reading_at: datetime | None
    #: How to show the last valid reading; ``None`` when there is none.
    freshness: NibpFreshness | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineState:
    """Everything the engine knows, at one moment."""

    now_mono: float
    now_at: datetime
    phase: Phase
    route: Route
    dose_start_mono: float | None
    dose_start_at: datetime | None
    #: Infusion end in force (recorded, or planned from ``infusion_min``).
    infusion_end_mono: float | None
    infusion_end_at: datetime | None
    #: Whether a nurse recorded the infusion end.
    infusion_end_recorded: bool
    #: Reason recorded when the session was closed before discharge-ready.
    closed_reason: str | None
    baseline: BaselineView
    alarms: tuple[AlarmView, ...]
    audio: AudioView
    episodes: tuple[EpisodeView, ...]
    peaks: PeakView
    discharge: DischargeView
    nibp: NibpScheduleView

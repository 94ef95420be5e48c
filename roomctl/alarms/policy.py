"""The alarm policy in force: every threshold, delay, priority and interval.

Layer: configuration for the pure core. One pydantic model per row of the policy table
in alarm-policy.md, plus the mechanics (audio, NIBP schedule, baseline, episodes,
discharge). Every default is the policy's default; a clinic changes them in its TOML
file, and ``roomctl config check`` prints ``policy_table(policy)``, the policy in force.

Units are in the field names (``_mmhg``, ``_bpm``, ``_percent``, ``_s``, ``_min``).
Session-scale clinical times (discharge, the "not resolved" escalation, the infusion
window of non-IV routes) are in minutes, as the policy states them; delays and
intervals are in seconds.

>>> policy = AlarmPolicy()
>>> policy.bp_high.sbp_mmhg, policy.spo2_low.integral_percent_s, policy.audio.pause_s
(180.0, 50.0, 120.0)
>>> from pydantic import ValidationError
>>> try:
...     AlarmPolicy.model_validate({"hr_high": {"limit_bpm": 160}})
... except ValidationError as exc:
...     print(exc.errors()[0]["msg"])
Value error, hr_high.severe_limit_bpm must be at or above hr_high.limit_bpm
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roomctl.events import AlarmPriority

Mmhg = Annotated[float, Field(ge=0, le=300)]
Bpm = Annotated[float, Field(ge=0, le=300)]
Percent = Annotated[float, Field(ge=0, le=100)]
Seconds = Annotated[float, Field(ge=0, le=86_400)]
PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]
Minutes = Annotated[float, Field(ge=0, le=1_440)]
Readings = Annotated[int, Field(ge=1, le=10)]

LOW = AlarmPriority.LOW
MEDIUM = AlarmPriority.MEDIUM
HIGH = AlarmPriority.HIGH


class PolicyModel(BaseModel):
    """Base of every policy model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )


# ------------------------------------------------------------------ blood pressure


class PredosePolicy(PolicyModel):
    """``bp.predose_high``: the pre-dose baseline is above 140/90 (advisory)."""

    sbp_mmhg: Mmhg = 140
    """Baseline systolic above this (mmHg) asks for prescriber review."""
    dbp_mmhg: Mmhg = 90
    """Baseline diastolic above this (mmHg) asks for prescriber review."""
    priority: AlarmPriority = LOW
    """Priority of the advisory (policy: LOW, prescriber review)."""
    block_dosing: bool = False
    """Refuse the move to ``dosing`` while the advisory is unacknowledged (policy: no
    gating unless the clinic turns it on)."""


class BpRelativePolicy(PolicyModel):
    """``bp.rise``: the expected transient rise, relative to the baseline."""

    sbp_rise_mmhg: Mmhg = 40
    """SBP at or above baseline + this (mmHg) is a relative crossing (label's tail)."""
    dbp_rise_mmhg: Mmhg = 25
    """DBP at or above baseline + this (mmHg) is a relative crossing."""
    confirm_readings: Readings = 2
    """Consecutive crossing readings (below the absolute limits) that raise it."""
    priority: AlarmPriority = LOW
    """Priority of the information card (no sound)."""
    resolve_sbp_rise_mmhg: Mmhg = 20
    """A reading resolves when SBP is at most baseline + this (mmHg) ..."""
    resolve_dbp_rise_mmhg: Mmhg = 10
    """... and DBP is at most baseline + this (mmHg) ..."""
    resolve_sbp_below_mmhg: Mmhg = 140
    """... or when SBP is below this (mmHg) ..."""
    resolve_dbp_below_mmhg: Mmhg = 90
    """... and DBP is below this (mmHg)."""
    resolve_readings: Readings = 2
    """Consecutive resolving readings that close the episode and clear the card."""
    resolve_spacing_s: Seconds = 300
    """Least time between the counted resolving readings (s; policy: 5 min)."""
    escalated_priority: AlarmPriority = MEDIUM
    """Priority of "BP not resolved" when the rise outlasts its deadline."""
    escalate_iv_after_infusion_end_min: Minutes = 60
    """IV: "not resolved" this many minutes after the infusion end."""
    escalate_after_dose_min: Minutes = 120
    """Other routes (nasal, IM, oral): "not resolved" this many minutes after dose."""


class BpHighPolicy(PolicyModel):
    """``bp.high``: absolute hypertension, confirmed by a second reading."""

    sbp_mmhg: Mmhg = 180
    """SBP at or above this (mmHg) meets the row."""
    dbp_mmhg: Mmhg = 110
    """DBP at or above this (mmHg) meets the row."""
    first_priority: AlarmPriority = LOW
    """Priority on the first (unconfirmed) reading, with a repeat within 3 min."""
    confirmed_priority: AlarmPriority = MEDIUM
    """Priority once confirmed by consecutive readings."""
    confirm_readings: Readings = 2
    """Consecutive readings that confirm it."""
    resolve_sbp_below_mmhg: Mmhg = 170
    """Resolution: SBP below this (mmHg; 10 mmHg hysteresis) ..."""
    resolve_dbp_below_mmhg: Mmhg = 105
    """... and DBP below this (mmHg; 5 mmHg hysteresis)."""
    resolve_readings: Readings = 2
    """Consecutive resolving readings that clear it."""
    resolve_spacing_s: Seconds = 180
    """Least time between the counted resolving readings (s; policy: 3 min)."""
    card_until_acknowledged: bool = True
    """A MEDIUM or HIGH card that cleared unacknowledged stays until acknowledged."""


class BpSeverePolicy(PolicyModel):
    """``bp.severe``: severe hypertension; latching."""

    sbp_mmhg: Mmhg = 200
    """SBP at or above this (mmHg) meets the row."""
    dbp_mmhg: Mmhg = 120
    """DBP at or above this (mmHg) meets the row."""
    first_priority: AlarmPriority = MEDIUM
    """Priority on the first severe reading (with a STAT repeat)."""
    confirmed_priority: AlarmPriority = HIGH
    """Priority once a second consecutive severe reading confirms it."""
    confirm_readings: Readings = 2
    """Consecutive severe readings that confirm it."""
    latching: bool = True
    """The confirmed priority latches until an operator reset."""
    stat_repeat: bool = True
    """An unconfirmed severe reading asks for a STAT repeat at once."""
    resolve_sbp_below_mmhg: Mmhg = 170
    """Resolution, as for ``bp.high``: SBP below this (mmHg) ..."""
    resolve_dbp_below_mmhg: Mmhg = 105
    """... and DBP below this (mmHg)."""
    resolve_readings: Readings = 2
    """Consecutive resolving readings."""
    resolve_spacing_s: Seconds = 180
    """Least time between the counted resolving readings (s)."""
    card_until_acknowledged: bool = True
    """An unlatched card that cleared unacknowledged stays until acknowledged."""


class BpLowPolicy(PolicyModel):
    """``bp.low``: hypotension, confirmed by a second reading."""

    sbp_mmhg: Mmhg = 90
    """SBP below this (mmHg) meets the MEDIUM level."""
    map_mmhg: Mmhg = 65
    """MAP below this (mmHg) meets the MEDIUM level (when the device reports MAP)."""
    severe_sbp_mmhg: Mmhg = 80
    """SBP below this (mmHg) meets the HIGH level."""
    first_priority: AlarmPriority = LOW
    """Priority between the first reading and its confirmation."""
    priority: AlarmPriority = MEDIUM
    """Priority of the confirmed MEDIUM level."""
    severe_priority: AlarmPriority = HIGH
    """Priority of the confirmed HIGH level."""
    confirm_readings: Readings = 2
    """Consecutive readings that confirm a level."""
    severe_latching: bool = True
    """The HIGH level latches until an operator reset."""
    resolve_margin_mmhg: Mmhg = 5
    """Resolution: SBP and MAP at or above their limit + this (mmHg) ..."""
    resolve_readings: Readings = 2
    """... on this many consecutive readings."""
    resolve_spacing_s: Seconds = 0
    """Least time between the counted resolving readings (s; policy: none)."""
    card_until_acknowledged: bool = True
    """A MEDIUM card that cleared unacknowledged stays until acknowledged."""


# ------------------------------------------------------------------ heart rate


class HrHighPolicy(PolicyModel):
    """``hr.high``: tachycardia, judged on a rolling median."""

    limit_bpm: Bpm = 130
    """Median HR at or above this (bpm) meets the MEDIUM level."""
    delay_s: Seconds = 30
    """Sustain needed for MEDIUM (s)."""
    priority: AlarmPriority = MEDIUM
    """Priority of the MEDIUM level."""
    severe_limit_bpm: Bpm = 150
    """Median HR at or above this (bpm) meets the HIGH level."""
    severe_delay_s: Seconds = 15
    """Sustain needed for HIGH (s)."""
    severe_priority: AlarmPriority = HIGH
    """Priority of the HIGH level."""
    severe_latching: bool = True
    """The HIGH level latches until an operator reset."""
    median_window_s: PositiveSeconds = 10
    """Width of the rolling median every PR rule is judged on (s)."""
    clear_margin_bpm: Bpm = 10
    """Resolution: median below limit - this (bpm) ..."""
    clear_after_s: Seconds = 60
    """... for this long (s)."""


class HrRelativePolicy(PolicyModel):
    """``hr.rise``: HR rise over the baseline (advisory)."""

    rise_bpm: Bpm = 30
    """Median HR at or above baseline + this (bpm) ..."""
    floor_bpm: Bpm = 110
    """... and at or above this (bpm) meets the row."""
    delay_s: Seconds = 60
    """Sustain needed (s)."""
    priority: AlarmPriority = LOW
    """Priority of the advisory."""
    clear_rise_bpm: Bpm = 15
    """Resolution: median at most baseline + this (bpm) ..."""
    clear_after_s: Seconds = 120
    """... for this long (s)."""


class HrLowPolicy(PolicyModel):
    """``hr.low``: bradycardia."""

    limit_bpm: Bpm = 45
    """Median HR below this (bpm) meets the MEDIUM level."""
    delay_s: Seconds = 15
    """Sustain needed for MEDIUM (s)."""
    priority: AlarmPriority = MEDIUM
    """Priority of the MEDIUM level."""
    severe_limit_bpm: Bpm = 40
    """Median HR below this (bpm) meets the HIGH level."""
    severe_delay_s: Seconds = 10
    """Sustain needed for HIGH (s)."""
    severe_priority: AlarmPriority = HIGH
    """Priority of the HIGH level."""
    severe_latching: bool = True
    """The HIGH level latches until an operator reset."""
    clear_margin_bpm: Bpm = 5
    """Resolution: median at or above limit + this (bpm) ..."""
    clear_after_s: Seconds = 30
    """... for this long (s)."""


# ------------------------------------------------------------------ SpO2


class Spo2LowPolicy(PolicyModel):
    """``spo2.low``: time below 90 %, as an integral or repeated dips."""

    limit_percent: Percent = 90
    """SpO2 below this (%) counts."""
    integral_percent_s: Annotated[float, Field(gt=0, le=10_000)] = 50
    """Integral of (limit - SpO2) over time that raises it (%·s, sample-and-hold)."""
    excursions: Readings = 3
    """Or: this many separate dips below the limit ..."""
    excursion_window_s: PositiveSeconds = 60
    """... within this long (s)."""
    dip_end_percent: Percent = 92
    """A dip ends only when SpO2 is back at or above this (%; the 2-point hysteresis),
    so a value flickering around the limit counts as one dip."""
    priority: AlarmPriority = MEDIUM
    """Priority."""
    clear_percent: Percent = 92
    """Resolution: SpO2 at or above this (%; 2-point hysteresis) ..."""
    clear_after_s: Seconds = 30
    """... for this long (s)."""


class Spo2DesatPolicy(PolicyModel):
    """``spo2.desat``: desaturation; latching."""

    limit_percent: Percent = 85
    """SpO2 below this (%) ..."""
    delay_s: Seconds = 5
    """... for this long (s; 5 consecutive 1 Hz samples) raises it."""
    immediate_percent: Percent = 80
    """SpO2 below this (%) raises it at once."""
    priority: AlarmPriority = HIGH
    """Priority."""
    latching: bool = True
    """Latches until an operator reset."""
    clear_percent: Percent = 92
    """Resolution: SpO2 at or above this (%) ..."""
    clear_after_s: Seconds = 30
    """... for this long (s), then a reset."""


class Spo2BorderlinePolicy(PolicyModel):
    """``spo2.borderline``: SpO2 in the 90-93 % band (trend note)."""

    low_percent: Percent = 90
    """Band floor (%, inclusive)."""
    high_percent: Percent = 93
    """Band ceiling (%, inclusive)."""
    delay_s: Seconds = 120
    """Time in the band that raises it (s)."""
    priority: AlarmPriority = LOW
    """Priority."""
    clear_percent: Percent = 94
    """Resolution: SpO2 at or above this (%) ..."""
    clear_after_s: Seconds = 60
    """... for this long (s)."""


class Spo2SignalPolicy(PolicyModel):
    """``tech.spo2.signal``: the oximeter flags its signal; SpO2/PR rules suspended."""

    priority: AlarmPriority = LOW
    """Priority at once."""
    escalated_priority: AlarmPriority = MEDIUM
    """Priority once it persists (SpO2 is REMS-mandated)."""
    escalate_after_s: Seconds = 30
    """Persistence that escalates it (s)."""
    escalate_during_nibp_s: Seconds = 60
    """Persistence that escalates it while the NIBP cuff inflates on the same limb."""
    nibp_same_limb: bool = True
    """The NIBP cuff and the oximeter probe are on the same limb."""
    cuff_inflated_mmhg: Mmhg = 20
    """Cuff pressure above this (mmHg) means a determination is under way."""
    cuff_recent_s: Seconds = 5
    """A cuff pressure reading counts as "inflating" for this long (s)."""
    clear_after_s: Seconds = 10
    """Resolution: valid signal for this long (s)."""


class Spo2DataPolicy(PolicyModel):
    """``tech.spo2.data_lost``: no SpO2/PR frames."""

    low_after_s: Seconds = 10
    """No valid frame for this long (s) raises LOW (the numbers go grey)."""
    priority: AlarmPriority = LOW
    """Priority first."""
    medium_after_s: Seconds = 30
    """No valid frame for this long (s) escalates."""
    medium_during_infusion_s: Seconds = 15
    """During the infusion, escalation after this long (s)."""
    escalated_priority: AlarmPriority = MEDIUM
    """Priority once escalated."""
    clear_after_s: Seconds = 5
    """Resolution: valid frames for this long (s)."""
    sample_hold_s: PositiveSeconds = 3
    """Longest one SpO2/PR sample stands for the stream (s); after it the stream has a
    gap and nothing is judged on the old value."""


# ------------------------------------------------------------------ NIBP technical


class NibpOverduePolicy(PolicyModel):
    """``tech.nibp.overdue``: no new reading within the cycle in force + grace."""

    grace_s: Seconds = 180
    """Grace after the cycle (s; policy: interval + 3 min)."""
    priority: AlarmPriority = MEDIUM
    """Priority."""
    grey_after_cycles: Annotated[float, Field(gt=0, le=10)] = 2
    """A reading older than this many cycles is shown greyed."""
    invalid_after_min: Minutes = 60
    """A reading older than this (min) is shown as invalid."""
    max_reading_age_s: PositiveSeconds = 120
    """A reading that arrives later than this after its measurement (s) is stale and
    never judged."""


class NibpPlausibilityPolicy(PolicyModel):
    """``tech.nibp.questionable``: the reading is excluded from every rule."""

    min_pressure_mmhg: Mmhg = 10
    """SBP or DBP at or below this (mmHg) is implausible."""
    min_pulse_pressure_mmhg: Mmhg = 10
    """Pulse pressure below this (mmHg) is implausible."""
    max_pulse_pressure_mmhg: Mmhg = 150
    """Pulse pressure above this (mmHg) is implausible."""
    priority: AlarmPriority = LOW
    """Priority on a failure."""
    escalate_after_failures: Readings = 2
    """Consecutive failures that escalate."""
    escalated_priority: AlarmPriority = MEDIUM
    """Priority once escalated."""


class LinkPolicy(PolicyModel):
    """``tech.link.<device>``: serial link lost (port closed) or garbled."""

    delay_s: Seconds = 10
    """Unhealthy this long (s) raises it."""
    priority: AlarmPriority = MEDIUM
    """Priority."""
    clear_after_s: Seconds = 10
    """Resolution: healthy for this long (s)."""
    parse_error_ratio: Annotated[float, Field(gt=0, le=1)] = 0.2
    """Share of frames failing to parse above which the link is unhealthy."""
    parse_error_window_s: PositiveSeconds = 30
    """Window the device supervisor computes that share over (s)."""


class RecordPolicy(PolicyModel):
    """``tech.record``: the session record (database or capture) cannot be written.

    Not a row of alarm-policy.md's table: roomctl's own technical alarm for its
    record, in the spirit of the "Serial link / daemon" row. The readings and events
    are kept in memory meanwhile, and alarms are unaffected.
    """

    delay_s: Seconds = 5
    """Writes failing this long (s) raise it (a file locked for a moment does not)."""
    priority: AlarmPriority = MEDIUM
    """Priority."""


# ------------------------------------------------------------------ session


class BaselinePolicy(PolicyModel):
    """How the session baseline is computed from pre-dose readings."""

    bp_min_readings: Readings = 2
    """Plausible pre-dose NIBP readings needed (their median is the BP baseline)."""
    bp_min_spacing_s: Seconds = 180
    """At least two of them this far apart (s)."""
    window_s: PositiveSeconds = 180
    """HR and SpO2: median over this long before dosing (s)."""
    min_coverage_s: Seconds = 90
    """HR and SpO2: valid samples must cover this much of the window (s)."""
    missing_priority: AlarmPriority = LOW
    """Priority of ``tech.baseline_missing``."""


class InfusionPolicy(PolicyModel):
    """What "during infusion" means for routes without an infusion."""

    other_routes_min: Annotated[float, Field(gt=0, le=1_440)] = 40
    """Nasal, IM and oral: the infusion window runs from dose to + this (min)."""


class NibpSchedulePolicy(PolicyModel):
    """The NIBP cycle roomctl asks for (alarm-policy.md, "NIBP cycle")."""

    preparation_cycle_s: PositiveSeconds | None = None
    """Before dosing (s); ``None``: on demand."""
    infusion_cycle_s: PositiveSeconds = 300
    """From dose start until infusion end + ``infusion_tail_min`` (s)."""
    infusion_tail_min: Minutes = 20
    """How long after the infusion end the infusion cycle continues (min)."""
    after_cycle_s: PositiveSeconds = 900
    """After that (s)."""
    bp_rule_cycle_s: PositiveSeconds = 180
    """While ``bp.high``, ``bp.severe`` or ``bp.low`` is active or awaiting its
    confirming reading (s)."""
    spacing_tolerance_s: Annotated[float, Field(ge=0, le=60)] = 15
    """Readings on a cycle arrive a cycle apart give or take the measurement's own
    length (s): a resolution rule asking for readings N s apart ("two readings >= 5
    min apart") accepts them up to this much sooner, so consecutive cycle readings
    count."""


class AudioPolicy(PolicyModel):
    """Acknowledge, pause, reminders and volume (alarm-policy.md, "Mechanics")."""

    pause_s: PositiveSeconds = 120
    """Audio pause length (s)."""
    volume_up_after_s: PositiveSeconds = 120
    """Sounding unacknowledged this long (s) raises the volume one step."""
    reminder_s: PositiveSeconds = 180
    """An acknowledged alarm still present sounds a reminder this often (s)."""
    audible_priority: AlarmPriority = MEDIUM
    """Lowest priority that sounds (LOW is a card, no sound)."""


class EpisodePolicy(PolicyModel):
    """Transient-rise episodes (information cards)."""

    hr_update_step_bpm: Annotated[float, Field(gt=0, le=100)] = 5
    """An HR episode reports a new peak once it beats the last reported by this."""


class DischargePolicy(PolicyModel):
    """When the session is discharge-ready (every episode closed and these times)."""

    iv_after_infusion_end_min: Minutes = 60
    """IV: minimum monitoring after the infusion end (min)."""
    nasal_after_dose_min: Minutes = 120
    """Nasal (esketamine REMS: 2 h): minimum monitoring after the dose (min)."""
    im_after_dose_min: Minutes = 120
    """IM: minimum monitoring after the dose (min)."""
    oral_after_dose_min: Minutes = 120
    """Oral: minimum monitoring after the dose (min)."""
    require_no_alarms: bool = True
    """No physiological MEDIUM or HIGH alarm may be present or latched."""


class AlarmPolicy(PolicyModel):
    """The whole alarm policy; every row under its own key."""

    predose: PredosePolicy = PredosePolicy()
    """``bp.predose_high``: pre-dose baseline above 140/90 (advisory)."""
    bp_relative: BpRelativePolicy = BpRelativePolicy()
    """``bp.rise``: the expected transient rise over the baseline."""
    bp_high: BpHighPolicy = BpHighPolicy()
    """``bp.high``: absolute hypertension (180/110)."""
    bp_severe: BpSeverePolicy = BpSeverePolicy()
    """``bp.severe``: severe hypertension (200/120), latching."""
    bp_low: BpLowPolicy = BpLowPolicy()
    """``bp.low``: hypotension (SBP 90 / MAP 65; SBP 80)."""
    hr_high: HrHighPolicy = HrHighPolicy()
    """``hr.high``: tachycardia (130; 150 bpm)."""
    hr_relative: HrRelativePolicy = HrRelativePolicy()
    """``hr.rise``: HR rise over the baseline (advisory)."""
    hr_low: HrLowPolicy = HrLowPolicy()
    """``hr.low``: bradycardia (45; 40 bpm)."""
    spo2_low: Spo2LowPolicy = Spo2LowPolicy()
    """``spo2.low``: time below 90 % SpO2."""
    spo2_desat: Spo2DesatPolicy = Spo2DesatPolicy()
    """``spo2.desat``: desaturation below 85 % SpO2, latching."""
    spo2_borderline: Spo2BorderlinePolicy = Spo2BorderlinePolicy()
    """``spo2.borderline``: SpO2 90-93 % (trend note)."""
    spo2_signal: Spo2SignalPolicy = Spo2SignalPolicy()
    """``tech.spo2.signal``: the oximeter flags its signal."""
    spo2_data: Spo2DataPolicy = Spo2DataPolicy()
    """``tech.spo2.data_lost``: no SpO2/PR frames."""
    nibp_overdue: NibpOverduePolicy = NibpOverduePolicy()
    """``tech.nibp.overdue``: NIBP reading overdue; stale readings."""
    nibp_plausibility: NibpPlausibilityPolicy = NibpPlausibilityPolicy()
    """``tech.nibp.questionable``: implausible NIBP readings."""
    link: LinkPolicy = LinkPolicy()
    """``tech.link.<device>``: serial links."""
    record: RecordPolicy = RecordPolicy()
    """``tech.record``: the session record cannot be written."""
    baseline: BaselinePolicy = BaselinePolicy()
    """How the baseline is computed; ``tech.baseline_missing``."""
    infusion: InfusionPolicy = InfusionPolicy()
    """The infusion window of routes without an infusion."""
    nibp_schedule: NibpSchedulePolicy = NibpSchedulePolicy()
    """The NIBP cycle roomctl asks for."""
    audio: AudioPolicy = AudioPolicy()
    """Alarm audio: pause, volume-up, reminders."""
    episode: EpisodePolicy = EpisodePolicy()
    """Transient-rise episodes."""
    discharge: DischargePolicy = DischargePolicy()
    """When the session is discharge-ready."""

    @model_validator(mode="after")
    def _limits_are_ordered(self) -> AlarmPolicy:
        # Hysteresis and escalation only make sense with ordered limits; a clinic's
        # typo must fail at `config check`, not at the bedside.
        high, severe, low = self.bp_high, self.bp_severe, self.bp_low
        checks = (
            (
                severe.sbp_mmhg >= high.sbp_mmhg and severe.dbp_mmhg >= high.dbp_mmhg,
                "bp_severe limits must be at or above bp_high's",
            ),
            (
                high.resolve_sbp_below_mmhg <= high.sbp_mmhg
                and high.resolve_dbp_below_mmhg <= high.dbp_mmhg,
                "bp_high resolution must be at or below its limits",
            ),
            (
                low.severe_sbp_mmhg <= low.sbp_mmhg,
                "bp_low.severe_sbp_mmhg must be at or below bp_low.sbp_mmhg",
            ),
            (
                self.hr_high.severe_limit_bpm >= self.hr_high.limit_bpm,
                "hr_high.severe_limit_bpm must be at or above hr_high.limit_bpm",
            ),
            (
                self.hr_low.severe_limit_bpm <= self.hr_low.limit_bpm,
                "hr_low.severe_limit_bpm must be at or below hr_low.limit_bpm",
            ),
            (
                self.spo2_low.dip_end_percent >= self.spo2_low.limit_percent,
                "spo2_low.dip_end_percent must be at or above its limit_percent",
            ),
            (
                self.spo2_desat.immediate_percent <= self.spo2_desat.limit_percent,
                "spo2_desat.immediate_percent must be at or below its limit_percent",
            ),
            (
                self.spo2_borderline.low_percent
                <= self.spo2_borderline.high_percent
                < self.spo2_borderline.clear_percent,
                "spo2_borderline needs low_percent <= high_percent < clear_percent",
            ),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("; ".join(problems))
        return self


# ------------------------------------------------------------------ the table


def _g(value: float) -> str:
    return f"{value:g}"


def _latch(*, latching: bool, priority: AlarmPriority) -> str:
    return f"{priority.value.upper()} latching" if latching else "no"


def _p(priority: AlarmPriority) -> str:
    return priority.value.upper()


def _bp_rows(policy: AlarmPolicy) -> list[tuple[str, ...]]:
    pre, rel, high = policy.predose, policy.bp_relative, policy.bp_high
    severe, low = policy.bp_severe, policy.bp_low
    high_resolve = (
        f"{high.resolve_readings} readings >= {_g(high.resolve_spacing_s)} s apart "
        f"with SBP < {_g(high.resolve_sbp_below_mmhg)} "
        f"and DBP < {_g(high.resolve_dbp_below_mmhg)}"
    )
    severe_resolve = (
        f"{severe.resolve_readings} readings >= {_g(severe.resolve_spacing_s)} s "
        f"apart with SBP < {_g(severe.resolve_sbp_below_mmhg)} and DBP < "
        f"{_g(severe.resolve_dbp_below_mmhg)}"
        + (", then reset" if severe.latching else "")
    )
    return [
        (
            "bp.predose_high",
            f"baseline > {_g(pre.sbp_mmhg)}/{_g(pre.dbp_mmhg)}",
            "baseline (median)",
            _p(pre.priority),
            "no",
            f"baseline <= {_g(pre.sbp_mmhg)}/{_g(pre.dbp_mmhg)}",
        ),
        (
            "bp.rise",
            (
                f"SBP >= base+{_g(rel.sbp_rise_mmhg)} or DBP >= base+"
                f"{_g(rel.dbp_rise_mmhg)}, below bp.high"
            ),
            f"{rel.confirm_readings} readings",
            (
                f"{_p(rel.priority)}; {_p(rel.escalated_priority)} if not resolved "
                "by the deadline"
            ),
            "no",
            (
                f"{rel.resolve_readings} readings >= {_g(rel.resolve_spacing_s)} s "
                "apart "
                f"with SBP <= base+{_g(rel.resolve_sbp_rise_mmhg)} and DBP <= base+"
                f"{_g(rel.resolve_dbp_rise_mmhg)}, or < "
                f"{_g(rel.resolve_sbp_below_mmhg)}/{_g(rel.resolve_dbp_below_mmhg)}"
            ),
        ),
        (
            "bp.high",
            f"SBP >= {_g(high.sbp_mmhg)} or DBP >= {_g(high.dbp_mmhg)}",
            (
                f"{_p(high.first_priority)} on 1st reading, confirmed by "
                f"{high.confirm_readings}"
            ),
            _p(high.confirmed_priority),
            "card until acknowledged" if high.card_until_acknowledged else "no",
            high_resolve,
        ),
        (
            "bp.severe",
            f"SBP >= {_g(severe.sbp_mmhg)} or DBP >= {_g(severe.dbp_mmhg)}",
            f"{_p(severe.first_priority)} on 1st reading"
            + (" + STAT" if severe.stat_repeat else "")
            + f", confirmed by {severe.confirm_readings}",
            _p(severe.confirmed_priority),
            _latch(latching=severe.latching, priority=severe.confirmed_priority),
            severe_resolve,
        ),
        (
            "bp.low",
            (
                f"SBP < {_g(low.sbp_mmhg)} or MAP < {_g(low.map_mmhg)} "
                f"({_p(low.priority)}); SBP < {_g(low.severe_sbp_mmhg)} "
                f"({_p(low.severe_priority)})"
            ),
            f"{_p(low.first_priority)} until confirmed by {low.confirm_readings}",
            f"{_p(low.priority)} / {_p(low.severe_priority)}",
            _latch(latching=low.severe_latching, priority=low.severe_priority),
            (
                f"{low.resolve_readings} readings with SBP and MAP >= limit + "
                f"{_g(low.resolve_margin_mmhg)}"
            ),
        ),
    ]


def _hr_rows(policy: AlarmPolicy) -> list[tuple[str, ...]]:
    high, rel, low = policy.hr_high, policy.hr_relative, policy.hr_low
    return [
        (
            "hr.high",
            (
                f"median({_g(high.median_window_s)} s) >= {_g(high.limit_bpm)} "
                f"({_p(high.priority)}); >= {_g(high.severe_limit_bpm)} "
                f"({_p(high.severe_priority)})"
            ),
            f"{_g(high.delay_s)} s / {_g(high.severe_delay_s)} s",
            f"{_p(high.priority)} / {_p(high.severe_priority)}",
            _latch(latching=high.severe_latching, priority=high.severe_priority),
            (
                f"< {_g(high.limit_bpm - high.clear_margin_bpm)} for "
                f"{_g(high.clear_after_s)} s"
            ),
        ),
        (
            "hr.rise",
            f"HR >= base+{_g(rel.rise_bpm)} and >= {_g(rel.floor_bpm)}",
            f"{_g(rel.delay_s)} s",
            _p(rel.priority),
            "no",
            f"<= base+{_g(rel.clear_rise_bpm)} for {_g(rel.clear_after_s)} s",
        ),
        (
            "hr.low",
            (
                f"HR < {_g(low.limit_bpm)} ({_p(low.priority)}); < "
                f"{_g(low.severe_limit_bpm)} ({_p(low.severe_priority)})"
            ),
            f"{_g(low.delay_s)} s / {_g(low.severe_delay_s)} s",
            f"{_p(low.priority)} / {_p(low.severe_priority)}",
            _latch(latching=low.severe_latching, priority=low.severe_priority),
            (
                f">= {_g(low.limit_bpm + low.clear_margin_bpm)} for "
                f"{_g(low.clear_after_s)} s"
            ),
        ),
    ]


def _spo2_rows(policy: AlarmPolicy) -> list[tuple[str, ...]]:
    low, desat, border = policy.spo2_low, policy.spo2_desat, policy.spo2_borderline
    signal, data = policy.spo2_signal, policy.spo2_data
    return [
        (
            "spo2.low",
            f"SpO2 < {_g(low.limit_percent)}",
            (
                f"integral >= {_g(low.integral_percent_s)} %*s, or "
                f"{low.excursions} dips (each ending at >= "
                f"{_g(low.dip_end_percent)}) in {_g(low.excursion_window_s)} s"
            ),
            _p(low.priority),
            "no",
            f">= {_g(low.clear_percent)} for {_g(low.clear_after_s)} s",
        ),
        (
            "spo2.desat",
            (
                f"SpO2 < {_g(desat.limit_percent)}; < {_g(desat.immediate_percent)} "
                "at once"
            ),
            f"{_g(desat.delay_s)} s",
            _p(desat.priority),
            _latch(latching=desat.latching, priority=desat.priority),
            f">= {_g(desat.clear_percent)} for {_g(desat.clear_after_s)} s"
            + (", then reset" if desat.latching else ""),
        ),
        (
            "spo2.borderline",
            f"SpO2 {_g(border.low_percent)}-{_g(border.high_percent)}",
            f"{_g(border.delay_s)} s",
            _p(border.priority),
            "no",
            f">= {_g(border.clear_percent)} for {_g(border.clear_after_s)} s",
        ),
        (
            "tech.spo2.signal",
            "oximeter flags its signal; SpO2/PR rules suspended",
            (
                f"at once; {_p(signal.escalated_priority)} after "
                f"{_g(signal.escalate_after_s)} s "
                f"({_g(signal.escalate_during_nibp_s)} s "
                "while the cuff inflates)"
            ),
            f"{_p(signal.priority)} / {_p(signal.escalated_priority)}",
            "no",
            f"valid signal for {_g(signal.clear_after_s)} s",
        ),
        (
            "tech.spo2.data_lost",
            "no valid SpO2/PR frame",
            (
                f"{_g(data.low_after_s)} s; {_p(data.escalated_priority)} after "
                f"{_g(data.medium_after_s)} s ({_g(data.medium_during_infusion_s)} s "
                "during infusion)"
            ),
            f"{_p(data.priority)} / {_p(data.escalated_priority)}",
            "no",
            f"valid frames for {_g(data.clear_after_s)} s",
        ),
    ]


def _technical_rows(policy: AlarmPolicy) -> list[tuple[str, ...]]:
    overdue, plaus = policy.nibp_overdue, policy.nibp_plausibility
    link, base, record = policy.link, policy.baseline, policy.record
    return [
        (
            "tech.nibp.overdue",
            "no new NIBP reading in auto mode",
            f"cycle + {_g(overdue.grace_s)} s",
            _p(overdue.priority),
            "no",
            "a valid reading arrives",
        ),
        (
            "tech.nibp.questionable",
            (
                f"SBP/DBP <= {_g(plaus.min_pressure_mmhg)}, SBP = DBP = MAP, "
                f"SBP <= DBP, PP < {_g(plaus.min_pulse_pressure_mmhg)} or > "
                f"{_g(plaus.max_pulse_pressure_mmhg)}, device error"
            ),
            (
                f"at once; {_p(plaus.escalated_priority)} after "
                f"{plaus.escalate_after_failures} in a row"
            ),
            f"{_p(plaus.priority)} / {_p(plaus.escalated_priority)}",
            "no",
            "a plausible reading arrives",
        ),
        (
            "tech.link.<device>",
            (
                "port closed (link lost), or parse errors > "
                f"{_g(link.parse_error_ratio * 100)} %"
                f" over {_g(link.parse_error_window_s)} s"
            ),
            f"{_g(link.delay_s)} s",
            _p(link.priority),
            "no",
            f"healthy for {_g(link.clear_after_s)} s",
        ),
        (
            "tech.baseline_missing",
            "dosing starts without a computable baseline part",
            "at dose start",
            _p(base.missing_priority),
            "no",
            "the missing part is entered",
        ),
        (
            "tech.record",
            "the session record or capture cannot be written (disk full, I/O error)",
            f"{_g(record.delay_s)} s",
            _p(record.priority),
            "no",
            "both are written again",
        ),
    ]


def _schedule_lines(policy: AlarmPolicy) -> list[str]:
    schedule, audio = policy.nibp_schedule, policy.audio
    discharge, base, rel = policy.discharge, policy.baseline, policy.bp_relative
    prep = (
        "on demand"
        if schedule.preparation_cycle_s is None
        else f"{_g(schedule.preparation_cycle_s)} s"
    )
    return [
        (
            f"NIBP cycle: preparation {prep}; {_g(schedule.infusion_cycle_s)} s until "
            f"infusion end + {_g(schedule.infusion_tail_min)} min; then "
            f"{_g(schedule.after_cycle_s)} s; {_g(schedule.bp_rule_cycle_s)} s while a "
            "BP rule is active or awaiting confirmation."
        ),
        (
            "bp.rise 'not resolved' deadline: IV infusion end + "
            f"{_g(rel.escalate_iv_after_infusion_end_min)} min; other routes dose + "
            f"{_g(rel.escalate_after_dose_min)} min."
        ),
        (
            f"Audio: pause {_g(audio.pause_s)} s; volume up after "
            f"{_g(audio.volume_up_after_s)} s unacknowledged; reminder every "
            f"{_g(audio.reminder_s)} s; sounds from {_p(audio.audible_priority)}."
        ),
        (
            f"Baseline: BP median of >= {base.bp_min_readings} readings "
            f">= {_g(base.bp_min_spacing_s)} s apart; HR/SpO2 median over the last "
            f"{_g(base.window_s)} s before dosing."
        ),
        f"Discharge-ready: every episode closed and IV infusion end + "
        f"{_g(discharge.iv_after_infusion_end_min)} min, nasal dose + "
        f"{_g(discharge.nasal_after_dose_min)} min, IM dose + "
        f"{_g(discharge.im_after_dose_min)} min, oral dose + "
        f"{_g(discharge.oral_after_dose_min)} min"
        + ("; no MEDIUM/HIGH alarm." if discharge.require_no_alarms else "."),
    ]


def policy_table(policy: AlarmPolicy) -> str:
    """The policy in force as a plain-text table, for ``roomctl config check``.

    >>> print(policy_table(AlarmPolicy()).splitlines()[0])  # doctest: +ELLIPSIS
    code ... rule ... delay ... priority ... latching ... resolution
    """
    header = ("code", "rule", "delay", "priority", "latching", "resolution")
    rows = [
        header,
        *_bp_rows(policy),
        *_hr_rows(policy),
        *_spo2_rows(policy),
        *_technical_rows(policy),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([*lines, "", *_schedule_lines(policy)])

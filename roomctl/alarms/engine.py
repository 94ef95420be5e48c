"""AlarmEngine: readings, link changes, commands and time in; events and state out.

Layer: pure core (style.md §2.4). The engine never reads a clock and never awaits:
``now`` is monotonic seconds passed in by the caller, and every event's UTC time is
``epoch_at + (now - epoch_mono)``, so a replay gives the same events byte for byte. A
``now`` earlier than one already seen is taken as the latest seen (time never runs
backwards inside the engine).

Every public call ends the same way: time-based rules move on to ``now`` (delays,
sustained conditions, staleness, overdue, pause expiry, reminders, volume-up), the
rules' assertions go to the ``AlarmBoard``, and the transitions come back as events.
So ``evaluate`` never waits for the next ``tick`` to raise what a reading made due,
and ``tick`` (at least once a second) covers the time in between.

Not-live data is never judged as live: a non-OK oximeter reading suspends its metric's
rules, a held SpO2/PR sample stands for at most the sample hold, an NIBP reading is
judged once on arrival (never again as it ages), and an NIBP reading that arrives more
than ``max_reading_age_s`` after it was measured, out of order, or implausible is never
judged at all.

Commands (contracts.md §2, §4): ``phase`` (with an optional ``reason``, needed to close
a session that is not discharge-ready), ``infusion_end`` (IV only, once, after dose),
``baseline_confirm``, ``acknowledge``, ``audio_pause`` and ``reset`` are the engine's;
every other verb is left to its component and returns ``([], None)``. A refused
command returns ``([], reason in words)`` and changes nothing. ``by`` goes into every
event that carries it; a phase change without ``by`` is recorded as ``system``.

>>> from datetime import UTC, datetime
>>> from roomctl.alarms.policy import AlarmPolicy
>>> from roomctl.events import Route
>>> from roomctl.readings import Metric, Reading, ReadingStatus
>>> engine = AlarmEngine(
...     AlarmPolicy(),
...     route=Route.IV,
...     infusion_min=40,
...     epoch_mono=0.0,
...     epoch_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
...     devices={"oximeter": "oximeter"},
... )
>>> def spo2(t, value):
...     return Reading(
...         device="oximeter",
...         metric=Metric.SPO2_PERCENT,
...         value=value,
...         status=ReadingStatus.OK,
...         received_mono=t,
...         received_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
...     )
>>> events = [e for t in range(8) for e in engine.evaluate(spo2(t, 78.0), float(t))]
>>> [(e.code, e.transition.value, e.priority.value, e.occurred_mono) for e in events]
[('spo2.desat', 'raised', 'high', 0.0), ('spo2.low', 'raised', 'medium', 5.0)]
>>> engine.snapshot(8.0).alarms[0].text
'SpO2 78 % < 80'
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from roomctl.alarms.baseline import Baseline, BaselineBuilder
from roomctl.alarms.board import AlarmBoard, Assertion
from roomctl.alarms.bp import Bp, BpRule, QuestionableRule, bp_specs, implausible
from roomctl.alarms.episodes import BpResponse, EpisodeLog, HrResponse, minutes_text
from roomctl.alarms.rules import ContinuousRule, Spo2LowRule, continuous_specs
from roomctl.alarms.session import Session
from roomctl.alarms.signal import SignalTrack
from roomctl.alarms.state import (
    BaselineValues,
    BaselineView,
    DischargeView,
    EngineState,
    NibpFreshness,
    NibpScheduleView,
    PeakView,
)
from roomctl.alarms.technical import (
    SIGNAL_TEXT,
    DataLostRule,
    LinkRule,
    SignalQualityRule,
)
from roomctl.events import (
    AlarmKind,
    CommandVerb,
    EpisodeSignal,
    Phase,
    PhaseChanged,
    Role,
    Route,
)
from roomctl.readings import Metric, NibpReading, Reading

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from roomctl.alarms.policy import AlarmPolicy
    from roomctl.events import Command, Event
    from roomctl.readings import AnyReading, LinkState

#: Device categories the constructor accepts.
OXIMETER = "oximeter"
NIBP = "nibp"

#: The device names capture headers use (contracts.md §2), as the default.
DEFAULT_DEVICES: Mapping[str, str] = {"oximeter": OXIMETER, "nibp": NIBP}

#: Continuous metrics the engine judges.
CONTINUOUS = (Metric.PULSE_RATE_BPM, Metric.SPO2_PERCENT)

_Outcome = tuple[list["Event"], str | None]


class AlarmEngine:
    """The alarm policy as a pure state machine for one session.

    Args:
        policy: the alarm policy in force.
        route: how the medicine is given.
        infusion_min: planned IV infusion length (minutes).
        epoch_mono: a monotonic time ...
        epoch_at: ... and the UTC time it corresponds to.
        devices: configured device names and their category, ``oximeter`` or
            ``nibp`` (one ``tech.link.<name>`` each).

    Raises:
        ValueError: a device category other than ``oximeter`` or ``nibp``.
    """

    def __init__(
        self,
        policy: AlarmPolicy,
        *,
        route: Route,
        infusion_min: float,
        epoch_mono: float,
        epoch_at: datetime,
        devices: Mapping[str, str] = DEFAULT_DEVICES,
    ) -> None:
        unknown = sorted(set(devices.values()) - {OXIMETER, NIBP})
        if unknown:
            raise ValueError(f"unknown device categories: {', '.join(unknown)}")
        self._policy = policy
        self._epoch_mono = epoch_mono
        self._epoch_at = epoch_at
        self._devices = dict(devices)
        self._now = epoch_mono
        self._session = Session(policy, route=route, infusion_min=infusion_min)
        self._board = AlarmBoard(policy.audio, self._stamp)
        hold = policy.spo2_data.sample_hold_s
        self._tracks = {
            Metric.PULSE_RATE_BPM: SignalTrack(
                median_window_s=policy.hr_high.median_window_s, hold_s=hold
            ),
            Metric.SPO2_PERCENT: SignalTrack(median_window_s=hold, hold_s=hold),
        }
        self._rules = [ContinuousRule(spec) for spec in continuous_specs(policy)]
        self._spo2_low = Spo2LowRule(policy.spo2_low)
        high, severe, low = bp_specs(policy)
        self._bp_high, self._bp_severe = BpRule(high), BpRule(severe)
        self._bp_low = BpRule(low)
        self._questionable = QuestionableRule(policy.nibp_plausibility)
        self._signal = SignalQualityRule(policy.spo2_signal)
        categories = set(self._devices.values())
        self._data_lost = (
            DataLostRule(policy.spo2_data, start=epoch_mono)
            if OXIMETER in categories
            else None
        )
        self._links = {name: LinkRule(name, policy.link) for name in sorted(devices)}
        self._parts = (("bp",) if NIBP in categories else ()) + (
            ("hr", "spo2") if OXIMETER in categories else ()
        )
        self._baseline = Baseline(
            BaselineBuilder(policy.baseline, hold_s=hold), policy.baseline
        )
        #: The baseline the relative rules use; ``None`` before dose start.
        self._rule_baseline: BaselineValues | None = None
        self._log = EpisodeLog(self._stamp)
        self._bp_response = BpResponse(policy.bp_relative, policy.bp_high, self._log)
        self._hr_response = HrResponse(
            policy.hr_relative,
            policy.hr_high,
            self._log,
            step_bpm=policy.episode.hr_update_step_bpm,
        )
        self._last_nibp_any: float | None = None
        self._last_nibp: float | None = None
        self._cuff_inflated: float | None = None
        #: While ``tech.nibp.overdue`` holds: the last reading (or dose) and the cycle.
        self._overdue_since: tuple[float, float] | None = None
        self._stat = False
        self._handlers: dict[CommandVerb, Callable[[Command, float], _Outcome]] = {
            CommandVerb.PHASE: self._cmd_phase,
            CommandVerb.INFUSION_END: self._cmd_infusion_end,
            CommandVerb.BASELINE_CONFIRM: self._cmd_baseline,
            CommandVerb.ACKNOWLEDGE: self._cmd_acknowledge,
            CommandVerb.AUDIO_PAUSE: self._cmd_pause,
            CommandVerb.RESET: self._cmd_reset,
        }

    # ------------------------------------------------------------ time

    def _stamp(self, mono: float) -> datetime:
        return self._epoch_at + timedelta(seconds=mono - self._epoch_mono)

    def _clock(self, now: float) -> float:
        self._now = max(self._now, now)
        return self._now

    # ------------------------------------------------------------ public API

    def evaluate(self, reading: AnyReading, now: float) -> list[Event]:
        """Judge one reading; return the transitions it (and time) caused."""
        now = self._clock(now)
        events: list[Event] = []
        if isinstance(reading, NibpReading):
            if self._category(reading.device, NIBP):
                events.extend(self._nibp(reading, now))
        elif reading.metric in CONTINUOUS:
            if self._category(reading.device, OXIMETER):
                events.extend(self._continuous(reading))
        elif reading.metric is Metric.CUFF_PRESSURE_MMHG:
            self._cuff(reading)
        return self._finish(now, events)

    def link_changed(self, device: str, state: LinkState, now: float) -> list[Event]:
        """A device link came up, was lost or went stale."""
        now = self._clock(now)
        self._link(device).link(state, now)
        return self._finish(now, [])

    def decoder_errors(
        self, device: str, error_ratio: float, now: float
    ) -> list[Event]:
        """The share of a device's frames failing to parse (over the link window)."""
        now = self._clock(now)
        self._link(device).errors(error_ratio, now)
        return self._finish(now, [])

    def tick(self, now: float) -> list[Event]:
        """Move time on: delays, sustained rules, staleness, audio (>= 1 Hz)."""
        return self._finish(self._clock(now), [])

    def apply(self, command: Command, now: float) -> tuple[list[Event], str | None]:
        """Carry out an operator command; ``([], reason)`` when refused."""
        handler = self._handlers.get(command.verb)
        if handler is None:
            return [], None
        # A refused command changes nothing, not even the engine's clock.
        at = max(self._now, now)
        events, refusal = handler(command, at)
        if refusal is not None:
            return [], refusal
        return self._finish(self._clock(at), events), None

    def nibp_cycle_s(self, now: float) -> float | None:
        """Seconds between NIBP determinations now; ``None``: on demand."""
        return self._session.nibp_cycle_s(now, bp_rule_active=self._bp_rule_active())

    def nibp_stat_requested(self) -> bool:
        """Whether a severe reading asked for a STAT repeat not yet taken."""
        return self._stat

    def take_stat_request(self) -> bool:
        """Take (and clear) the STAT request; whether there was one."""
        wanted, self._stat = self._stat, False
        return wanted

    # ------------------------------------------------------------ readings

    def _category(self, device: str, category: str) -> bool:
        # A device the constructor was not told about is judged by what it sends.
        return self._devices.get(device, category) == category

    def _link(self, device: str) -> LinkRule:
        if device not in self._links:
            self._links[device] = LinkRule(device, self._policy.link)
        return self._links[device]

    def _cuff(self, reading: Reading) -> None:
        value = reading.value
        if value is not None and value > self._policy.spo2_signal.cuff_inflated_mmhg:
            self._cuff_inflated = reading.received_mono

    def _continuous(self, reading: Reading) -> list[Event]:
        metric, t = reading.metric, reading.received_mono
        track = self._tracks[metric]
        if not track.in_order(t):
            return []  # out of order: must not reset a delay or an integral
        # Sample-and-hold: first close the interval the held sample stood for (a
        # delay that ends at t was met before t's sample replaces it), then take it.
        self._advance_metric(metric, t)
        events: list[Event] = []
        if reading.value is None:
            # A flagged or empty frame: the metric's rules are suspended (policy
            # row "SpO2 signal quality"); nothing is held any more.
            track.suspend(t)
        else:
            track.put(t, reading.value)
            events.extend(self._sample(metric, t, reading.value))
        self._signal.status(t, metric, reading.status)
        # Data freshness counts frames the device sent, flagged or not.
        valid_frame = reading.value is not None or reading.status in SIGNAL_TEXT
        if (
            metric is Metric.SPO2_PERCENT
            and valid_frame
            and self._data_lost is not None
        ):
            self._data_lost.frame(t)
        # Again, for delays of 0 s (desat below 80 %: "immediate").
        self._advance_metric(metric, t)
        return events

    def _metric_baseline(self, metric: Metric) -> float | None:
        if self._rule_baseline is None:
            return None
        if metric is Metric.PULSE_RATE_BPM:
            return self._rule_baseline.hr_bpm
        return self._rule_baseline.spo2_percent

    def _sample(self, metric: Metric, t: float, value: float) -> list[Event]:
        track = self._tracks[metric]
        baseline = self._metric_baseline(metric)
        median = track.median()
        for rule in self._rules:
            if rule.spec.metric is metric:
                rule.sample(t, value, median, baseline)
        if metric is Metric.SPO2_PERCENT:
            self._spo2_low.sample(t, value)
        dose = self._session.dose_mono
        if dose is None:
            # Pre-dose samples make the HR/SpO2 baseline (policy, "Baseline").
            self._baseline.builder.add_sample(metric, t, value)
            return []
        if metric is Metric.SPO2_PERCENT:
            return []
        return list(
            self._hr_response.sample(t, median, dose_mono=dose, baseline=baseline)
        )

    def _advance_metric(self, metric: Metric, now: float) -> None:
        track = self._tracks[metric]
        live = track.live(now)
        baseline = self._metric_baseline(metric)
        value = track.value
        held = (value, track.median()) if live and value is not None else None
        for rule in self._rules:
            if rule.spec.metric is metric:
                rule.advance(now, held, baseline)
        if metric is Metric.SPO2_PERCENT:
            self._spo2_low.advance(now, None if held is None else held[0])

    def _nibp(self, reading: NibpReading, now: float) -> list[Event]:
        t = reading.received_mono
        if self._last_nibp_any is not None and t <= self._last_nibp_any:
            return []  # a duplicate or out of order: judged once already
        self._last_nibp_any = t
        if now - t > self._policy.nibp_overdue.max_reading_age_s:
            return []  # stale on arrival: never judged as live ("Data freshness")
        sbp, dbp = reading.systolic_mmhg, reading.diastolic_mmhg
        why = implausible(reading, self._policy.nibp_plausibility)
        if why is not None or sbp is None or dbp is None:
            # Policy row "NIBP plausibility": excluded from every physiological
            # rule, the baseline and episode peaks.
            value = None if sbp is None or dbp is None else f"{sbp}/{dbp}"
            self._questionable.failed(why or "no pressures", value)
            return []
        self._questionable.passed()
        mean = None if reading.map_mmhg is None else float(reading.map_mmhg)
        bp = Bp(sbp=float(sbp), dbp=float(dbp), map=mean, t=t)
        self._last_nibp = t
        # bp.severe first: while it is active, bp.high only follows resolution.
        self._bp_severe.reading(bp, may_raise=True)
        self._bp_high.reading(bp, may_raise=not self._bp_severe.active)
        self._bp_low.reading(bp, may_raise=True)
        if self._bp_severe.stat_wanted:
            self._bp_severe.stat_wanted = False
            self._stat = True
        dose = self._session.dose_mono
        if dose is None:
            # Absolute rules run pre-dose too; the reading also joins the baseline.
            self._baseline.builder.add_bp(t, bp.sbp, bp.dbp)
            return []
        return list(
            self._bp_response.reading(bp, dose_mono=dose, baseline=self._rule_bp())
        )

    def _rule_bp(self) -> tuple[float, float] | None:
        base = self._rule_baseline
        if base is None or base.sbp_mmhg is None or base.dbp_mmhg is None:
            return None
        return base.sbp_mmhg, base.dbp_mmhg

    def _bp_rule_active(self) -> bool:
        return self._bp_high.active or self._bp_severe.active or self._bp_low.active

    # ------------------------------------------------------------ time-based rules

    def _finish(self, now: float, events: list[Event]) -> list[Event]:
        for metric in CONTINUOUS:
            self._advance_metric(metric, now)
        if self._session.dosed:
            live = self._tracks[Metric.PULSE_RATE_BPM].live(now)
            events.extend(self._hr_response.advance(now, live=live))
        if self._data_lost is not None:
            during = self._session.during_infusion(now)
            self._data_lost.advance(now, during_infusion=during)
        self._signal.advance(
            now,
            cuff_inflating=self._cuff_inflating(now),
            live=self._tracks[Metric.SPO2_PERCENT].live(now),
        )
        for link in self._links.values():
            link.advance(now)
        self._follow_overdue(now)
        events.extend(self._board.sync(self._assertions(now), now))
        events.extend(self._board.timers(now))
        return events

    def _cuff_inflating(self, now: float) -> bool:
        policy = self._policy.spo2_signal
        return (
            policy.nibp_same_limb
            and self._cuff_inflated is not None
            and now - self._cuff_inflated <= policy.cuff_recent_s
        )

    def _assertions(self, now: float) -> list[Assertion]:
        pr = Metric.PULSE_RATE_BPM
        hr_rules = [r.assertion() for r in self._rules if r.spec.metric is pr]
        spo2_rules = [r.assertion() for r in self._rules if r.spec.metric is not pr]
        items = [
            self._predose(),
            self._bp_response.assertion(now, self._session.rise_deadline()),
            self._bp_high.assertion(),
            self._bp_severe.assertion(),
            self._bp_low.assertion(),
            *hr_rules,
            self._spo2_low.assertion(),
            *spo2_rules,
            self._signal.assertion(),
            None if self._data_lost is None else self._data_lost.assertion(),
            self._overdue(now),
            self._questionable.assertion(),
            *(link.assertion() for link in self._links.values()),
            self._baseline_missing(),
        ]
        return [item for item in items if item is not None]

    def _predose(self) -> Assertion | None:
        policy = self._policy.predose
        bp = self._baseline.bp()
        if bp is None or (bp[0] <= policy.sbp_mmhg and bp[1] <= policy.dbp_mmhg):
            return None
        limit = f"{policy.sbp_mmhg:g}/{policy.dbp_mmhg:g}"
        value = f"{bp[0]:g}/{bp[1]:g}"
        return Assertion(
            code="bp.predose_high",
            priority=policy.priority,
            kind=AlarmKind.PHYSIOLOGICAL,
            text=f"Pre-dose BP {value} > {limit}: prescriber review",
            value=value,
            limit=limit,
            resolution=f"a new baseline <= {limit}",
        )

    def _follow_overdue(self, now: float) -> None:
        # tech.nibp.overdue: no valid reading within the cycle in force + grace while
        # in auto mode (after dose start); it stays until a valid reading arrives.
        dose = self._session.dose_mono
        cycle = self.nibp_cycle_s(now)
        if dose is None or cycle is None or NIBP not in self._devices.values():
            self._overdue_since = None
            return
        last = dose if self._last_nibp is None else max(self._last_nibp, dose)
        if self._overdue_since is not None and self._overdue_since[0] != last:
            self._overdue_since = None
        grace = self._policy.nibp_overdue.grace_s
        if self._overdue_since is None and now > last + cycle + grace:
            self._overdue_since = (last, cycle)

    def _overdue(self, now: float) -> Assertion | None:
        if self._overdue_since is None:
            return None
        policy = self._policy.nibp_overdue
        last, cycle = self._overdue_since
        return Assertion(
            code="tech.nibp.overdue",
            priority=policy.priority,
            kind=AlarmKind.TECHNICAL,
            text=(
                f"BP overdue: no valid reading for {(now - last) / 60:.0f} min "
                f"(cycle {cycle / 60:g} min)"
            ),
            value=round(now - last),
            limit=cycle + policy.grace_s,
            resolution="a valid NIBP reading arrives",
        )

    def _missing_parts(self, values: BaselineValues) -> tuple[str, ...]:
        return tuple(part for part in values.missing if part in self._parts)

    def _baseline_missing(self) -> Assertion | None:
        if self._rule_baseline is None:
            return None
        missing = self._missing_parts(self._rule_baseline)
        if not missing:
            return None
        parts = ", ".join(
            part.upper() if part != "spo2" else "SpO2" for part in missing
        )
        return Assertion(
            code="tech.baseline_missing",
            priority=self._policy.baseline.missing_priority,
            kind=AlarmKind.TECHNICAL,
            text=f"Baseline missing: {parts}; relative rules for it are off",
            value=parts,
            resolution="the missing baseline values are entered (baseline_confirm)",
        )

    # ------------------------------------------------------------ commands

    def _cmd_phase(self, command: Command, now: float) -> _Outcome:
        try:
            target = Phase(str(command.args.get("phase")))
        except ValueError:
            return [], f"Unknown phase {command.args.get('phase')!r}."
        reason = _text_arg(command, "reason")
        not_ready = self._discharge_reasons(now) if target is Phase.CLOSED else []
        refusal = self._session.refuse_move(target, not_ready=not_ready, reason=reason)
        if refusal is None and target is Phase.DOSING:
            refusal = self._dosing_gate()
        if refusal is not None:
            return [], refusal
        previous = self._session.phase
        self._session.move(target, now, reason=reason)
        if target is Phase.DOSING:
            self._baseline.freeze(now)
            self._rule_baseline = self._baseline.effective(now)
        event = PhaseChanged(
            occurred_mono=now,
            occurred_at=self._stamp(now),
            phase=target,
            previous=previous,
            by=command.by or Role.SYSTEM,
        )
        return [event], None

    def _dosing_gate(self) -> str | None:
        code = "bp.predose_high"
        if not self._policy.predose.block_dosing:
            return None
        if self._board.priority_of(code) is None or self._board.is_acknowledged(code):
            return None
        return (
            "The pre-dose BP is above the limit and awaits prescriber review: "
            f"acknowledge {code} before marking the dose."
        )

    def _cmd_infusion_end(self, _command: Command, now: float) -> _Outcome:
        session = self._session
        refusal = None
        if session.route is not Route.IV:
            refusal = (
                "Infusion end applies to IV sessions only; "
                f"this one is {session.route}."
            )
        elif session.dose_mono is None:
            refusal = "No dose has been given yet."
        elif session.recorded_infusion_end is not None:
            at = minutes_text(session.recorded_infusion_end - session.dose_mono)
            refusal = f"The infusion end was already recorded at {at}."
        elif session.phase is Phase.CLOSED:
            refusal = "The session is closed."
        if refusal is not None:
            return [], refusal
        session.recorded_infusion_end = now
        return [], None

    def _cmd_baseline(self, command: Command, now: float) -> _Outcome:
        if self._session.phase is Phase.CLOSED:
            return [], "The session is closed."
        overrides: dict[str, float] = {}
        for name in ("sbp", "dbp", "hr", "spo2"):
            value = command.args.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                return [], f"{name} must be a number."
            overrides[name] = float(value)
        refusal = self._baseline.confirm(
            now, by=command.by, overrides=overrides, reason=_text_arg(command, "reason")
        )
        if refusal is not None:
            return [], refusal
        if self._session.dosed:
            self._rule_baseline = self._baseline.effective(now)
        return [], None

    def _cmd_acknowledge(self, command: Command, now: float) -> _Outcome:
        events, refusal = self._board.acknowledge(
            _text_arg(command, "code"), command.by, now
        )
        return list(events), refusal

    def _cmd_pause(self, command: Command, now: float) -> _Outcome:
        self._board.pause(command.by, now)
        return [], None

    def _cmd_reset(self, command: Command, now: float) -> _Outcome:
        code = _text_arg(command, "code")
        if code is None:
            return [], "Reset needs the code of the alarm to reset."
        events, refusal = self._board.reset(code, command.by, now)
        return list(events), refusal

    # ------------------------------------------------------------ snapshot

    def _discharge_reasons(self, now: float) -> list[str]:
        session = self._session
        earliest, dose = session.discharge_earliest(), session.dose_mono
        reasons = []
        if earliest is None or dose is None:
            reasons.append("No dose has been given yet.")
        elif now < earliest:
            left = math.ceil((earliest - now) / 60)
            reasons.append(
                f"Minimum monitoring runs until {minutes_text(earliest - dose)} "
                f"({left} min to go)."
            )
        for episode in self._log.open_episodes():
            hint = (
                self._bp_response.resolution()
                if episode.signal is EpisodeSignal.BP
                else self._hr_response.resolution()
            )
            reasons.append(
                f"The {episode.signal.value.upper()} response episode is still open; "
                f"it closes after {hint}."
            )
        if self._policy.discharge.require_no_alarms:
            for code, latched in self._board.blocking(AlarmKind.PHYSIOLOGICAL):
                reasons.append(
                    f"{code} is latched; reset it first."
                    if latched
                    else f"{code} is active."
                )
        return reasons

    def _nibp_view(self, now: float) -> NibpScheduleView:
        cycle = self.nibp_cycle_s(now)
        reference = self._last_nibp_any
        if reference is None:
            reference = self._session.dose_mono
        due = None if cycle is None or reference is None else reference + cycle
        last = self._last_nibp
        freshness = None
        if last is not None:
            policy = self._policy.nibp_overdue
            age = now - last
            freshness = NibpFreshness.FRESH
            if age >= policy.invalid_after_min * 60:
                freshness = NibpFreshness.INVALID
            elif cycle is not None and age >= policy.grey_after_cycles * cycle:
                freshness = NibpFreshness.GREY
        return NibpScheduleView(
            cycle_s=cycle,
            next_due_mono=due,
            next_due_at=None if due is None else self._stamp(due),
            stat_requested=self._stat,
            overdue=self._overdue_since is not None,
            last_reading_mono=last,
            last_reading_at=None if last is None else self._stamp(last),
            freshness=freshness,
        )

    def _baseline_view(self, now: float) -> BaselineView:
        baseline = self._baseline
        values = self._rule_baseline or baseline.effective(now)
        confirmed = baseline.confirmed_mono
        return BaselineView(
            values=values,
            computed=baseline.computed(now),
            status=baseline.status,
            confirmed_by=baseline.confirmed_by,
            confirmed_at=None if confirmed is None else self._stamp(confirmed),
            overridden=baseline.overridden,
            override_reason=baseline.override_reason,
            missing=self._missing_parts(values),
            frozen=baseline.frozen,
        )

    def _peaks(self) -> PeakView:
        # Peaks exist only after dose start, so the 0.0 fallback is never used.
        dose = self._session.dose_mono or 0.0
        bp, hr = self._bp_response.peak, self._hr_response.peak
        return PeakView(
            bp={} if bp is None else {"sbp": bp.sbp, "dbp": bp.dbp},
            bp_t=None if bp is None else bp.t - dose,
            hr_bpm=None if hr is None else hr[0],
            hr_t=None if hr is None else hr[1] - dose,
        )

    def snapshot(self, now: float) -> EngineState:
        """Everything the engine knows at ``now`` (frozen values)."""
        session = self._session
        dose, end = session.dose_mono, session.infusion_end()
        earliest = session.discharge_earliest()
        reasons = self._discharge_reasons(now)
        return EngineState(
            now_mono=now,
            now_at=self._stamp(now),
            phase=session.phase,
            route=session.route,
            dose_start_mono=dose,
            dose_start_at=None if dose is None else self._stamp(dose),
            infusion_end_mono=end,
            infusion_end_at=None if end is None else self._stamp(end),
            infusion_end_recorded=session.recorded_infusion_end is not None,
            closed_reason=session.closed_reason,
            baseline=self._baseline_view(now),
            alarms=self._board.views(now),
            audio=self._board.audio(now),
            episodes=self._log.views(),
            peaks=self._peaks(),
            discharge=DischargeView(
                ready=not reasons,
                reasons=tuple(reasons),
                earliest_mono=earliest,
                earliest_at=None if earliest is None else self._stamp(earliest),
            ),
            nibp=self._nibp_view(now),
        )


def _text_arg(command: Command, name: str) -> str | None:
    value = command.args.get(name)
    return value if isinstance(value, str) and value.strip() else None

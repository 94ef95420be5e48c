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

The engine judges every reading inline (a 4-hour Nonin session is ~94,000 calls), so
each step of that ending runs only where it can change something, and gives the same
result as running it always: a continuous rule is advanced when a delay or resolution
it is waiting for may be met or its held sample ends (``Channel``), and fed only the
samples that change a run; a technical rule only while its condition or its timer is
running; the assertions only of the rules that changed, and the board only when an
assertion did (``AlarmBoard.timers`` keeps its own next due time). Readings and
commands that change the rules' inputs (NIBP, baseline, phase) make the engine look at
everything again. ``tests/unit/alarms/test_equivalence.py`` holds the engine to the
event record of long randomized sessions made before this tuning.

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
from roomctl.alarms.channel import Channel
from roomctl.alarms.episodes import BpResponse, EpisodeLog, HrResponse, minutes_text
from roomctl.alarms.rules import ContinuousRule, Spo2LowRule, continuous_specs
from roomctl.alarms.session import Session
from roomctl.alarms.signal import TIME_SLACK_S, SignalTrack
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
    RecordRule,
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
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus

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

_PR = Metric.PULSE_RATE_BPM
_SPO2 = Metric.SPO2_PERCENT
_OK = ReadingStatus.OK

#: The assertions, in the order the board takes them; one bit each when it changed.
_PREDOSE, _RISE, _BP, _HR, _LOW, _SPO2_RULES = 1, 2, 4, 8, 16, 32
_SIGNAL, _DATA, _OVERDUE, _QUESTIONABLE, _LINKS, _MISSING = (
    64,
    128,
    256,
    512,
    1024,
    2048,
)
_RECORD = 4096
_GROUPS = 13
_ALL = (1 << _GROUPS) - 1


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
            _PR: SignalTrack(
                median_window_s=policy.hr_high.median_window_s, hold_s=hold
            ),
            # No SpO2 rule judges a median: the window is never sorted.
            _SPO2: SignalTrack(median_window_s=hold, hold_s=hold, keep_median=False),
        }
        self._rules = [ContinuousRule(spec) for spec in continuous_specs(policy)]
        self._spo2_low = Spo2LowRule(policy.spo2_low)
        self._pr = Channel(
            _PR,
            self._tracks[_PR],
            tuple(r for r in self._rules if r.spec.metric is _PR),
            low=None,
            hold_s=hold,
        )
        # The HR response judges the PR median: keep it sorted whatever the rules.
        self._pr.smoothed = True
        self._spo2 = Channel(
            _SPO2,
            self._tracks[_SPO2],
            tuple(r for r in self._rules if r.spec.metric is not _PR),
            low=self._spo2_low,
            hold_s=hold,
        )
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
        self._record = RecordRule(policy.record)
        self._parts = (("bp",) if NIBP in categories else ()) + (
            ("hr", "spo2") if OXIMETER in categories else ()
        )
        self._baseline = Baseline(
            BaselineBuilder(policy.baseline, hold_s=hold), policy.baseline
        )
        #: The baseline the relative rules use; ``None`` before dose start.
        self._rule_baseline: BaselineValues | None = None
        self._log = EpisodeLog(self._stamp)
        self._bp_response = BpResponse(
            policy.bp_relative,
            policy.bp_high,
            self._log,
            spacing_tolerance_s=policy.nibp_schedule.spacing_tolerance_s,
        )
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
        self._has_nibp = NIBP in categories
        self._lost_after_s = policy.spo2_data.low_after_s
        #: The NIBP cycle for times in ``[_cycle_from, _cycle_until)`` until the next
        #: reading or command (``nibp_cycle_s`` is asked for at every record).
        self._cycle: float | None = None
        self._cycle_from, self._cycle_until = math.inf, -math.inf
        #: The age ``tech.nibp.overdue`` last showed (seconds, minutes).
        self._overdue_shown: tuple[int, str] | None = None
        #: ``_follow_overdue`` changes nothing before this (``-inf``: look again).
        self._overdue_due = -math.inf
        #: Some link is unhealthy or alarming (its rule must be advanced).
        self._links_busy = True
        #: The assertions in force, one list per group (see ``_GROUPS``) ...
        self._asserted: list[list[Assertion | None]] = [[] for _ in range(_GROUPS)]
        #: ... and the groups that may have changed since the board last saw them.
        self._dirty = _ALL
        #: Whether ``bp.rise`` was past its deadline when last asserted.
        self._rise_late: bool | None = None
        #: How each group's assertions are made, in the board's order (``_GROUPS``).
        self._builders: tuple[Callable[[float], list[Assertion | None]], ...] = (
            lambda _now: [self._predose()],
            self._assert_rise,
            self._assert_bp,
            lambda _now: [rule.assertion() for rule in self._pr.rules],
            lambda _now: [self._spo2_low.assertion()],
            lambda _now: [rule.assertion() for rule in self._spo2.rules],
            lambda _now: [self._signal.assertion()],
            self._assert_data,
            lambda now: [self._overdue(now)],
            lambda _now: [self._questionable.assertion()],
            self._assert_links,
            lambda _now: [self._baseline_missing()],
            lambda _now: [self._record.assertion()],
        )
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
        clock = self._now
        if now > clock:
            self._now = now
        else:
            now = clock
        if isinstance(reading, NibpReading):
            events: list[Event] = []
            if self._category(reading.device, NIBP):
                events.extend(self._nibp(reading, now))
            # Every BP rule, the schedule and the overdue alarm may have moved.
            self._cycle_from, self._cycle_until = math.inf, -math.inf
            self._overdue_due = -math.inf
            self._dirty = _ALL
            return self._finish(now, events)
        metric = reading.metric
        if metric is _PR or metric is _SPO2:
            if self._devices.get(reading.device, OXIMETER) == OXIMETER:
                return self._finish(now, self._continuous(reading, metric))
        elif metric is Metric.CUFF_PRESSURE_MMHG:
            self._cuff(reading)
        return self._finish(now, [])

    def link_changed(self, device: str, state: LinkState, now: float) -> list[Event]:
        """A device link came up, was lost or went stale."""
        now = self._clock(now)
        self._link(device).link(state, now)
        self._links_busy = True
        self._dirty |= _LINKS
        return self._finish(now, [])

    def decoder_errors(
        self, device: str, error_ratio: float, now: float
    ) -> list[Event]:
        """The share of a device's frames failing to parse (over the link window)."""
        now = self._clock(now)
        self._link(device).errors(error_ratio, now)
        self._links_busy = True
        self._dirty |= _LINKS
        return self._finish(now, [])

    def record_health(self, part: str, error: str | None, now: float) -> list[Event]:
        """A part of the session record (``record``, ``capture``) was written or not.

        ``error`` is the reason in words when a write failed, ``None`` when one
        succeeded; ``tech.record`` is raised after ``record.delay_s`` of failure.

        Raises:
            ValueError: an unknown part (see ``technical.RECORD_PARTS``).
        """
        now = self._clock(now)
        self._record.health(part, error, now)
        self._dirty |= _RECORD
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
        self._forget()
        return self._finish(self._clock(at), events), None

    def nibp_cycle_s(self, now: float) -> float | None:
        """Seconds between NIBP determinations now; ``None``: on demand."""
        if self._cycle_from <= now < self._cycle_until:
            return self._cycle
        cycle, self._cycle_from, self._cycle_until = self._session.nibp_cycle(
            now, bp_rule_active=self._bp_rule_active()
        )
        self._cycle = cycle
        return cycle

    def nibp_stat_requested(self) -> bool:
        """Whether a severe reading asked for a STAT repeat not yet taken."""
        return self._stat

    def take_stat_request(self) -> bool:
        """Take (and clear) the STAT request; whether there was one."""
        wanted, self._stat = self._stat, False
        return wanted

    def _forget(self) -> None:
        """A command may have changed anything: look at everything again."""
        self._pr.forget()
        self._spo2.forget()
        self._cycle_from, self._cycle_until = math.inf, -math.inf
        self._overdue_due = -math.inf
        self._links_busy = True
        self._dirty = _ALL

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

    def _continuous(self, reading: Reading, metric: Metric) -> list[Event]:
        t = reading.received_mono
        channel = self._pr if metric is _PR else self._spo2
        last = channel.track.last_t
        if last is not None and t < last:
            return []  # out of order: must not reset a delay or an integral
        # Sample-and-hold: first close the interval the held sample stood for (a
        # delay that ends at t was met before t's sample replaces it), then take it.
        # After a gap the held sample may be live again at t: judge in full.
        if t >= channel.due or not channel.was_live:
            self._judge(channel, t)
        elif channel.low_busy:
            self._integrate(t)
        elif t > channel.latest:
            channel.latest = t
        value = reading.value
        events = self._take(channel, t, value)
        self._frame(metric, t, value, reading.status)
        # Again, for delays of 0 s (desat below 80 %: "immediate"). A sample below
        # the ``spo2.low`` limit is never quiet, so this judges it in full.
        if t >= channel.due:
            self._judge(channel, t)
        elif t > channel.latest:
            channel.latest = t
        return events

    def _take(self, channel: Channel, t: float, value: float | None) -> list[Event]:
        track = channel.track
        if value is None:
            # A flagged or empty frame: the metric's rules are suspended (policy
            # row "SpO2 signal quality"); nothing is held any more.
            track.suspend(t)
            channel.forget()
            return []
        track.put(t, value)
        lo, hi = channel.raw_lo, channel.raw_hi
        median = track.median() if channel.smoothed else value
        if not (lo <= value <= hi and lo <= median <= hi):
            events = self._sample(channel, t, value)
            channel.forget()
            return events
        # Quiet: no rule, run or dip changes (``Channel``); the held sample lives on
        # from its time (``Channel.refresh``).
        due, rules_due = t + channel.hold_s - TIME_SLACK_S, channel.rules_due
        if due < rules_due:
            channel.due = due
        else:
            channel.due = rules_due
        dose = self._session.dose_mono
        if dose is None:
            self._baseline.builder.add_sample(channel.metric, t, value)
            return []
        if channel is self._pr and not (
            channel.response_lo <= median <= channel.response_hi
        ):
            # The HR episode moves on (a new peak, a crossing, settling).
            baseline = self._metric_baseline(_PR)
            moved = self._hr_response.sample(
                t, median, dose_mono=dose, baseline=baseline
            )
            self._plan_response(median, baseline)
            return list(moved)
        return []

    def _frame(
        self, metric: Metric, t: float, value: float | None, status: ReadingStatus
    ) -> None:
        signal = self._signal
        if status is not _OK or signal.bad or signal.since is not None:
            shown = signal.shown()
            signal.status(t, metric, status)
            if signal.shown() != shown:
                self._dirty |= _SIGNAL
        # Data freshness counts frames the device sent, flagged or not.
        lost = self._data_lost
        if (
            metric is _SPO2
            and lost is not None
            and (value is not None or status in SIGNAL_TEXT)
        ):
            if lost.active:
                shown = lost.shown()
                lost.frame(t)
                if lost.shown() != shown:
                    self._dirty |= _DATA
            elif t > lost.last_frame:
                lost.last_frame = t

    def _metric_baseline(self, metric: Metric) -> float | None:
        if self._rule_baseline is None:
            return None
        if metric is _PR:
            return self._rule_baseline.hr_bpm
        return self._rule_baseline.spo2_percent

    def _sample(self, channel: Channel, t: float, value: float) -> list[Event]:
        metric = channel.metric
        baseline = self._metric_baseline(metric)
        median = channel.track.median() if channel.smoothed else value
        for rule in channel.rules:
            rule.sample(t, value, median, baseline)
        if channel.low is not None:
            channel.low.sample(t, value)
        dose = self._session.dose_mono
        if dose is None:
            # Pre-dose samples make the HR/SpO2 baseline (policy, "Baseline").
            self._baseline.builder.add_sample(metric, t, value)
            return []
        if metric is _SPO2:
            return []
        return list(
            self._hr_response.sample(t, median, dose_mono=dose, baseline=baseline)
        )

    def _judge(self, channel: Channel, now: float) -> None:
        """Advance the channel's rules to ``now`` in full, then plan the next call."""
        baseline = self._metric_baseline(channel.metric)
        held, changed = channel.judge(now, baseline)
        if changed:
            self._dirty |= _HR if channel is self._pr else _LOW | _SPO2_RULES
        if held is None:
            return
        channel.plan(held, baseline)
        if channel is self._pr and self._session.dose_mono is not None:
            self._plan_response(held[1], baseline)

    def _plan_response(self, median: float, baseline: float | None) -> None:
        """The PR medians the HR episode takes without a change (after dose start)."""
        pr = self._pr
        pr.response_lo, pr.response_hi = self._hr_response.still(median, baseline)

    def _integrate(self, now: float) -> None:
        """``spo2.low`` below its limit: its integral moves on at every call."""
        low = self._spo2_low
        shown = low.shown()
        low.advance(now, self._spo2.track.value)
        if low.shown() != shown:
            self._dirty |= _LOW

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
        return (
            self._bp_high.priority is not None
            or self._bp_severe.priority is not None
            or self._bp_low.priority is not None
        )

    # ------------------------------------------------------------ time-based rules

    def _finish(self, now: float, events: list[Event]) -> list[Event]:
        # Each step is skipped only where the policy's own code would change nothing
        # at ``now`` (see ``Channel`` for the continuous rules).
        pr = self._pr
        if now >= pr.due:
            self._judge(pr, now)
            pr_live = False  # not known
        else:
            # Skipped after a live judgement: the held sample is live now.
            pr_live = pr.was_live
        spo2 = self._spo2
        if now >= spo2.due:
            self._judge(spo2, now)
        elif spo2.low_busy:
            self._integrate(now)
        elif now > spo2.latest:
            spo2.latest = now
        if self._session.dose_mono is not None and (
            not pr_live or self._hr_response.episode is not None
        ):
            self._follow_hr(now, events)
        self._follow_technical(now)
        if self._dirty and self._reassert(now):
            events.extend(self._board.sync(self._assertions(), now))
        if now >= self._board.timers_due:
            events.extend(self._board.timers(now))
        return events

    def _follow_technical(self, now: float) -> None:
        lost = self._data_lost
        if lost is not None and (
            lost.active or now - lost.last_frame >= self._lost_after_s
        ):
            shown = lost.shown()
            lost.advance(now, during_infusion=self._session.during_infusion(now))
            if lost.shown() != shown:
                self._dirty |= _DATA
        signal = self._signal
        if signal.since is not None:
            shown = signal.shown()
            signal.advance(
                now,
                cuff_inflating=self._cuff_inflating(now),
                live=self._spo2.track.live(now),
            )
            if signal.shown() != shown:
                self._dirty |= _SIGNAL
        if self._links_busy:
            self._follow_links(now)
        if self._record.busy:
            self._follow_record(now)
        if now >= self._overdue_due:
            self._follow_overdue(now)
        if self._overdue_since is not None:
            self._follow_overdue_age(now, self._overdue_since[0])
        if self._bp_response.rise_active and self._rise_is_late(now) != self._rise_late:
            self._dirty |= _RISE

    def _follow_hr(self, now: float, events: list[Event]) -> None:
        # The HR episode closes on a settled, live median (``HrResponse.advance``);
        # without a settling run, or with a live one and no episode, nothing moves.
        response = self._hr_response
        if response.close_run.since is None:
            return
        live = self._pr.track.live(now)
        if live and response.episode is None:
            return
        closed = response.advance(now, live=live)
        if closed or not live:
            self._pr.forget()
        events.extend(closed)

    def _follow_links(self, now: float) -> None:
        busy = False
        for link in self._links.values():
            link.advance(now)
            busy = busy or link.active or not link.healthy
        self._links_busy = busy
        self._dirty |= _LINKS

    def _follow_overdue_age(self, now: float, since: float) -> None:
        # Its text counts the minutes, its value the seconds.
        age = now - since
        shown = (round(age), f"{age / 60:.0f}")
        if shown != self._overdue_shown:
            self._overdue_shown = shown
            self._dirty |= _OVERDUE

    def _follow_record(self, now: float) -> None:
        record = self._record
        active = record.active
        record.advance(now)
        if record.active != active:
            self._dirty |= _RECORD

    def _rise_is_late(self, now: float) -> bool:
        deadline = self._session.rise_deadline()
        return deadline is not None and now >= deadline

    def _cuff_inflating(self, now: float) -> bool:
        policy = self._policy.spo2_signal
        return (
            policy.nibp_same_limb
            and self._cuff_inflated is not None
            and now - self._cuff_inflated <= policy.cuff_recent_s
        )

    def _reassert(self, now: float) -> bool:
        """Make the groups that may have changed anew; whether any did."""
        dirty, asserted = self._dirty, self._asserted
        self._dirty = 0
        changed = False
        for index, build in enumerate(self._builders):
            if dirty & (1 << index):
                group = build(now)
                if group != asserted[index]:
                    asserted[index] = group
                    changed = True
        return changed

    def _assertions(self) -> list[Assertion]:
        """Every condition in force, in the board's order."""
        return [item for group in self._asserted for item in group if item is not None]

    def _assert_rise(self, now: float) -> list[Assertion | None]:
        self._rise_late = self._rise_is_late(now)
        return [self._bp_response.assertion(now, self._session.rise_deadline())]

    def _assert_bp(self, _now: float) -> list[Assertion | None]:
        rules = (self._bp_high, self._bp_severe, self._bp_low)
        return [rule.assertion() for rule in rules]

    def _assert_data(self, _now: float) -> list[Assertion | None]:
        lost = self._data_lost
        return [None if lost is None else lost.assertion()]

    def _assert_links(self, _now: float) -> list[Assertion | None]:
        return [link.assertion() for link in self._links.values()]

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
        # Between readings and commands it changes only when ``now`` passes the
        # limit or the cycle changes (``_overdue_due``).
        before = self._overdue_since
        self._overdue_due = math.inf
        dose = self._session.dose_mono
        cycle = None if dose is None else self.nibp_cycle_s(now)
        if dose is None or cycle is None or not self._has_nibp:
            self._overdue_since = None
        else:
            last = dose if self._last_nibp is None else max(self._last_nibp, dose)
            if self._overdue_since is not None and self._overdue_since[0] != last:
                self._overdue_since = None
            grace = self._policy.nibp_overdue.grace_s
            if self._overdue_since is None:
                if now > last + cycle + grace:
                    self._overdue_since = (last, cycle)
                else:
                    # Or sooner, where the cycle changes (``nibp_cycle_s``'s span).
                    limit = min(last + cycle + grace, self._cycle_until)
                    self._overdue_due = limit - TIME_SLACK_S
        if self._overdue_since != before:
            self._dirty |= _OVERDUE

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

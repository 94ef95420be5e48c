"""Continuous physiological rules (HR/PR and SpO2) as data, and their state.

Layer: pure core. Each row of the policy table for a continuous signal becomes a
``ContinuousRuleSpec``: its bands (priority, thresholds, sustain delay), its resolution
(thresholds held for ``clear_after_s``), whether it latches, and whether it is judged
on the rolling median (every PR rule) or on the raw, monitor-averaged value (SpO2).
``continuous_specs(policy)`` builds the table; one ``ContinuousRule`` runs each row.

Decisions on the policy's ambiguities:

- Within one code the level only rises until the resolution rule is met: ``hr.high``
  at HIGH stays HIGH while HR sits at 135, and clears (or, latched, waits for a reset)
  only when the median has been below limit - 10 for 60 s. So resolution is judged
  against the *lowest* band's limit.
- ``hr.low`` and ``hr.rise`` are judged on the same 10 s median as ``hr.high``, so one
  noisy sample neither starts nor breaks their delays (the table names the median only
  on the ``hr.high`` row; the other PR rows inherit it).
- ``spo2.borderline`` is the 90-93 % band literally: samples below 90 % end its run
  (``spo2.low`` and ``spo2.desat`` own that range) — two in a row, as for every delay
  run (signal.py: one failing sample is forgiven).
- ``spo2.low`` "escalates to HIGH when the Desat row fires": the HIGH is carried by the
  ``spo2.desat`` code, and ``spo2.low`` keeps MEDIUM and clears by its own resolution
  (alarm-research.md §6 scenario 7: "recovery to 95 clears the MEDIUM after 30 s; the
  HIGH needs a reset").
- ``spo2.low``'s integral of (90 - SpO2) is time-weighted sample-and-hold and restarts
  at 0 when a sample at or above 90 % arrives; repeated short dips are the 3-in-60 s
  rule's job. A resolved ``spo2.low`` forgets its dips, so it does not re-raise at once.
- A dip for the 3-in-60 s rule ends only when SpO2 is back at ``dip_end_percent`` (92 %,
  the row's 2-point hysteresis): a value flickering 89/90 around the limit is one dip,
  not three (alarm-research.md §6 scenario 8: one dip to 89 raises nothing).
- A delay of D seconds is met when the condition has held for at least D seconds
  (``>=``), on samples received in order.
"""

from __future__ import annotations

import enum
import functools
import math
import operator
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.alarms.board import Assertion
from roomctl.alarms.signal import EMPTY, Region, SustainedRun, TolerantRun
from roomctl.events import AlarmKind, AlarmPriority
from roomctl.readings import Metric

if TYPE_CHECKING:
    from collections.abc import Callable

    from roomctl.alarms.policy import AlarmPolicy, Spo2LowPolicy


class Op(enum.StrEnum):
    """A comparison against a limit."""

    LT = "<"
    LE = "<="
    GE = ">="
    GT = ">"

    @property
    def test(self) -> Callable[[float, float], bool]:
        """The comparison as a function."""
        return _OPS[self]

    @property
    def upward(self) -> bool:
        """Whether the test bounds the value from below (``>=`` or ``>``)."""
        return self in {Op.GE, Op.GT}


_OPS: dict[Op, Callable[[float, float], bool]] = {
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GE: operator.ge,
    Op.GT: operator.gt,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One comparison: against an absolute limit, the baseline + an offset, or both.

    With both, the value must pass both, so the stricter limit is in force
    (``hr.rise``: HR >= baseline + 30 *and* >= 110).

    >>> rise = Threshold(op=Op.GE, absolute=110, above_baseline=30)
    >>> rise.limit(75), rise.limit(90), rise.limit(None)
    (110, 120, None)
    """

    op: Op
    absolute: float | None = None
    #: Offset on the baseline of the rule's metric; the rule is off without one.
    above_baseline: float | None = None

    def limit(self, baseline: float | None) -> float | None:
        """The limit in force; ``None`` when it needs a baseline there is not."""
        if self.above_baseline is None:
            return self.absolute
        if baseline is None:
            return None
        relative = baseline + self.above_baseline
        if self.absolute is None:
            return relative
        return (
            max(relative, self.absolute)
            if self.op.upward
            else min(relative, self.absolute)
        )

    def holds(self, value: float, limit: float) -> bool:
        """Whether ``value`` passes against ``limit``."""
        return self.op.test(value, limit)

    def describe(self, limit: float) -> str:
        """``>= 130``."""
        return f"{self.op.value} {limit:g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    """One level of a rule: all thresholds hold for ``delay_s`` -> ``priority``."""

    priority: AlarmPriority
    tests: tuple[Threshold, ...]
    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinuousRuleSpec:
    """A policy row for a continuous signal, as data."""

    code: str
    metric: Metric
    #: "HR", "SpO2".
    label: str
    #: "bpm", "%".
    unit: str
    #: Levels, lowest priority first.
    bands: tuple[Band, ...]
    #: Resolution: all of these hold ...
    clear: tuple[Threshold, ...]
    #: ... for this long.
    clear_after_s: float
    latch_at: AlarmPriority | None = None
    #: Judged on the track's rolling median (PR) rather than the raw value (SpO2).
    smoothed: bool = False
    #: Appended to the resolution text ("then reset").
    resolution_suffix: str = ""


@functools.lru_cache(maxsize=4096)
def _limits(
    tests: tuple[Threshold, ...], baseline: float | None
) -> tuple[float, ...] | None:
    # Pure and called for every sample of every band: memoised (the tests are frozen
    # values and a session has one baseline, so the cache stays tiny).
    limits = tuple(t.limit(baseline) for t in tests)
    if any(limit is None for limit in limits):
        return None
    return tuple(limit for limit in limits if limit is not None)


def _all_hold(
    tests: tuple[Threshold, ...], limits: tuple[float, ...], v: float
) -> bool:
    return all(t.holds(v, lim) for t, lim in zip(tests, limits, strict=True))


def _met(
    tests: tuple[Threshold, ...],
    run: SustainedRun,
    *,
    delay_s: float,
    now: float,
    values: tuple[float, float],
    baseline: float | None,
) -> bool:
    """Whether ``tests`` have held for ``delay_s`` and hold now on raw and judged."""
    limits = _limits(tests, baseline)
    return (
        limits is not None
        and run.since is not None
        and run.held_for(now) >= delay_s
        and all(_all_hold(tests, limits, value) for value in values)
    )


_DOWN, _UP = -math.inf, math.inf


def _region(test: Threshold, limit: float, *, passes: bool) -> Region:
    """The values whose verdict on ``test`` against ``limit`` is ``passes``.

    Closed float ranges: ``v < limit`` is ``v <= nextafter(limit, -inf)``.

    >>> _region(Threshold(op=Op.GE), 130.0, passes=False)
    (-inf, 129.99999999999997)
    """
    op = test.op
    if op is Op.GE:
        return (limit, _UP) if passes else (_DOWN, math.nextafter(limit, _DOWN))
    if op is Op.GT:
        return (math.nextafter(limit, _UP), _UP) if passes else (_DOWN, limit)
    if op is Op.LE:
        return (_DOWN, limit) if passes else (math.nextafter(limit, _UP), _UP)
    return (_DOWN, math.nextafter(limit, _DOWN)) if passes else (limit, _UP)


def verdict_region(
    tests: tuple[Threshold, ...], limits: tuple[float, ...], value: float
) -> tuple[bool, Region]:
    """Whether ``value`` passes every test, and values around it with that verdict.

    A passing value gets every value that passes; a failing one the values that fail
    its first failing test (part of the failing values, which is enough).
    """
    lo, hi = _DOWN, _UP
    for test, limit in zip(tests, limits, strict=True):
        if not test.holds(value, limit):
            return False, _region(test, limit, passes=False)
        a, b = _region(test, limit, passes=True)
        lo, hi = max(lo, a), min(hi, b)
    return True, (lo, hi)


def still_run(
    run: SustainedRun,
    tests: tuple[Threshold, ...],
    limits: tuple[float, ...] | None,
    value: float,
) -> Region:
    """Values whose sample leaves ``run`` (fed ``tests`` on raw and judged) as it is.

    A run goes on while its verdict holds and stays off while it fails; where the
    verdict around ``value`` would start or end the run, nothing is still.
    """
    if limits is None:
        # A rule without the baseline it needs resets its run on every sample.
        return (_DOWN, _UP) if run.since is None else EMPTY
    if isinstance(run, TolerantRun) and run.missed:
        return EMPTY  # any sample changes it: a pass forgives, a fail ends the run
    passes, region = verdict_region(tests, limits, value)
    return region if passes == (run.since is not None) else EMPTY


class ContinuousRule:
    """One continuous rule's state: a run per band, a resolution run, its level."""

    def __init__(self, spec: ContinuousRuleSpec) -> None:
        self.spec = spec
        self._runs = tuple(TolerantRun() for _ in spec.bands)
        self._clear_run = SustainedRun()
        #: Index of the band in force; ``None``: condition absent.
        self.level: int | None = None
        self._value = 0.0
        self._baseline: float | None = None

    def interrupt(self) -> None:
        """The signal is not live (gap, suspension): every run restarts."""
        for run in self._runs:
            run.reset()
        self._clear_run.reset()

    def sample(
        self, t: float, raw: float, smoothed: float, baseline: float | None
    ) -> None:
        """Take one usable sample (after ``advance`` closed the previous interval)."""
        judged = smoothed if self.spec.smoothed else raw
        for band, run in zip(self.spec.bands, self._runs, strict=True):
            limits = _limits(band.tests, baseline)
            if limits is None:
                run.reset()
                continue
            run.feed(
                t,
                raw=_all_hold(band.tests, limits, raw),
                smoothed=_all_hold(band.tests, limits, judged),
            )
        clear = _limits(self.spec.clear, baseline)
        if clear is None:
            self._clear_run.reset()
        else:
            self._clear_run.feed(
                t,
                raw=_all_hold(self.spec.clear, clear, raw),
                smoothed=_all_hold(self.spec.clear, clear, judged),
            )

    def advance(
        self, now: float, held: tuple[float, float] | None, baseline: float | None
    ) -> None:
        """Move the level on at ``now``.

        ``held`` is the held sample, raw and smoothed, or ``None`` when the signal is
        not live. A delay is met only while both pass: the median bridges a dip but
        never stretches a spike that has ended.
        """
        if held is None:
            self.interrupt()
            return
        self._baseline = baseline
        judged = held[1] if self.spec.smoothed else held[0]
        values = (held[0], judged)
        for index, (band, run) in enumerate(
            zip(self.spec.bands, self._runs, strict=True)
        ):
            if (self.level is None or index > self.level) and _met(
                band.tests,
                run,
                delay_s=band.delay_s,
                now=now,
                values=values,
                baseline=baseline,
            ):
                self.level = index
                # The triggering value stays in the text ("HR 135 bpm >= 130").
                self._value = judged
        spec = self.spec
        if self.level is not None and (
            _limits(spec.clear, baseline) is None
            or _met(
                spec.clear,
                self._clear_run,
                delay_s=spec.clear_after_s,
                now=now,
                values=values,
                baseline=baseline,
            )
        ):
            # Resolution met (or the rule lost the baseline it needs: it is off).
            self.level = None

    def shown(self) -> tuple[int, float, float | None] | None:
        """What ``assertion`` is made of (equal: the same assertion)."""
        if self.level is None:
            return None
        return self.level, self._value, self._baseline

    def next_change(self, raw: float, judged: float, baseline: float | None) -> float:
        """The earliest ``now`` at which ``advance`` may change this rule.

        Holds while the held sample (``raw``, ``judged``: the median for a smoothed
        rule), the baseline and the runs stay as they are: a band can only fire once
        its run is ``delay_s`` old, resolution only once its run is
        ``clear_after_s`` old, and only while the held values pass.
        """
        due = math.inf
        level = self.level
        for index, (band, run) in enumerate(
            zip(self.spec.bands, self._runs, strict=True)
        ):
            since = run.since
            if since is None or (level is not None and index <= level):
                continue
            limits = _limits(band.tests, baseline)
            if (
                limits is not None
                and _all_hold(band.tests, limits, raw)
                and _all_hold(band.tests, limits, judged)
            ):
                due = min(due, since + band.delay_s)
        if level is None:
            return due
        spec = self.spec
        clear = _limits(spec.clear, baseline)
        if clear is None:
            return -math.inf
        since = self._clear_run.since
        if (
            since is not None
            and _all_hold(spec.clear, clear, raw)
            and _all_hold(spec.clear, clear, judged)
        ):
            due = min(due, since + spec.clear_after_s)
        return due

    def still(self, raw: float, judged: float, baseline: float | None) -> Region:
        """Values which, as both raw and judged sample, change nothing here.

        Every run's verdict is the same throughout and agrees with the run (on
        while it passes, off while it fails), so ``sample`` leaves every run as it
        is and ``next_change`` stays what it was. Empty unless ``raw`` and
        ``judged`` are both inside.
        """
        lo, hi = _DOWN, _UP
        for band, run in zip(self.spec.bands, self._runs, strict=True):
            a, b = still_run(run, band.tests, _limits(band.tests, baseline), raw)
            lo, hi = max(lo, a), min(hi, b)
        spec = self.spec
        a, b = still_run(
            self._clear_run, spec.clear, _limits(spec.clear, baseline), raw
        )
        lo, hi = max(lo, a), min(hi, b)
        return (lo, hi) if lo <= raw <= hi and lo <= judged <= hi else EMPTY

    def resolution(self) -> str:
        """The resolution rule in words."""
        spec = self.spec
        clear = _limits(spec.clear, self._baseline) or ()
        words = " and ".join(
            t.describe(limit) for t, limit in zip(spec.clear, clear, strict=False)
        )
        return (
            f"{spec.label} {words} {spec.unit} for {spec.clear_after_s:g} s"
            f"{spec.resolution_suffix}"
        )

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if self.level is None:
            return None
        spec = self.spec
        band = spec.bands[self.level]
        limits = _limits(band.tests, self._baseline) or ()
        words = " and ".join(
            t.describe(limit) for t, limit in zip(band.tests, limits, strict=False)
        )
        text = f"{spec.label} {self._value:g} {spec.unit} {words}"
        relative = [t for t in band.tests if t.above_baseline is not None]
        if relative and self._baseline is not None:
            text += f" (baseline {self._baseline:g} + {relative[0].above_baseline:g})"
        return Assertion(
            code=spec.code,
            priority=band.priority,
            kind=AlarmKind.PHYSIOLOGICAL,
            text=text,
            value=self._value,
            limit=limits[0] if len(limits) == 1 else words,
            latch_at=spec.latch_at,
            resolution=self.resolution(),
        )


def _latch(*, latching: bool, priority: AlarmPriority) -> AlarmPriority | None:
    return priority if latching else None


def continuous_specs(policy: AlarmPolicy) -> tuple[ContinuousRuleSpec, ...]:
    """The continuous rows of the policy table, in display order (``spo2.low`` aside).

    >>> from roomctl.alarms.policy import AlarmPolicy
    >>> [spec.code for spec in continuous_specs(AlarmPolicy())]
    ['hr.high', 'hr.rise', 'hr.low', 'spo2.desat', 'spo2.borderline']
    """
    hh, hr, hl = policy.hr_high, policy.hr_relative, policy.hr_low
    sd, sb = policy.spo2_desat, policy.spo2_borderline
    pr, spo2 = Metric.PULSE_RATE_BPM, Metric.SPO2_PERCENT
    reset = ", then reset"
    return (
        ContinuousRuleSpec(
            code="hr.high",
            metric=pr,
            label="HR",
            unit="bpm",
            bands=(
                Band(
                    priority=hh.priority,
                    tests=(Threshold(op=Op.GE, absolute=hh.limit_bpm),),
                    delay_s=hh.delay_s,
                ),
                Band(
                    priority=hh.severe_priority,
                    tests=(Threshold(op=Op.GE, absolute=hh.severe_limit_bpm),),
                    delay_s=hh.severe_delay_s,
                ),
            ),
            clear=(Threshold(op=Op.LT, absolute=hh.limit_bpm - hh.clear_margin_bpm),),
            clear_after_s=hh.clear_after_s,
            latch_at=_latch(latching=hh.severe_latching, priority=hh.severe_priority),
            smoothed=True,
            resolution_suffix=reset if hh.severe_latching else "",
        ),
        ContinuousRuleSpec(
            code="hr.rise",
            metric=pr,
            label="HR",
            unit="bpm",
            bands=(
                Band(
                    priority=hr.priority,
                    tests=(
                        Threshold(
                            op=Op.GE, absolute=hr.floor_bpm, above_baseline=hr.rise_bpm
                        ),
                    ),
                    delay_s=hr.delay_s,
                ),
            ),
            clear=(Threshold(op=Op.LE, above_baseline=hr.clear_rise_bpm),),
            clear_after_s=hr.clear_after_s,
            smoothed=True,
        ),
        ContinuousRuleSpec(
            code="hr.low",
            metric=pr,
            label="HR",
            unit="bpm",
            bands=(
                Band(
                    priority=hl.priority,
                    tests=(Threshold(op=Op.LT, absolute=hl.limit_bpm),),
                    delay_s=hl.delay_s,
                ),
                Band(
                    priority=hl.severe_priority,
                    tests=(Threshold(op=Op.LT, absolute=hl.severe_limit_bpm),),
                    delay_s=hl.severe_delay_s,
                ),
            ),
            clear=(Threshold(op=Op.GE, absolute=hl.limit_bpm + hl.clear_margin_bpm),),
            clear_after_s=hl.clear_after_s,
            latch_at=_latch(latching=hl.severe_latching, priority=hl.severe_priority),
            smoothed=True,
            resolution_suffix=reset if hl.severe_latching else "",
        ),
        ContinuousRuleSpec(
            code="spo2.desat",
            metric=spo2,
            label="SpO2",
            unit="%",
            bands=(
                Band(
                    priority=sd.priority,
                    tests=(Threshold(op=Op.LT, absolute=sd.limit_percent),),
                    delay_s=sd.delay_s,
                ),
                Band(
                    priority=sd.priority,
                    tests=(Threshold(op=Op.LT, absolute=sd.immediate_percent),),
                    delay_s=0.0,
                ),
            ),
            clear=(Threshold(op=Op.GE, absolute=sd.clear_percent),),
            clear_after_s=sd.clear_after_s,
            latch_at=_latch(latching=sd.latching, priority=sd.priority),
            resolution_suffix=reset if sd.latching else "",
        ),
        ContinuousRuleSpec(
            code="spo2.borderline",
            metric=spo2,
            label="SpO2",
            unit="%",
            bands=(
                Band(
                    priority=sb.priority,
                    tests=(
                        Threshold(op=Op.GE, absolute=sb.low_percent),
                        Threshold(op=Op.LE, absolute=sb.high_percent),
                    ),
                    delay_s=sb.delay_s,
                ),
            ),
            clear=(Threshold(op=Op.GE, absolute=sb.clear_percent),),
            clear_after_s=sb.clear_after_s,
        ),
    )


class Spo2LowRule:
    """``spo2.low``: integral below 90 % or repeated dips; clears at >= 92 % 30 s."""

    def __init__(self, policy: Spo2LowPolicy) -> None:
        self._policy = policy
        #: Integral of (limit - SpO2) over time in the current excursion (%·s).
        self.integral = 0.0
        self._integrated_to: float | None = None
        self._below = False
        #: Inside a dip that has not yet ended (SpO2 not back at ``dip_end_percent``).
        self._in_dip = False
        self._dips: deque[float] = deque()
        self._clear_run = SustainedRun()
        self.active = False
        self._why = ""
        self._value = 0.0

    def interrupt(self, now: float) -> None:
        """The signal is not live: no time accrues, the resolution run restarts."""
        self._integrated_to = now
        self._clear_run.reset()

    def sample(self, t: float, value: float) -> None:
        """Take one usable sample (after ``advance`` closed the previous interval)."""
        policy = self._policy
        if value < policy.limit_percent:
            if not self._in_dip:
                self._dips.append(t)
                self._in_dip = True
            self._below = True
        else:
            self._below = False
            self.integral = 0.0
            if value >= policy.dip_end_percent:
                self._in_dip = False
        meets_clear = value >= policy.clear_percent
        self._clear_run.feed(t, raw=meets_clear, smoothed=meets_clear)

    def advance(self, now: float, value: float | None) -> None:
        """Integrate the held value up to ``now`` and move the state on."""
        if value is None:
            self.interrupt(now)
            return
        policy = self._policy
        start = now if self._integrated_to is None else self._integrated_to
        if now > start and value < policy.limit_percent:
            self.integral += (policy.limit_percent - value) * (now - start)
        self._integrated_to = max(now, start)
        while self._dips and self._dips[0] <= now - policy.excursion_window_s:
            self._dips.popleft()
        if not self.active:
            self._value = value
            if self.integral >= policy.integral_percent_s:
                self.active = True
                self._why = f"{self.integral:.0f} %·s below {policy.limit_percent:g}"
            elif len(self._dips) >= policy.excursions:
                self.active = True
                self._why = (
                    f"{len(self._dips)} dips below {policy.limit_percent:g} within "
                    f"{policy.excursion_window_s:g} s"
                )
        elif (
            self._clear_run.held_for(now) >= policy.clear_after_s
            and value >= policy.clear_percent
        ):
            self.active = False
            self._dips.clear()
            self._in_dip = False

    def shown(self) -> tuple[str, float] | None:
        """What ``assertion`` is made of (equal: the same assertion)."""
        return (self._why, self._value) if self.active else None

    def integrating(self, value: float) -> bool:
        """Whether ``advance`` with ``value`` held adds to the integral."""
        return value < self._policy.limit_percent

    def catch_up(self, latest: float) -> None:
        """What ``advance`` calls up to ``latest`` on a held value >= the limit did.

        Such calls integrate nothing and cannot raise or (before ``next_change``)
        clear; they only move the integration start and let old dips go.
        """
        start = self._integrated_to
        self._integrated_to = latest if start is None else max(latest, start)
        dips = self._dips
        while dips and dips[0] <= latest - self._policy.excursion_window_s:
            dips.popleft()

    def next_change(self, value: float) -> float:
        """When ``advance`` with ``value`` held may first do more than ``catch_up``.

        ``-inf``: at any call; ``inf``: not before the next sample.
        """
        policy = self._policy
        if value < policy.limit_percent:
            return -math.inf  # the integral grows on every call
        if not self.active:
            if (
                self.integral >= policy.integral_percent_s
                or len(self._dips) >= policy.excursions
            ):
                return -math.inf
            return math.inf
        if value < policy.clear_percent:
            return math.inf
        since = self._clear_run.since
        if since is None:
            return -math.inf if policy.clear_after_s <= 0 else math.inf
        return since + policy.clear_after_s

    def still(self) -> Region:
        """Values whose sample changes nothing here (nothing below the limit)."""
        policy = self._policy
        if self._below or self.integral:
            return EMPTY
        limit, clear = policy.limit_percent, policy.clear_percent
        # Inside a dip, a value at its end would end it: a change.
        top = math.nextafter(policy.dip_end_percent, _DOWN) if self._in_dip else _UP
        if self._clear_run.since is None:
            return (limit, min(math.nextafter(clear, _DOWN), top))
        return (max(limit, clear), top)

    def assertion(self) -> Assertion | None:
        """The condition in force, if any."""
        if not self.active:
            return None
        policy = self._policy
        return Assertion(
            code="spo2.low",
            priority=policy.priority,
            kind=AlarmKind.PHYSIOLOGICAL,
            text=f"SpO2 {self._value:g} % < {policy.limit_percent:g} ({self._why})",
            value=self._value,
            limit=policy.limit_percent,
            resolution=(
                f"SpO2 >= {policy.clear_percent:g} % for {policy.clear_after_s:g} s"
            ),
        )

"""The pieces the engine's fast path rests on, checked against what they stand for.

The engine skips a call only where the rules' own code would change nothing; these
tests pin the helpers that decide that: value ranges with one verdict, the sorted
median window, and the "when may this change" answers of each rule.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.alarms import AlarmPolicy
from roomctl.alarms.baseline import BaselineBuilder
from roomctl.alarms.board import AlarmBoard
from roomctl.alarms.policy import BaselinePolicy, Spo2LowPolicy
from roomctl.alarms.rules import (
    ContinuousRule,
    Op,
    Spo2LowRule,
    Threshold,
    continuous_specs,
    verdict_region,
)
from roomctl.alarms.signal import EMPTY, SignalTrack
from roomctl.alarms.technical import DataLostRule, SignalQualityRule
from roomctl.readings import Metric

LIMITS = st.sampled_from([0.0, 45.0, 90.0, 129.5, 130.0, 1e-300])
VALUES = st.one_of(
    st.floats(allow_nan=False, min_value=-1e6, max_value=1e6),
    st.sampled_from([45.0, 90.0, 129.5, 130.0, math.nextafter(130.0, 0.0)]),
)


@given(
    op=st.sampled_from(list(Op)),
    limit=LIMITS,
    second=st.tuples(st.sampled_from(list(Op)), LIMITS),
    value=VALUES,
    probe=VALUES,
)
def test_a_verdict_region_holds_one_verdict(
    op: Op, limit: float, second: tuple[Op, float], value: float, probe: float
) -> None:
    tests = (Threshold(op=op), Threshold(op=second[0]))
    limits = (limit, second[1])
    passes, (lo, hi) = verdict_region(tests, limits, value)

    def verdict(v: float) -> bool:
        return all(t.holds(v, lim) for t, lim in zip(tests, limits, strict=True))

    assert passes == verdict(value)
    assert lo <= value <= hi
    if lo <= probe <= hi:
        assert verdict(probe) == passes


@given(
    st.lists(
        st.one_of(
            st.integers(min_value=60, max_value=62),
            st.sampled_from([60.0, 61.0, -0.0, 0.0, math.nan]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([1.0, 2.5, 4.0]),
)
def test_the_sorted_window_gives_the_median_statistics_gives(
    values: list[float], window: float
) -> None:
    kept = SignalTrack(median_window_s=window, hold_s=3)
    plain = SignalTrack(median_window_s=window, hold_s=3, keep_median=False)
    inside: list[tuple[float, float]] = []
    for i, value in enumerate(values):
        t = i * 0.5
        kept.put(t, value)
        plain.put(t, value)
        inside = [(s, v) for s, v in [*inside, (t, value)] if s > t - window]
        want = statistics.median(v for _, v in inside)
        for track in (kept, plain):
            got = track.median()
            assert repr(got) == repr(want)  # the same value, type and sign
            assert repr(track.median()) == repr(want)  # asked again: the same


def _rule(code: str) -> ContinuousRule:
    (spec,) = [s for s in continuous_specs(AlarmPolicy()) if s.code == code]
    return ContinuousRule(spec)


def test_a_raised_rule_that_lost_its_baseline_must_be_judged_at_once() -> None:
    rule = _rule("hr.rise")
    rule.sample(0.0, 130.0, 130.0, 72.0)
    rule.advance(60.0, (130.0, 130.0), 72.0)
    assert rule.level == 0

    assert rule.next_change(130.0, 130.0, None) == -math.inf
    assert rule.still(130.0, 130.0, None) == EMPTY


def test_a_quiet_rule_waits_for_its_runs() -> None:
    rule = _rule("hr.high")
    rule.sample(0.0, 140.0, 140.0, None)

    # The MEDIUM band fires 30 s after the run began, not before.
    assert rule.next_change(140.0, 140.0, None) == 30.0
    # The median must agree before anything can fire.
    assert rule.next_change(140.0, 120.0, None) == math.inf
    lo, hi = rule.still(140.0, 140.0, None)
    assert lo == 130.0
    assert hi == math.nextafter(150.0, -math.inf)


def test_spo2_low_with_dips_pending_is_judged_at_once() -> None:
    rule = Spo2LowRule(Spo2LowPolicy())
    rule.sample(0.0, 88.0)
    rule.sample(1.0, 95.0)
    rule.sample(2.0, 88.0)
    rule.sample(3.0, 95.0)
    rule.sample(4.0, 88.0)
    rule.sample(5.0, 95.0)

    # Three dips are waiting for ``advance`` to count them.
    assert rule.next_change(95.0) == -math.inf
    # Below the limit the integral grows at every call.
    assert rule.integrating(85.0)
    assert rule.next_change(85.0) == -math.inf
    rule.advance(5.0, 95.0)
    assert rule.active
    # Active and at 95 %: it clears once the value has held for 30 s.
    assert rule.next_change(95.0) == 35.0
    assert rule.next_change(91.0) == math.inf


def test_spo2_low_clears_at_once_with_no_time_to_hold() -> None:
    rule = Spo2LowRule(Spo2LowPolicy(clear_after_s=0))
    rule.active = True

    assert rule.next_change(95.0) == -math.inf
    assert rule.still() == (90.0, math.nextafter(92.0, -math.inf))


def test_the_catch_up_of_spo2_low_moves_the_start_and_drops_old_dips() -> None:
    rule = Spo2LowRule(Spo2LowPolicy())
    rule.catch_up(4.0)
    rule.sample(5.0, 88.0)
    rule.sample(6.0, 95.0)
    rule.advance(6.0, 95.0)

    rule.catch_up(100.0)
    rule.advance(100.0, 95.0)

    assert rule.integral == 0.0
    assert rule.next_change(95.0) == math.inf


def test_technical_rules_without_a_condition_stay_still() -> None:
    policy = AlarmPolicy()
    signal = SignalQualityRule(policy.spo2_signal)
    signal.advance(100.0, cuff_inflating=False, live=True)
    assert signal.assertion() is None

    lost = DataLostRule(policy.spo2_data, start=0.0)
    lost.advance(5.0, during_infusion=False)
    assert lost.assertion() is None


def test_the_baseline_takes_samples_of_its_two_metrics_only() -> None:
    builder = BaselineBuilder(BaselinePolicy(), hold_s=3)
    builder.add_sample(Metric.PULSE_RATE_BPM, 0.0, 70.0)
    builder.add_sample(Metric.SPO2_PERCENT, 0.0, 97.0)

    with pytest.raises(KeyError):
        builder.add_sample(Metric.PERFUSION_INDEX, 0.0, 2.0)


def test_the_board_knows_when_its_timers_are_next_due() -> None:
    epoch = datetime(2026, 11, 21, tzinfo=UTC)
    board = AlarmBoard(AlarmPolicy().audio, lambda t: epoch + timedelta(seconds=t))
    assert board.timers(0.0) == []
    assert board.timers_due == math.inf

    board.pause(None, 0.0)
    assert board.timers(1.0) == []
    assert board.timers_due == 120.0

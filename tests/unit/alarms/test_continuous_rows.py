"""Every continuous row of the policy table.

Raise, escalate, clear, latch, suspend, stale.

Each case runs a post-dose session (baseline HR 72, SpO2 97) fed at 1 Hz with a step
stream, ticks every second, and compares the events of one code with exact times.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from roomctl.events import CommandVerb
from roomctl.readings import Metric, ReadingStatus
from tests.unit.alarms.room import OX, Room, steps

ART = ReadingStatus.ARTIFACT


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    metric: Metric
    points: tuple[tuple[float, float | ReadingStatus | None], ...]
    until: float
    expected: tuple[tuple[float, str, str], ...]


HR, SPO2 = Metric.PULSE_RATE_BPM, Metric.SPO2_PERCENT

CASES = [
    # ---------------------------------------------------------------- hr.high
    Case("hr.high MEDIUM after 30 s >= 130", "hr.high", HR,
         ((0, 72), (100, 135)), 140, ((130, "raised", "medium"),)),
    Case("hr.high 29 s is not enough", "hr.high", HR,
         ((0, 72), (100, 135), (129, 72)), 200, ()),
    Case("hr.high MEDIUM -> HIGH after 15 s >= 150", "hr.high", HR,
         ((0, 72), (100, 135), (140, 155)), 160,
         ((130, "raised", "medium"), (155, "escalated", "high"))),
    Case("hr.high straight to HIGH at 15 s", "hr.high", HR,
         ((0, 72), (100, 160)), 140, ((115, "raised", "high"),)),
    Case("hr.high clears after 60 s below 120", "hr.high", HR,
         ((0, 72), (100, 135), (200, 110)), 300,
         ((130, "raised", "medium"), (260, "cleared", "medium"))),
    Case("hr.high 125 is not below limit - 10", "hr.high", HR,
         ((0, 72), (100, 135), (200, 125)), 400, ((130, "raised", "medium"),)),
    Case("hr.high one low sample does not break the run (median)", "hr.high", HR,
         ((0, 72), (100, 135), (115, 80), (116, 135)), 140,
         ((130, "raised", "medium"),)),
    Case("hr.high suspended by a flagged signal", "hr.high", HR,
         ((0, 72), (100, 135), (115, ART), (118, 135)), 160,
         ((148, "raised", "medium"),)),
    Case("hr.high not judged on a held value after a gap", "hr.high", HR,
         ((0, 72), (100, 135), (115, None), (125, 135)), 170,
         ((155, "raised", "medium"),)),
    # ---------------------------------------------------------------- hr.low
    Case("hr.low MEDIUM after 15 s < 45", "hr.low", HR,
         ((0, 72), (100, 42)), 130, ((115, "raised", "medium"),)),
    Case("hr.low HIGH after 10 s < 40", "hr.low", HR,
         ((0, 72), (100, 38)), 130, ((110, "raised", "high"),)),
    Case("hr.low MEDIUM -> HIGH", "hr.low", HR,
         ((0, 72), (100, 42), (120, 38)), 140,
         ((115, "raised", "medium"), (130, "escalated", "high"))),
    Case("hr.low clears at >= 50 for 30 s", "hr.low", HR,
         ((0, 72), (100, 42), (200, 52)), 260,
         ((115, "raised", "medium"), (230, "cleared", "medium"))),
    Case("hr.low 48 does not clear", "hr.low", HR,
         ((0, 72), (100, 42), (200, 48)), 300, ((115, "raised", "medium"),)),
    # ---------------------------------------------------------------- hr.rise
    Case("hr.rise LOW after 60 s >= max(baseline + 30, 110)", "hr.rise", HR,
         ((0, 72), (100, 112)), 200, ((160, "raised", "low"),)),
    Case("hr.rise not below the 110 floor", "hr.rise", HR,
         ((0, 72), (100, 108)), 300, ()),
    Case("hr.rise clears at <= baseline + 15 for 120 s", "hr.rise", HR,
         ((0, 72), (100, 112), (200, 85)), 400,
         ((160, "raised", "low"), (320, "cleared", "low"))),
    Case("hr.rise 90 is above baseline + 15", "hr.rise", HR,
         ((0, 72), (100, 112), (200, 90)), 400, ((160, "raised", "low"),)),
    # ---------------------------------------------------------------- spo2.desat
    Case("spo2.desat HIGH after 5 s < 85", "spo2.desat", SPO2,
         ((0, 97), (100, 84)), 110, ((105, "raised", "high"),)),
    Case("spo2.desat 4 s is not enough", "spo2.desat", SPO2,
         ((0, 97), (100, 84), (104, 97)), 120, ()),
    Case("spo2.desat immediate below 80", "spo2.desat", SPO2,
         ((0, 97), (100, 79)), 101, ((100, "raised", "high"),)),
    Case("spo2.desat suspended by sensor off", "spo2.desat", SPO2,
         ((0, 97), (100, 84), (103, ReadingStatus.SENSOR_OFF), (105, 84)), 115,
         ((110, "raised", "high"),)),
    # ---------------------------------------------------------------- spo2.low
    Case("spo2.low integral 50 %·s (88 for 25 s)", "spo2.low", SPO2,
         ((0, 97), (100, 88)), 130, ((125, "raised", "medium"),)),
    Case("spo2.low integral restarts at >= 90", "spo2.low", SPO2,
         ((0, 97), (100, 88), (120, 91), (121, 88)), 150,
         ((146, "raised", "medium"),)),
    Case("spo2.low clears at >= 92 for 30 s", "spo2.low", SPO2,
         ((0, 97), (100, 88), (130, 93)), 170,
         ((125, "raised", "medium"), (160, "cleared", "medium"))),
    Case("spo2.low 91 does not clear", "spo2.low", SPO2,
         ((0, 97), (100, 88), (130, 91)), 300, ((125, "raised", "medium"),)),
    Case("spo2.low two dips are not three", "spo2.low", SPO2,
         ((0, 97), (100, 88), (102, 97), (120, 88), (122, 97)), 200, ()),
    Case("spo2.low dips older than 60 s do not count", "spo2.low", SPO2,
         ((0, 97), (100, 88), (102, 97), (130, 88), (132, 97), (170, 88),
          (172, 97)), 250, ()),
    Case("spo2.low no time accrues while flagged", "spo2.low", SPO2,
         ((0, 97), (100, 88), (110, ART), (200, 88)), 216,
         ((215, "raised", "medium"),)),
    # ---------------------------------------------------------------- spo2.borderline
    Case("spo2.borderline LOW after 120 s in 90-93", "spo2.borderline", SPO2,
         ((0, 97), (100, 92)), 230, ((220, "raised", "low"),)),
    Case("spo2.borderline two samples below 90 end the run", "spo2.borderline",
         SPO2, ((0, 97), (100, 92), (200, 89), (202, 92)), 330,
         ((322, "raised", "low"),)),
    Case("spo2.borderline one sample below 90 does not end it", "spo2.borderline",
         SPO2, ((0, 97), (100, 92), (200, 89), (201, 92)), 330,
         ((220, "raised", "low"),)),
    Case("spo2.borderline clears at >= 94 for 60 s", "spo2.borderline", SPO2,
         ((0, 97), (100, 92), (300, 95)), 400,
         ((220, "raised", "low"), (360, "cleared", "low"))),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_continuous_row(case: Case) -> None:
    room = Room(devices=(OX,))
    room.prepare(hr=72, spo2=97)
    stream = steps(*case.points)
    other = 97 if case.metric is HR else 72
    if case.metric is HR:
        room.run(case.until, spo2=other, pr=stream)
    else:
        room.run(case.until, spo2=stream, pr=other)
    # Audio reminders (volume up) are the board's business: see test_board.
    got = tuple(
        (a.t, a.transition, a.priority)
        for a in room.alarms(case.code)
        if a.transition != "reminded"
    )
    assert got == case.expected


@pytest.mark.parametrize(
    ("code", "metric", "points"),
    [
        ("hr.high", HR, ((0, 72), (100, 160), (130, 100))),
        ("hr.low", HR, ((0, 72), (100, 38), (130, 60))),
        ("spo2.desat", SPO2, ((0, 97), (100, 79), (110, 97))),
    ],
)
def test_high_levels_latch_until_reset(
    code: str, metric: Metric, points: tuple[tuple[float, float], ...]
) -> None:
    room = Room(devices=(OX,))
    room.prepare(hr=72, spo2=97)
    stream = steps(*points)
    if metric is HR:
        room.run(400, spo2=97, pr=stream)
    else:
        room.run(400, spo2=stream, pr=72)
    alarm = next(a for a in room.state().alarms if a.code == code)
    assert (alarm.priority, alarm.latched, alarm.condition_present) == (
        "high",
        True,
        False,
    )
    assert "cleared" not in [a.transition for a in room.alarms(code)]
    assert room.command(CommandVerb.RESET, 400, code=code) is None
    assert room.alarms(code)[-1].transition == "reset"


def test_non_latching_medium_clears_by_itself_and_refuses_reset() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(140, spo2=97, pr=steps((0, 72), (100, 135)))
    refusal = room.command(CommandVerb.RESET, 140, code="hr.high")
    assert refusal == (
        "hr.high does not latch; it clears by itself (HR < 120 bpm for 60 s, "
        "then reset)."
    )


def test_absolute_rows_run_before_dosing_too() -> None:
    room = Room(devices=(OX,))
    room.run(-400, spo2=97, pr=72)
    room.run(-300, spo2=79, pr=72)
    assert [a.code for a in room.alarms()] == ["spo2.desat", "spo2.low"]


def test_relative_hr_rule_is_off_before_dosing_and_without_baseline() -> None:
    room = Room(devices=(OX,))
    room.run(-1, spo2=97, pr=steps((-600, 72), (-400, 115)))
    assert room.alarms("hr.rise") == []
    room.phase(0.0, "dosing")
    room.run(300, spo2=97, pr=115)
    # The baseline HR is the median of the last 3 min before dosing: 115.
    assert room.state().baseline.values.hr_bpm == 115
    assert room.alarms("hr.rise") == []


def test_texts_give_value_and_limit() -> None:
    room = Room(devices=(OX,))
    room.prepare(hr=75, spo2=97)
    room.run(300, spo2=steps((0, 97), (200, 92)), pr=steps((0, 75), (100, 118)))
    texts = {a.code: a.text for a in room.state().alarms}
    assert texts["hr.rise"] == "HR 118 bpm >= 110 (baseline 75 + 30)"
    room.run(400, spo2=92, pr=118)
    assert {a.code: a.text for a in room.state().alarms}["spo2.borderline"] == (
        "SpO2 92 % >= 90 and <= 93"
    )
    view = next(a for a in room.state().alarms if a.code == "spo2.borderline")
    assert view.limit == ">= 90 and <= 93"
    assert view.resolution == "SpO2 >= 94 % for 60 s"

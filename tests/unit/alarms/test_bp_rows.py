"""Every NIBP row of the policy table: confirmation, escalation, resolution, latching.

Readings are listed as ``(minutes after dose, SBP, DBP)``; the engine is ticked every
second between them; baseline 120/75. Only the listed code's events are compared
(audio reminders aside: see test_board).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from roomctl.alarms import AlarmPolicy
from roomctl.events import CommandVerb
from roomctl.readings import ReadingStatus
from tests.unit.alarms.room import NIBP, Logged, Room, at


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    readings: tuple[tuple[float, float, float], ...]
    expected: tuple[tuple[float, str, str], ...]


CASES = [
    # ---------------------------------------------------------------- bp.high
    Case("bp.high LOW on the first reading", "bp.high",
         ((3, 182, 100),), ((3, "raised", "low"),)),
    Case("bp.high MEDIUM on the second consecutive", "bp.high",
         ((3, 182, 100), (6, 150, 112)),
         ((3, "raised", "low"), (6, "escalated", "medium"))),
    Case("bp.high not confirmed by a non-consecutive reading", "bp.high",
         ((3, 182, 100), (6, 175, 100), (9, 181, 100)), ((3, "raised", "low"),)),
    Case("bp.high clears on two readings >= 3 min apart below 170/105", "bp.high",
         ((3, 182, 100), (6, 168, 100), (9, 160, 95)),
         ((3, "raised", "low"), (9, "cleared", "low"))),
    Case("bp.high a resolving reading sooner than 3 min does not count", "bp.high",
         ((3, 182, 100), (6, 168, 100), (8, 160, 95), (9, 160, 95)),
         ((3, "raised", "low"), (9, "cleared", "low"))),
    Case("bp.high 172/104 breaks the resolution count", "bp.high",
         ((3, 182, 100), (6, 168, 100), (9, 172, 104), (12, 160, 95)),
         ((3, "raised", "low"),)),
    Case("bp.high confirmed, a lone reading later keeps MEDIUM", "bp.high",
         ((3, 182, 100), (6, 182, 100), (9, 175, 100), (12, 182, 100)),
         ((3, "raised", "low"), (6, "escalated", "medium"))),
    Case("bp.high 105 DBP is not below 105", "bp.high",
         ((3, 182, 112), (6, 182, 112), (9, 160, 105), (12, 160, 105)),
         ((3, "raised", "low"), (6, "escalated", "medium"))),
    # ---------------------------------------------------------------- bp.severe
    Case("bp.severe MEDIUM at once, HIGH confirmed", "bp.severe",
         ((3, 205, 100), (5, 150, 121)),
         ((3, "raised", "medium"), (5, "escalated", "high"))),
    Case("bp.severe unconfirmed clears on resolution (no latch)", "bp.severe",
         ((3, 205, 100), (5, 165, 100), (8, 160, 100)),
         ((3, "raised", "medium"), (8, "cleared", "medium"))),
    Case("bp.severe confirmed latches: no clear", "bp.severe",
         ((3, 205, 100), (5, 205, 100), (8, 160, 100), (11, 160, 100)),
         ((3, "raised", "medium"), (5, "escalated", "high"))),
    Case("bp.high is not raised for severe readings", "bp.high",
         ((3, 205, 100), (5, 205, 100), (8, 185, 100)), ()),
    # ---------------------------------------------------------------- bp.low
    Case("bp.low LOW on the first reading", "bp.low",
         ((3, 88, 60),), ((3, "raised", "low"),)),
    Case("bp.low MEDIUM confirmed (SBP < 90)", "bp.low",
         ((3, 88, 60), (6, 89, 62)),
         ((3, "raised", "low"), (6, "escalated", "medium"))),
    Case("bp.low MEDIUM confirmed (MAP < 65)", "bp.low",
         ((3, 95, 45), (6, 96, 45)),
         ((3, "raised", "low"), (6, "escalated", "medium"))),
    Case("bp.low first reading < 80 is LOW, confirmed HIGH", "bp.low",
         ((3, 78, 50), (6, 76, 50)),
         ((3, "raised", "low"), (6, "escalated", "high"))),
    Case("bp.low MEDIUM then HIGH needs two readings < 80", "bp.low",
         ((3, 85, 60), (6, 85, 60), (9, 78, 50), (12, 77, 50)),
         ((3, "raised", "low"), (6, "escalated", "medium"),
          (12, "escalated", "high"))),
    Case("bp.low clears on two readings >= limit + 5", "bp.low",
         ((3, 85, 60), (6, 85, 60), (9, 100, 70), (12, 102, 72)),
         ((3, "raised", "low"), (6, "escalated", "medium"),
          (12, "cleared", "medium"))),
    Case("bp.low 93 is not >= 95", "bp.low",
         ((3, 85, 60), (6, 93, 70), (9, 93, 70)), ((3, "raised", "low"),)),
    Case("bp.low HIGH latches", "bp.low",
         ((3, 78, 50), (6, 76, 50), (9, 110, 70), (12, 110, 70)),
         ((3, "raised", "low"), (6, "escalated", "high"))),
    # ---------------------------------------------------------------- bp.rise
    Case("bp.rise LOW on the second relative crossing", "bp.rise",
         ((5, 161, 90), (10, 150, 101)), ((10, "raised", "low"),)),
    Case("bp.rise not on a single crossing", "bp.rise",
         ((5, 161, 90), (10, 150, 90), (15, 161, 90)), ()),
    Case("bp.rise: readings at absolute limits do not count", "bp.rise",
         ((5, 161, 90), (10, 185, 100), (13, 161, 90)), ()),
    Case("bp.rise clears with its episode (5 min apart)", "bp.rise",
         ((5, 161, 90), (10, 165, 90), (15, 138, 84), (18, 138, 84),
          (20, 138, 84)),
         ((10, "raised", "low"), (20, "cleared", "low"))),
]  # fmt: skip


def _run(room: Room, readings: tuple[tuple[float, float, float], ...]) -> None:
    bp = {at(m): (s, d) for m, s, d in readings}
    room.run(max(bp) + 1, bp=bp)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bp_row(case: Case) -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    _run(room, case.readings)
    got = tuple(
        (a.t / 60, a.transition, a.priority)
        for a in room.alarms(case.code)
        if a.transition != "reminded"
    )
    assert got == case.expected


def test_bp_texts_values_and_limits() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    _run(room, ((3, 85, 55),))
    [alarm] = room.state().alarms
    assert alarm.text == "BP 85/55 MAP 65 (SBP < 90 or MAP < 65)"
    assert (alarm.value, alarm.limit) == ("85/55 MAP 65", "90/MAP 65")
    assert alarm.resolution == "2 readings with SBP >= 95 and MAP >= 70, then reset"


def test_bp_low_without_map_is_judged_on_sbp() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    room.run(at(3) - 1)
    room.nibp(at(3), 92, 40, no_map=True)  # would be MAP 57: fine without MAP
    assert room.alarms() == []
    room.nibp(at(6), 85, 60, no_map=True)
    assert room.state().alarms[0].text == "BP 85/60 (SBP < 90 or MAP < 65)"


def test_high_and_severe_together_resolve_on_the_same_readings() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    _run(room, ((3, 185, 100), (6, 186, 100), (9, 205, 100), (12, 158, 95)))
    room.run(at(15) - 1)
    room.nibp(at(15), 158, 95)
    room.run(at(16))
    assert room.alarms() == [
        Logged(at(3), "bp.high", "raised", "low"),
        Logged(at(6), "bp.high", "escalated", "medium"),
        Logged(at(8), "bp.high", "reminded", "medium"),
        Logged(at(9), "bp.severe", "raised", "medium"),
        Logged(at(11), "bp.severe", "reminded", "medium"),
        Logged(at(15), "bp.high", "cleared", "medium"),
        Logged(at(15), "bp.severe", "cleared", "medium"),
    ]
    # Both were unacknowledged MEDIUMs: their cards stay until acknowledged.
    assert [(a.code, a.condition_present) for a in room.state().alarms] == [
        ("bp.high", False),
        ("bp.severe", False),
    ]
    assert room.command(CommandVerb.ACKNOWLEDGE, at(16)) is None
    assert room.state().alarms == ()


@pytest.mark.parametrize(
    ("sbp", "dbp", "mean", "why"),
    [
        (96, 94, 95, "pulse pressure 2 mmHg < 10"),
        (240, 60, 120, "pulse pressure 180 mmHg > 150"),
        (120, 8, 45, "pressure 8 mmHg <= 10"),
        (80, 80, 80, "SBP = DBP = MAP = 80"),
        (80, 85, 82, "SBP 80 <= DBP 85"),
    ],
)
def test_implausible_readings_are_questionable_and_excluded(
    sbp: float, dbp: float, mean: float, why: str
) -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    room.run(at(3) - 1)
    room.nibp(at(3), 185, 112)  # opens an episode and bp.high LOW
    room.run(at(5) - 1)
    room.nibp(at(5), sbp, dbp, mean=mean)
    room.run(at(6))
    assert room.alarms("tech.nibp.questionable") == [
        Logged(at(5), "tech.nibp.questionable", "raised", "low"),
    ]
    assert room.state().alarms[-1].text == f"NIBP questionable: {why}"
    # Excluded: no confirmation of bp.high, no new episode peak.
    assert [a.priority for a in room.alarms("bp.high")] == ["low"]
    assert room.state().episodes[0].peak == {"sbp": 185, "dbp": 112}


def test_questionable_pulse_pressure_limits_are_configurable() -> None:
    policy = AlarmPolicy.model_validate(
        {"nibp_plausibility": {"max_pulse_pressure_mmhg": 200}}
    )
    room = Room(devices=(NIBP,), policy=policy)
    room.prepare()
    room.run(at(3) - 1)
    room.nibp(at(3), 240, 60)
    assert room.alarms("tech.nibp.questionable") == []


def test_questionable_escalates_after_two_failures_and_clears_on_a_plausible() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    room.run(at(3) - 1)
    room.nibp(at(3), None, None, status=ReadingStatus.DEVICE_ERROR, error_code=None)
    room.nibp(at(4), None, None, status=ReadingStatus.ARTIFACT)
    room.nibp(at(5), 120, 80)
    assert [(a.transition, a.priority) for a in room.alarms()] == [
        ("raised", "low"),
        ("escalated", "medium"),
        ("cleared", "medium"),
    ]
    texts = [getattr(e, "text", "") for e in room.events]
    assert "NIBP questionable: device error: motion artifact" in texts


def test_stale_duplicate_and_out_of_order_nibp_readings_are_never_judged() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    room.run(at(3) - 1)
    room.nibp(at(3), 185, 112, received=at(3) - 121)  # measured 2 min ago
    room.nibp(at(4), 185, 112)
    room.nibp(at(4), 185, 112)  # duplicate
    room.nibp(at(5), 185, 112, received=at(3))  # older than the last judged
    assert room.alarms() == [Logged(at(4), "bp.high", "raised", "low")]


def test_predose_advisory_follows_the_baseline_and_clears() -> None:
    room = Room(devices=(NIBP,))
    room.run(-400, bp={-590.0: (150, 95), -400.0: (146, 92)})
    assert room.alarms() == [Logged(-400.0, "bp.predose_high", "raised", "low")]
    # A nurse overrides with a measured value: the new baseline is <= 140/90.
    refusal = room.command(
        CommandVerb.BASELINE_CONFIRM, -300.0, sbp=138, dbp=88, reason="re-measured"
    )
    assert refusal is None
    assert room.alarms()[-1] == Logged(-300.0, "bp.predose_high", "cleared", "low")


def test_predose_advisory_can_gate_dosing_until_acknowledged() -> None:
    policy = AlarmPolicy.model_validate({"predose": {"block_dosing": True}})
    room = Room(devices=(NIBP,), policy=policy)
    room.run(-1, bp={-540.0: (148, 94), -300.0: (146, 92)})
    assert room.phase(0.0, "dosing") == (
        "The pre-dose BP is above the limit and awaits prescriber review: "
        "acknowledge bp.predose_high before marking the dose."
    )
    assert room.command(CommandVerb.ACKNOWLEDGE, 0.0, code="bp.predose_high") is None
    assert room.phase(0.0, "dosing") is None


def test_gate_on_but_no_advisory_lets_dosing_go() -> None:
    policy = AlarmPolicy.model_validate({"predose": {"block_dosing": True}})
    room = Room(devices=(NIBP,), policy=policy)
    room.prepare(sbp=120, dbp=75)
    assert room.state().phase == "dosing"


def test_latching_can_be_turned_off_by_the_clinic() -> None:
    policy = AlarmPolicy.model_validate(
        {"bp_severe": {"latching": False}, "bp_low": {"severe_latching": False}}
    )
    room = Room(devices=(NIBP,), policy=policy)
    room.prepare()
    _run(room, ((3, 205, 100), (5, 205, 100), (8, 160, 100), (11, 160, 100)))
    assert [a.transition for a in room.alarms("bp.severe")][-1] == "cleared"

"""The baseline: computed from pre-dose readings, confirmed, overridden or missing."""

from __future__ import annotations

from datetime import timedelta

from roomctl.alarms import BaselineValues
from roomctl.events import CommandVerb, Role
from tests.unit.alarms.room import EPOCH_AT, NIBP, OX, PREP_S, Room, steps


def test_computed_from_medians_and_confirmed_by_a_nurse() -> None:
    room = Room()
    bp = {-590.0: (130, 84), -400.0: (124, 80), -200.0: (126, 78)}
    room.run(-1, spo2=steps((-600, 99), (-150, 97)), pr=72, bp=bp)
    baseline = room.state().baseline
    assert baseline.computed == BaselineValues(
        sbp_mmhg=126, dbp_mmhg=80, hr_bpm=72, spo2_percent=97
    )
    assert (baseline.status, baseline.frozen, baseline.missing) == (
        "unconfirmed",
        False,
        (),
    )
    assert room.command(CommandVerb.BASELINE_CONFIRM, -1.0, by=Role.NURSE) is None
    baseline = room.state().baseline
    assert (baseline.status, baseline.confirmed_by) == ("confirmed", Role.NURSE)
    assert baseline.confirmed_at is not None
    assert baseline.confirmed_at - EPOCH_AT == timedelta(seconds=PREP_S - 1)


def test_bp_needs_two_readings_3_min_apart() -> None:
    room = Room(devices=(NIBP,))
    room.run(-100, bp={-300.0: (124, 80), -170.0: (126, 78)})
    assert room.state().baseline.computed.sbp_mmhg is None  # 130 s apart
    room.nibp(-100.0, 120, 80)
    assert room.state().baseline.computed.sbp_mmhg == 124  # median of three


def test_hr_and_spo2_need_90_s_of_samples_in_the_last_3_min() -> None:
    room = Room(devices=(OX,))
    room.run(-1, spo2=steps((-600, 97), (-85, None)), pr=steps((-600, 70), (-95, None)))
    computed = room.state().baseline.computed
    # PR samples until -96 cover 85 s of the window; SpO2 until -86 cover 95 s.
    assert (computed.hr_bpm, computed.spo2_percent) == (None, 97)
    room = Room(devices=(OX,))
    room.run(-1)
    assert room.state().baseline.computed.hr_bpm is None


def test_confirmation_keeps_the_values_the_nurse_saw() -> None:
    room = Room(devices=(NIBP,))
    room.run(-200, bp={-590.0: (124, 80), -400.0: (126, 78)})
    assert room.command(CommandVerb.BASELINE_CONFIRM, -200.0) is None
    room.nibp(-100.0, 150, 95)
    baseline = room.state().baseline
    assert (baseline.values.sbp_mmhg, baseline.computed.sbp_mmhg) == (125, 126)


def test_override_needs_a_reason_and_is_recorded() -> None:
    room = Room(devices=(NIBP,))
    room.run(-1, bp={-590.0: (124, 80), -400.0: (126, 78)})
    assert room.command(CommandVerb.BASELINE_CONFIRM, -1.0, sbp=130) == (
        "Overriding the baseline needs a reason."
    )
    assert room.command(CommandVerb.BASELINE_CONFIRM, -1.0, sbp="130", reason="x") == (
        "sbp must be a number."
    )
    assert room.command(CommandVerb.BASELINE_CONFIRM, -1.0, hr=True, reason="x") == (
        "hr must be a number."
    )
    refusal = room.command(
        CommandVerb.BASELINE_CONFIRM, -1.0, sbp=130, reason="white-coat reading"
    )
    assert refusal is None
    baseline = room.state().baseline
    assert (baseline.status, baseline.overridden, baseline.override_reason) == (
        "overridden",
        ("sbp",),
        "white-coat reading",
    )
    assert (baseline.values.sbp_mmhg, baseline.values.dbp_mmhg) == (130, 79)
    assert baseline.computed.sbp_mmhg == 125


def test_nothing_to_confirm_is_refused() -> None:
    room = Room(devices=(NIBP,))
    assert room.command(CommandVerb.BASELINE_CONFIRM, -500.0) == (
        "There is no baseline to confirm yet: BP needs 2 plausible readings at "
        "least 3 min apart, HR and SpO2 need 90 s of valid samples in the last "
        "3 min. Enter the values with a reason to override."
    )
    assert (
        room.command(
            CommandVerb.BASELINE_CONFIRM,
            -500.0,
            hr=70,
            spo2=98,
            sbp=120,
            dbp=70,
            reason="x",
        )
        is None
    )


def test_unconfirmed_at_dose_start_is_frozen_and_marked() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(confirm=False)
    room.run(300, bp={200.0: (200, 120)})
    baseline = room.state().baseline
    assert (baseline.status, baseline.frozen) == ("unconfirmed", True)
    assert baseline.values.sbp_mmhg == 120


def test_confirm_after_dosing_updates_the_relative_rules() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75, confirm=False)
    refusal = room.command(
        CommandVerb.BASELINE_CONFIRM, 60.0, sbp=100, dbp=60, reason="wrong arm"
    )
    assert refusal is None
    room.run(700, bp={300.0: (141, 70), 600.0: (141, 70)})
    assert [a.code for a in room.alarms()] == ["bp.rise"]


def test_confirm_refused_once_closed() -> None:
    room = Room(devices=(NIBP,))
    room.phase(0.0, "closed", reason="x")
    assert room.command(CommandVerb.BASELINE_CONFIRM, 1.0) == "The session is closed."

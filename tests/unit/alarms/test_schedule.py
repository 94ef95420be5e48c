"""The NIBP schedule: cycle per phase, 3-min repeats, STAT, overdue, freshness."""

from __future__ import annotations

from roomctl.alarms import AlarmPolicy
from roomctl.events import CommandVerb, Route
from tests.unit.alarms.room import NIBP, OX, Logged, Room, at


def test_cycle_per_phase() -> None:
    room = Room(devices=(NIBP,))
    engine = room.engine
    assert engine.nibp_cycle_s(-100.0) is None  # preparation: on demand
    room.prepare()
    assert engine.nibp_cycle_s(0.0) == 300
    assert engine.nibp_cycle_s(at(60) - 1) == 300  # until infusion end + 20 min
    assert engine.nibp_cycle_s(at(60)) == 900
    room.command(CommandVerb.INFUSION_END, at(30))
    assert engine.nibp_cycle_s(at(50)) == 900
    room.phase(at(50), "closed", reason="x")
    assert engine.nibp_cycle_s(at(50)) is None


def test_other_routes_use_a_40_min_window_and_a_preparation_cycle() -> None:
    policy = AlarmPolicy.model_validate(
        {
            "nibp_schedule": {"preparation_cycle_s": 600},
            "infusion": {"other_routes_min": 30},
        }
    )
    room = Room(devices=(NIBP,), route=Route.NASAL, policy=policy)
    assert room.engine.nibp_cycle_s(-100.0) == 600
    room.prepare()
    assert room.engine.nibp_cycle_s(at(50) - 1) == 300
    assert room.engine.nibp_cycle_s(at(50)) == 900


def test_three_minute_repeats_while_a_bp_rule_is_active_even_before_dosing() -> None:
    room = Room(devices=(NIBP,))
    room.nibp(-400.0, 185, 100)
    assert room.engine.nibp_cycle_s(-400.0) == 180
    state = room.state()
    assert (state.nibp.cycle_s, state.nibp.next_due_mono) == (180, -220.0)


def test_a_bp_rise_alone_keeps_the_phase_cycle() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    room.run(at(10), bp={at(5): (165, 96), at(10): (166, 97)})
    assert room.codes() == {"bp.rise"}
    assert room.engine.nibp_cycle_s(room.now) == 300


def test_stat_only_on_an_unconfirmed_severe_reading() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    engine = room.engine
    room.nibp(at(3), 185, 112)
    assert engine.nibp_stat_requested() is False
    room.nibp(at(5), 205, 100)
    assert room.state().nibp.stat_requested is True
    assert engine.take_stat_request() is True
    assert engine.take_stat_request() is False
    room.nibp(at(6), 206, 100)  # confirmed: the 3-min cycle takes over
    assert engine.nibp_stat_requested() is False


def test_stat_can_be_turned_off() -> None:
    policy = AlarmPolicy.model_validate({"bp_severe": {"stat_repeat": False}})
    room = Room(devices=(NIBP,), policy=policy)
    room.prepare()
    room.nibp(at(5), 205, 100)
    assert room.engine.nibp_stat_requested() is False


def test_overdue_counts_from_dose_start_and_clears_on_a_valid_reading() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    room.run(at(8) + 1)
    assert room.alarms() == [Logged(at(8) + 1, "tech.nibp.overdue", "raised", "medium")]
    assert (
        room.state().alarms[0].text
        == "BP overdue: no valid reading for 8 min (cycle 5 min)"
    )
    room.nibp(at(9), 96, 94)  # questionable: not a valid reading
    assert room.state().nibp.overdue is True
    room.nibp(at(10), 120, 80)
    assert room.alarms("tech.nibp.overdue")[-1].transition == "cleared"
    assert room.state().nibp.freshness == "fresh"


def test_no_overdue_without_an_nibp_device_or_after_closing() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(at(30), spo2=97, pr=70)
    assert "tech.nibp.overdue" not in room.codes()
    room = Room(devices=(NIBP,))
    room.prepare()
    room.run(at(9))
    room.phase(at(9), "closed", reason="x")
    assert room.alarms("tech.nibp.overdue")[-1].transition == "cleared"
    assert room.state().nibp.next_due_mono is None

"""Operator commands: phase moves, infusion end, acknowledge, pause, reset, others."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roomctl.alarms import AlarmEngine, AlarmPolicy
from roomctl.events import (
    Command,
    CommandVerb,
    Phase,
    PhaseChanged,
    Role,
    Route,
)
from roomctl.readings import Metric
from tests.unit.alarms.room import EPOCH_AT, NIBP, OX, PREP_S, Room, at, steps


def _phases(room: Room) -> list[tuple[float, str, str | None, str]]:
    return [
        (e.occurred_mono, e.phase.value, e.previous and e.previous.value, e.by.value)
        for e in room.events
        if isinstance(e, PhaseChanged)
    ]


def test_full_phase_sequence_is_recorded_with_who_and_when() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    assert room.phase(at(40), "peak") is None
    assert room.phase(at(60), "return") is None
    assert room.phase(at(90), "integration") is None
    assert room.phase(at(101), "closed") is None  # IV: infusion end + 60 min
    assert _phases(room) == [
        (0.0, "dosing", "preparation", "therapist"),
        (at(40), "peak", "dosing", "therapist"),
        (at(60), "return", "peak", "therapist"),
        (at(90), "integration", "return", "therapist"),
        (at(101), "closed", "integration", "therapist"),
    ]
    dosing = next(e for e in room.events if isinstance(e, PhaseChanged))
    assert dosing.occurred_at == EPOCH_AT + timedelta(seconds=PREP_S)
    assert room.state().closed_reason is None


def test_peak_and_return_may_be_skipped() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    assert room.phase(at(30), "integration") is None


@pytest.mark.parametrize(
    ("moves", "target", "refusal"),
    [
        ([], "preparation", "The session is already in preparation."),
        ([], "peak", "Mark the dose (dosing) before moving to peak."),
        ([], "integration", "Mark the dose (dosing) before moving to integration."),
        (["dosing", "peak"], "dosing", ("Phases only move forward: the session is "
         "in peak and cannot go back to dosing.")),
        (["dosing"], "closed", ("The session is in dosing; closing it before "
         "integration needs a reason.")),
        ([], "lunch", "Unknown phase 'lunch'."),
    ],
)  # fmt: skip
def test_refused_moves_change_nothing(
    moves: list[str], target: str, refusal: str
) -> None:
    room = Room(devices=(NIBP,))
    for phase in moves:
        assert room.phase(0.0, phase) is None
    before = room.state(0.0)
    assert room.phase(0.0, target) == refusal
    assert room.state(0.0) == before


def test_closing_before_discharge_ready_needs_a_reason() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    room.phase(at(30), "integration")
    assert room.phase(at(31), "closed") == (
        "The patient is not discharge-ready: Minimum monitoring runs until "
        "+100 min (69 min to go). Closing now needs a reason."
    )
    assert room.phase(at(31), "closed", reason="transferred to the ED") is None
    state = room.state()
    assert (state.phase, state.closed_reason) == ("closed", "transferred to the ED")
    assert room.engine.nibp_cycle_s(state.now_mono) is None


def test_an_aborted_session_closes_from_preparation_with_a_reason() -> None:
    room = Room(devices=(NIBP,))
    assert room.phase(0.0, "closed", reason="patient declined") is None
    assert _phases(room) == [(0.0, "closed", "preparation", "therapist")]


def test_a_phase_command_without_by_is_recorded_as_system() -> None:
    room = Room(devices=(NIBP,))
    assert room.command(CommandVerb.PHASE, 0.0, by=None, phase="dosing") is None
    assert _phases(room) == [(0.0, "dosing", "preparation", "system")]


def test_infusion_end_moves_the_timeline() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    assert room.command(CommandVerb.INFUSION_END, at(35)) is None
    state = room.state()
    assert (state.infusion_end_mono, state.infusion_end_recorded) == (at(35), True)
    assert state.discharge.earliest_mono == at(95)
    assert room.command(CommandVerb.INFUSION_END, at(36)) == (
        "The infusion end was already recorded at +35 min."
    )


@pytest.mark.parametrize(
    ("route", "dose", "close", "refusal"),
    [
        (Route.NASAL, True, False, ("Infusion end applies to IV sessions only; "
         "this one is nasal.")),
        (Route.IV, False, False, "No dose has been given yet."),
        (Route.IV, True, True, "The session is closed."),
    ],
)  # fmt: skip
def test_infusion_end_refusals(
    route: Route, dose: bool, close: bool, refusal: str
) -> None:
    room = Room(devices=(NIBP,), route=route)
    if dose:
        room.phase(0.0, "dosing")
    if close:
        room.phase(1.0, "closed", reason="x")
    assert room.command(CommandVerb.INFUSION_END, 2.0) == refusal


def test_other_verbs_are_left_to_their_components() -> None:
    room = Room(devices=(NIBP,))
    before = room.state(0.0)
    for verb in (CommandVerb.NOTE, CommandVerb.NIBP_START, CommandVerb.MUSIC):
        assert room.command(verb, 0.0, text="x") is None
    assert room.events == []
    assert room.state(0.0) == before


def test_acknowledge_reset_and_pause_through_the_engine() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(200, spo2=78, pr=72)
    assert room.command(CommandVerb.ACKNOWLEDGE, 200, code="bp.high") == (
        "There is no active alarm bp.high."
    )
    assert room.command(CommandVerb.ACKNOWLEDGE, 200, code=7) is None  # all
    acknowledged = [a for a in room.alarms() if a.transition == "acknowledged"]
    assert [a.code for a in acknowledged] == ["spo2.desat", "spo2.low"]
    assert room.command(CommandVerb.RESET, 200) == (
        "Reset needs the code of the alarm to reset."
    )
    assert room.command(CommandVerb.AUDIO_PAUSE, 200, by=Role.THERAPIST) is None
    audio = room.state().audio
    assert (audio.paused_by, audio.pause_remaining_s) == (Role.THERAPIST, 120.0)


def test_time_never_runs_backwards_inside_the_engine() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(100, spo2=steps((0, 97), (95, 84)), pr=72)
    assert [a.code for a in room.alarms()] == ["spo2.desat"]
    # A late caller: taken as t = 100, so nothing is undone or raised twice.
    assert room.engine.tick(50.0) == []
    assert room.engine.snapshot(100.0).alarms[0].raised_mono == 100.0


def test_unknown_device_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown device categories: capnograph"):
        AlarmEngine(
            AlarmPolicy(),
            route=Route.IV,
            infusion_min=40,
            epoch_mono=0.0,
            epoch_at=EPOCH_AT,
            devices={"co2": "capnograph"},
        )


def test_readings_from_a_device_of_another_category_are_ignored() -> None:
    room = Room(devices=(OX, NIBP))
    room.prepare()
    room.reading(Metric.SPO2_PERCENT, 0.0, 70, device=NIBP)
    room.nibp(0.5, 250, 130, device=OX)
    room.reading(Metric.PERFUSION_INDEX, 1.0, 0.1)
    assert room.alarms() == []


def test_engine_command_outcome_is_a_pair() -> None:
    engine = Room(devices=(NIBP,)).engine
    command = Command(
        occurred_mono=0.0,
        occurred_at=EPOCH_AT,
        verb=CommandVerb.PHASE,
        args={"phase": "dosing"},
        by=Role.NURSE,
    )
    events, refusal = engine.apply(command, 0.0)
    assert refusal is None
    # No pre-dose readings: the baseline is missing from dose start.
    assert [type(e).__name__ for e in events] == ["PhaseChanged", "AlarmChanged"]
    assert engine.snapshot(0.0).phase is Phase.DOSING

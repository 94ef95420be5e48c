"""Transient-rise episodes (BP, HR) and discharge-ready."""

from __future__ import annotations

import pytest

from roomctl.alarms import AlarmPolicy
from roomctl.events import CommandVerb, EpisodeChanged, Route
from tests.unit.alarms.room import NIBP, OX, Room, at, steps


def _episode_events(room: Room) -> list[EpisodeChanged]:
    return [e for e in room.events if isinstance(e, EpisodeChanged)]


def test_bp_episode_records_baseline_peak_and_confirming_readings() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    readings = [(5, 150, 90), (10, 162, 98), (15, 158, 101), (20, 150, 92)]
    room.run(at(21), bp={at(m): (s, d) for m, s, d in readings})
    # 150/90 is below +40/+25: the episode opens on 162/98.
    [opened] = _episode_events(room)
    assert (opened.transition, opened.episode_id, opened.baseline) == (
        "opened",
        1,
        {"sbp": 120, "dbp": 75},
    )
    assert (opened.peak, opened.peak_t) == ({"sbp": 162, "dbp": 98}, at(10))
    [view] = room.state().episodes
    assert view.confirming_readings == 1  # 158/101 crossed again; 150/92 did not
    assert view.text == "ketamine BP response: peak 162/98 at +10 min, resolving"
    assert view.open is True


def test_bp_episode_closes_on_normal_readings_below_140_90() -> None:
    # Example 2's readings with the +60 reading the 5-min cycle would take: 139/87
    # is not within baseline +20/+10 (140/85) but is below 140/90, so it resolves.
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    readings = [(35, 165, 96), (40, 168, 100), (60, 139, 87), (65, 133, 84)]
    bp = {at(m): (s, d) for m, s, d in readings}
    bp |= {at(m): (160, 95) for m in (45, 50, 55)}
    room.run(at(66), bp=bp)
    assert room.episodes()[-1] == (at(65), "bp", "closed")


def test_bp_episode_without_a_baseline_opens_on_absolute_crossings_only() -> None:
    room = Room(devices=(NIBP,))
    room.run(0)
    room.phase(0.0, "dosing")
    readings = [(5, 178, 108), (8, 181, 100), (11, 145, 95), (14, 139, 89)]
    room.run(at(15), bp={at(m): (s, d) for m, s, d in readings})
    assert room.state().discharge.reasons[1] == (
        "The BP response episode is still open; it closes after 2 readings "
        "< 140/90 at least 5 min apart."
    )
    room.run(
        at(20) + 1, bp={at(m): (s, d) for m, s, d in readings} | {at(20): (130, 80)}
    )
    assert room.episodes() == [(at(8), "bp", "opened"), (at(20), "bp", "closed")]
    [view] = room.state().episodes
    assert view.baseline == {}
    assert "bp.rise" not in room.codes()


def test_a_new_crossing_after_closing_opens_episode_2() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    readings = [(5, 165, 96), (10, 130, 80), (15, 130, 80), (20, 166, 97)]
    room.run(at(21), bp={at(m): (s, d) for m, s, d in readings})
    assert [(e.transition, e.episode_id) for e in _episode_events(room)] == [
        ("opened", 1),
        ("closed", 1),
        ("opened", 2),
    ]


def test_hr_episode_opens_updates_in_steps_and_closes() -> None:
    room = Room(devices=(OX,))
    room.prepare(hr=75)
    hr = steps((0, 75), (100, 112), (200, 114), (210, 118), (400, 85))
    room.run(700, spo2=97, pr=hr)
    events = [
        (e.occurred_mono, e.transition.value, e.peak) for e in _episode_events(room)
    ]
    assert events == [
        (105, "opened", {"hr": 112}),  # the median crossed max(75 + 30, 110)
        # 114 and the median's 116 were < 5 bpm above the reported 112.
        (215, "updated", {"hr": 118}),
        (525, "closed", {"hr": 118}),  # <= 90 (baseline + 15) and < 120 for 120 s
    ]
    assert room.state().episodes[0].text == (
        "ketamine HR response: peak 118 bpm at +4 min, resolved at +9 min"
    )


def test_hr_episode_without_baseline_and_a_gap_restarts_its_close() -> None:
    room = Room(devices=(OX,))
    room.run(0)
    room.phase(0.0, "dosing")
    hr = steps((0, 75), (100, 135), (200, 100), (230, None), (240, 100))
    room.run(250, spo2=97, pr=hr)
    assert room.state().discharge.reasons[1] == (
        "The HR response episode is still open; it closes after HR < 120 bpm for 60 s."
    )
    room.run(400, spo2=97, pr=hr)
    assert room.episodes() == [(105.0, "hr", "opened"), (300.0, "hr", "closed")]
    assert "hr.rise" not in room.codes()


def test_discharge_reasons_in_words() -> None:
    room = Room(devices=(OX,), route=Route.NASAL)
    assert room.state(0.0).discharge.reasons == ("No dose has been given yet.",)
    room.prepare(hr=75)
    room.run(300, spo2=97, pr=steps((0, 75), (100, 120)))
    reasons = room.state().discharge.reasons
    assert reasons == (
        "Minimum monitoring runs until +120 min (115 min to go).",
        (
            "The HR response episode is still open; it closes after HR <= 90 and "
            "< 120 bpm for 120 s."
        ),
    )


def test_discharge_waits_for_latched_alarms_and_iv_counts_from_infusion_end() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(200, spo2=steps((0, 97), (100, 79), (110, 97)), pr=72)
    room.command(CommandVerb.INFUSION_END, 300.0)
    state = room.state(at(65, 5))
    assert state.discharge.earliest_mono == 300 + at(60)
    assert state.discharge.reasons == ("spo2.desat is latched; reset it first.",)
    room.command(CommandVerb.RESET, 200.0, code="spo2.desat")
    assert room.state(at(65, 5)).discharge.ready is True


@pytest.mark.parametrize(
    ("route", "minutes"),
    [(Route.NASAL, 120), (Route.IM, 90), (Route.ORAL, 150), (Route.IV, 100)],
)
def test_minimum_monitoring_per_route(route: Route, minutes: float) -> None:
    policy = AlarmPolicy.model_validate(
        {"discharge": {"im_after_dose_min": 90, "oral_after_dose_min": 150}}
    )
    room = Room(devices=(NIBP,), route=route, policy=policy)
    room.prepare()
    assert room.state().discharge.earliest_mono == at(minutes)
    assert room.state(at(minutes) - 1).discharge.ready is False
    assert room.state(at(minutes)).discharge.ready is True


def test_active_alarms_do_not_block_when_the_clinic_says_so() -> None:
    policy = AlarmPolicy.model_validate({"discharge": {"require_no_alarms": False}})
    room = Room(devices=(OX,), policy=policy)
    room.prepare()
    room.run(200, spo2=steps((0, 97), (100, 79), (110, 97)), pr=72)
    assert room.state(at(101)).discharge.ready is True

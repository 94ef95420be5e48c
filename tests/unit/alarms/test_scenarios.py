"""The worked examples of alarm-policy.md (1-6) and alarm-research.md §6 (7-12).

Conventions of the examples: t = 0 is dose start; the infusion runs 0-40 min; NIBP every
5 min until +60, then every 15 min, every 3 min while a BP rule is active; SpO2 and PR
at 1 Hz; unlisted values interpolated. The engine is ticked every second, and every
expected event is asserted with its exact time (the policy allows 2 s of processing;
the engine decides in the same second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.events import CommandVerb, Role, Route
from roomctl.readings import Metric, ReadingStatus
from tests.unit.alarms.room import NIBP, OX, Logged, Room, at, linear, steps

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tests.unit.alarms.room import Sample


def _cycle(
    points: Sequence[tuple[float, float, float]], minutes: Sequence[float]
) -> dict[float, tuple[float, float]]:
    """NIBP readings at ``minutes``, interpolated through ``(min, sbp, dbp)`` points."""
    sbp = linear(*[(at(m), s) for m, s, _ in points])
    dbp = linear(*[(at(m), d) for m, _, d in points])
    return {at(m): (sbp(at(m)), dbp(at(m))) for m in minutes}


def test_example_1_typical_transient_raises_nothing() -> None:
    room = Room()
    room.prepare(sbp=124, dbp=78, hr=72, spo2=98)
    points = [(0, 124, 78), (20, 132, 84), (35, 140, 88), (40, 141, 89)]
    points += [(55, 130, 82), (70, 126, 79)]
    bp = _cycle(points, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 70])
    hr = linear((0, 72), (at(30), 88), (at(60), 74))
    room.run(at(75), spo2=98, pr=hr, bp=bp)

    assert room.alarms() == []
    assert room.episodes() == []
    state = room.state()
    # The trend view marks the peak for information only.
    assert state.peaks.bp == {"sbp": 141, "dbp": 89}
    assert state.peaks.bp_t == at(40)
    assert state.peaks.hr_bpm == 88


def test_example_2_large_transient_is_a_low_advisory_resolving_at_80() -> None:
    # The listed readings, with the 5-min cycle interpolated until +55. The cycle
    # turns to 15 min at +60 (infusion end + 20), so the next reading is the listed
    # +65. (A reading at +60 would be 139/87, below 140/90, and close the episode at
    # +65 by the table's "or both < 140/90": see test_episodes.)
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    points = [(0, 120, 75), (35, 165, 96), (40, 168, 100), (50, 150, 92)]
    points += [(65, 133, 84), (80, 128, 80)]
    bp = _cycle(points, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 65, 80])
    room.run(at(85), bp=bp)

    assert room.alarms() == [
        Logged(at(40), "bp.rise", "raised", "low"),
        Logged(at(80), "bp.rise", "cleared", "low"),
    ]
    assert room.episodes() == [
        (at(35), "bp", "opened"),
        (at(40), "bp", "updated"),
        (at(80), "bp", "closed"),
    ]
    episode = room.state().episodes[0]
    assert episode.text == (
        "ketamine BP response: peak 168/100 at +40 min, resolved at +80 min"
    )
    assert episode.confirming_readings == 1


def test_example_3_confirmed_hypertension_escalates_reminds_and_clears() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=138, dbp=88)
    points = [(0, 138, 88), (30, 184, 112), (33, 188, 114), (36, 186, 110)]
    points += [(39, 165, 100), (42, 160, 96)]
    bp = _cycle(points, [5, 10, 15, 20, 25, 30, 33, 36, 39, 42])
    room.run(at(30), bp=bp)
    # The first reading asks for a repeat within 3 min.
    assert room.engine.nibp_cycle_s(room.now) == 180
    room.run(at(34) - 1, bp=bp)
    assert room.command(CommandVerb.ACKNOWLEDGE, at(34), code="bp.high") is None
    room.run(at(45), bp=bp)

    assert room.alarms() == [
        Logged(at(30), "bp.high", "raised", "low"),
        Logged(at(33), "bp.high", "escalated", "medium"),
        Logged(at(34), "bp.high", "acknowledged", "medium"),
        Logged(at(37), "bp.high", "reminded", "medium"),
        Logged(at(40), "bp.high", "reminded", "medium"),
        Logged(at(42), "bp.high", "cleared", "medium"),
    ]
    escalated = room.alarm_events("bp.high")[1]
    assert escalated.text == "BP 188/114 >= 180/110"
    assert (escalated.value, escalated.limit) == ("188/114", "180/110")
    acknowledged = [e for e in room.events if getattr(e, "by", None) is Role.NURSE]
    assert len(acknowledged) == 1
    assert room.engine.nibp_cycle_s(room.now) == 300


def test_example_4_severe_hypertension_latches_and_breaks_through_pause() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=130, dbp=80)
    bp = _cycle([(0, 130, 80), (20, 130, 80)], [5, 10, 15, 20])
    bp[at(25)] = (205, 122)
    bp[at(27)] = (208, 125)
    bp |= _cycle([(27, 208, 125), (45, 150, 90)], [30, 33, 36, 39, 42, 45])
    room.run(at(25), bp=bp)
    assert room.engine.take_stat_request() is True  # STAT repeat at once
    assert room.engine.nibp_stat_requested() is False
    room.run(at(26) - 1, bp=bp)
    assert room.command(CommandVerb.AUDIO_PAUSE, at(26)) is None
    assert room.state().audio.sounding is False
    room.run(at(27), bp=bp)
    audio = room.state().audio
    assert audio.sounding_codes == ("bp.severe",)
    assert audio.paused_until_mono is None
    room.run(at(46), bp=bp)

    assert room.alarms() == [
        Logged(at(25), "bp.severe", "raised", "medium"),
        Logged(at(27), "bp.severe", "escalated", "high"),
        Logged(at(29), "bp.severe", "reminded", "high"),  # volume up
    ]
    # 169/102 at +39 and 160/96 at +42 ended the condition; the HIGH stays latched.
    [alarm] = room.state().alarms
    assert (alarm.code, alarm.priority, alarm.latched) == ("bp.severe", "high", True)
    assert alarm.condition_present is False
    assert room.command(CommandVerb.RESET, at(46), code="bp.severe") is None
    assert room.alarms()[-1] == Logged(at(46), "bp.severe", "reset", "high")
    assert room.state().alarms == ()


def test_example_5_nibp_artifacts_are_questionable_and_excluded() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=130, dbp=80)
    room.run(at(15) - 1, bp=_cycle([(0, 130, 80), (10, 130, 80)], [5, 10]))
    room.nibp(at(15), 96, 94)  # pulse pressure 2
    room.run(at(16) - 1)
    # 240/60 with the device's error flag: an error carries no numbers.
    room.nibp(at(16), None, None, status=ReadingStatus.DEVICE_ERROR, error_code=88)
    room.run(at(18) - 1)
    room.nibp(at(18), 130, 80)
    room.run(at(20))

    assert room.alarms() == [
        Logged(at(15), "tech.nibp.questionable", "raised", "low"),
        Logged(at(16), "tech.nibp.questionable", "escalated", "medium"),
        Logged(at(18), "tech.nibp.questionable", "cleared", "medium"),
    ]
    assert room.episodes() == []
    assert room.state().peaks.bp == {"sbp": 130, "dbp": 80}


def test_example_6_spo2_motion_artifact_is_a_short_low_technical() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    noisy = ReadingStatus.ARTIFACT
    spo2 = steps((0, 97), (at(12), noisy), (at(12, 6), 97))
    pr = steps((0, 60), (at(12), noisy), (at(12, 6), 60))
    room.run(at(14), spo2=spo2, pr=pr)

    assert room.alarms() == [
        Logged(at(12), "tech.spo2.signal", "raised", "low"),
        Logged(at(12, 16), "tech.spo2.signal", "cleared", "low"),
    ]
    raised = room.alarm_events("tech.spo2.signal")[0]
    assert raised.text == "SpO2 noisy"


def _desaturation(t: float) -> float:
    # From +20:00 SpO2 falls 1 point every 5 s from 97 to 84, stays 90 s, then 95.
    if t < at(20):
        return 97
    if t < at(21, 5):
        return 97 - (t - at(20)) // 5
    return 84 if t < at(22, 35) else 95


def test_scenario_7_true_desaturation_medium_then_latched_high() -> None:
    room = Room(devices=(OX,))
    room.prepare(spo2=97)
    room.run(at(23, 20), spo2=_desaturation, pr=72)

    assert room.alarms() == [
        # 89 first at +20:40; the integral reaches 5+10+15+20 = 50 %·s at +21:00.
        Logged(at(21), "spo2.low", "raised", "medium"),
        # 84 first at +21:05; desat 5 s later. It latches.
        Logged(at(21, 10), "spo2.desat", "raised", "high"),
        Logged(at(23), "spo2.low", "reminded", "medium"),  # volume up
        Logged(at(23, 5), "spo2.low", "cleared", "medium"),  # 95 for 30 s
        Logged(at(23, 10), "spo2.desat", "reminded", "high"),  # volume up
    ]
    [desat] = room.state().alarms
    assert (desat.code, desat.latched, desat.condition_present) == (
        "spo2.desat",
        True,
        False,
    )
    assert room.command(CommandVerb.RESET, at(23, 20), code="spo2.desat") is None
    assert room.state().alarms == ()


def test_scenario_7_desat_reset_refused_while_present() -> None:
    room = Room(devices=(OX,))
    room.prepare(spo2=97)
    room.run(at(23), spo2=_desaturation, pr=72)
    refusal = room.command(CommandVerb.RESET, at(23), code="spo2.desat")
    assert refusal == (
        "spo2.desat is still present; it can be reset once SpO2 >= 92 % for 30 s, "
        "then reset."
    )


def test_scenario_8_brief_dips() -> None:
    room = Room(devices=(OX,))
    room.prepare(spo2=97)
    single = [(at(10), 89), (at(10, 8), 97)]
    triple = [
        (at(12) + start + offset, value)
        for start in (0, 20, 40)
        for offset, value in ((0, 88), (3, 97))
    ]
    room.run(at(14), spo2=steps((0, 97), *single, *triple), pr=70)

    assert room.alarms() == [
        # The single 8 s dip (8 %·s) raised nothing; the third dip within 60 s does.
        Logged(at(12, 40), "spo2.low", "raised", "medium"),
        Logged(at(12, 43 + 30), "spo2.low", "cleared", "medium"),
    ]
    raised = room.alarm_events("spo2.low")[0]
    assert raised.text == "SpO2 88 % < 90 (3 dips below 90 within 60 s)"


def _tachycardia() -> Callable[[float], Sample]:
    return steps(
        (0, 75),
        (at(25), 118),
        (at(28), 135),  # a 20 s spike
        (at(28, 20), 118),
        (at(33), 135),  # sustained 45 s
        (at(33, 45), 155),  # 15 s
        (at(34), 100),
    )


def test_scenario_9_ketamine_tachycardia() -> None:
    room = Room(devices=(OX,))
    room.prepare(hr=75, spo2=98)
    room.run(at(36), spo2=98, pr=_tachycardia())

    assert room.alarms() == [
        Logged(at(26), "hr.rise", "raised", "low"),  # 118 for 60 s: advisory only
        Logged(at(33, 30), "hr.high", "raised", "medium"),  # 135 for 30 s
        Logged(at(34), "hr.high", "escalated", "high"),  # 155 for 15 s
        Logged(at(36), "hr.high", "reminded", "high"),  # volume up, unacknowledged
    ]
    hr_high = next(a for a in room.state(at(35)).alarms if a.code == "hr.high")
    # Back to 100 for 60 s: the condition has cleared; the HIGH stays latched.
    assert (hr_high.latched, hr_high.condition_present) == (True, False)
    assert hr_high.text == "HR 155 bpm >= 150"
    assert room.command(CommandVerb.RESET, at(36), code="hr.high") is None


def test_scenario_9_reset_refused_until_hr_settled() -> None:
    room = Room(devices=(OX,))
    room.prepare(hr=75, spo2=98)
    room.run(at(34, 30), spo2=98, pr=_tachycardia())
    refusal = room.command(CommandVerb.RESET, at(34, 30), code="hr.high")
    assert refusal == (
        "hr.high is still present; it can be reset once HR < 120 bpm for 60 s, "
        "then reset."
    )


def test_scenario_10_lost_data_stream() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    spo2 = steps((0, 97), (at(20) + 1, None), (at(21), 97))
    pr = steps((0, 70), (at(20) + 1, None), (at(21), 70))
    room.run(at(22), spo2=spo2, pr=pr)

    assert room.alarms() == [
        Logged(at(20, 10), "tech.spo2.data_lost", "raised", "low"),
        Logged(at(20, 15), "tech.spo2.data_lost", "escalated", "medium"),  # infusion
        Logged(at(21, 5), "tech.spo2.data_lost", "cleared", "medium"),
    ]
    cleared = room.alarm_events()[-1]
    assert cleared.text == "SpO2/PR data lost for 60 s: resolved"  # the gap, logged


def test_scenario_11_nibp_overdue_and_stale_value() -> None:
    room = Room(devices=(NIBP,))
    room.prepare(sbp=120, dbp=75)
    # The +10 reading is a first relative crossing; it must never count twice.
    room.run(at(19, 59), bp={at(5): (125, 78), at(10): (165, 101)})
    assert room.state().nibp.freshness == "fresh"
    room.run(at(20))
    assert room.state().nibp.freshness == "grey"  # 2 x the 5-min interval
    room.run(at(70))
    assert room.state().nibp.freshness == "invalid"  # 60 min old

    assert room.alarms() == [
        Logged(at(18) + 1, "tech.nibp.overdue", "raised", "medium"),
        Logged(at(20) + 1, "tech.nibp.overdue", "reminded", "medium"),  # volume up
    ]
    assert room.state().nibp.overdue is True


def test_scenario_12a_desat_sounds_despite_acknowledged_bp_alarm() -> None:
    room = Room()
    room.prepare(sbp=138, dbp=88, spo2=97)
    points = [(0, 138, 88), (30, 184, 112), (33, 188, 114)]
    bp = _cycle(points, [5, 10, 15, 20, 25, 30, 33])
    spo2 = steps((0, 97), (at(35), 78))
    room.run(at(34) - 1, spo2=spo2, pr=70, bp=bp)
    assert room.command(CommandVerb.ACKNOWLEDGE, at(34), code="bp.high") is None
    room.run(at(35), spo2=spo2, pr=70, bp=bp)

    assert room.alarms(since=at(34)) == [
        Logged(at(34), "bp.high", "acknowledged", "medium"),
        Logged(at(35), "spo2.desat", "raised", "high"),
    ]
    audio = room.state().audio
    assert audio.sounding_codes == ("spo2.desat",)
    assert audio.silenced_codes == ("bp.high",)


def test_scenario_12b_nasal_episode_gates_discharge_and_escalates() -> None:
    room = Room(devices=(NIBP,), route=Route.NASAL)
    room.prepare(sbp=118, dbp=74)
    points = [(0, 118, 74), (35, 162, 100), (40, 165, 102), (120, 150, 95)]
    points += [(125, 128, 80), (130, 128, 80)]
    minutes = [*range(5, 61, 5), 75, 90, 105, 120, 125, 130]
    bp = _cycle(points, minutes)
    room.run(at(120), bp=bp)

    state = room.state()
    assert [e.open for e in state.episodes] == [True]
    assert state.discharge.ready is False
    assert state.discharge.reasons == (
        (
            "The BP response episode is still open; it closes after 2 readings "
            "<= 138/84 (or < 140/90) at least 5 min apart."
        ),
        "bp.rise is active.",
    )
    assert room.alarms() == [
        Logged(at(40), "bp.rise", "raised", "low"),
        Logged(at(120), "bp.rise", "escalated", "medium"),
    ]
    assert state.alarms[0].text == (
        "BP not resolved: 150/95 (+32/+21 over baseline 118/74)"
    )

    room.run(at(131), bp=bp)
    assert room.episodes() == [
        (at(35), "bp", "opened"),
        (at(40), "bp", "updated"),
        (at(130), "bp", "closed"),
    ]
    assert room.alarms(since=at(121)) == [
        Logged(at(122), "bp.rise", "reminded", "medium"),  # volume up
        Logged(at(130), "bp.rise", "cleared", "medium"),
    ]
    assert room.state().discharge.ready is True


def test_elevated_predose_baseline_is_a_low_advisory_without_gating() -> None:
    room = Room(devices=(NIBP,))
    room.run(-1, bp={-540.0: (148, 94), -300.0: (146, 92)})
    assert room.alarms() == [Logged(-300.0, "bp.predose_high", "raised", "low")]
    assert room.state().alarms[0].text == (
        "Pre-dose BP 147/93 > 140/90: prescriber review"
    )
    assert room.phase(0.0, "dosing") is None


def test_out_of_order_and_duplicate_frames_do_not_reset_timers() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(at(1), spo2=97, pr=70)
    for t in range(int(at(1)) + 1, int(at(1)) + 8):
        room.spo2(float(t), 84)
        room.spo2(float(t), 84)  # a duplicate in the same chunk
        room.reading(Metric.SPO2_PERCENT, float(t), 97, received=float(t) - 3)
        room.pr(float(t), 70)
        room.tick(float(t))
    assert room.alarms() == [Logged(at(1, 6), "spo2.desat", "raised", "high")]

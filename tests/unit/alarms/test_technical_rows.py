"""Technical rows: oximeter signal quality, SpO2/PR data freshness, links, baseline."""

from __future__ import annotations

import pytest

from roomctl.alarms import AlarmPolicy
from roomctl.events import CommandVerb
from roomctl.readings import LinkState, ReadingStatus
from tests.unit.alarms.room import NIBP, OX, Logged, Room, at, lost, steps

SIGNAL = "tech.spo2.signal"
DATA = "tech.spo2.data_lost"


def _no_reminders(room: Room, code: str) -> list[tuple[float, str, str]]:
    return [
        (a.t, a.transition, a.priority)
        for a in room.alarms(code)
        if a.transition != "reminded"
    ]


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (ReadingStatus.SENSOR_OFF, "SpO2 sensor off"),
        (ReadingStatus.SEARCHING, "SpO2 searching for pulse"),
        (ReadingStatus.LOW_PERFUSION, "SpO2 low perfusion"),
        (ReadingStatus.ARTIFACT, "SpO2 noisy"),
        (ReadingStatus.QUESTIONABLE, "SpO2 signal questionable"),
    ],
)
def test_signal_low_at_once_medium_after_30_s(status: ReadingStatus, text: str) -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(200, spo2=steps((0, 97), (100, status)), pr=72)
    assert _no_reminders(room, SIGNAL) == [
        (100, "raised", "low"),
        (130, "escalated", "medium"),
    ]
    assert room.state().alarms[0].text == f"{text} for 100 s"


def test_signal_clears_after_valid_signal_for_10_s() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    noisy = ReadingStatus.ARTIFACT
    spo2 = steps((0, 97), (100, noisy), (105, 97), (108, noisy), (110, 97))
    room.run(200, spo2=spo2, pr=72)
    assert _no_reminders(room, SIGNAL) == [
        (100, "raised", "low"),
        (120, "cleared", "low"),
    ]


def test_signal_on_pr_only_counts_too_and_unavailable_does_not_clear() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    pr = steps((0, 72), (100, ReadingStatus.SEARCHING), (110, 72))
    spo2 = steps((0, 97), (105, ReadingStatus.UNAVAILABLE), (130, 97))
    room.run(200, spo2=spo2, pr=pr)
    # PR valid from 110, but SpO2 frames carry no value until 130: not live, so the
    # 10 s of valid signal start at 130. No flag after 110: no escalation.
    assert _no_reminders(room, SIGNAL) == [
        (100, "raised", "low"),
        (140, "cleared", "low"),
    ]


def test_signal_escalates_after_60_s_while_the_cuff_inflates() -> None:
    room = Room(devices=(OX, NIBP))
    room.prepare()
    noisy = ReadingStatus.ARTIFACT
    for t in range(1, 200):
        room.spo2(float(t), noisy if 100 <= t < 170 else 97)
        room.pr(float(t), 72)
        if 100 <= t < 150:
            room.cuff(float(t), 120.0)  # inflating
        elif t == 150:
            room.cuff(float(t), 5.0)  # deflated
        room.tick(float(t))
    assert _no_reminders(room, SIGNAL) == [
        (100, "raised", "low"),
        # Not at 130: the cuff was inflating until 149 (+5 s counts as inflating).
        (155, "escalated", "medium"),
        (180, "cleared", "medium"),
    ]


def test_cuff_on_the_other_limb_does_not_extend() -> None:
    policy = AlarmPolicy.model_validate({"spo2_signal": {"nibp_same_limb": False}})
    room = Room(devices=(OX, NIBP), policy=policy)
    room.prepare()
    for t in range(1, 140):
        room.spo2(float(t), ReadingStatus.ARTIFACT if t >= 100 else 97)
        room.cuff(float(t), 120.0)
        room.tick(float(t))
    assert _no_reminders(room, SIGNAL) == [
        (100, "raised", "low"),
        (130, "escalated", "medium"),
    ]


def test_data_lost_outside_infusion_escalates_at_30_s() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(at(60), spo2=97, pr=70)
    room.run(at(62))
    assert _no_reminders(room, DATA) == [
        (at(60, 10), "raised", "low"),
        (at(60, 30), "escalated", "medium"),
    ]


def test_data_lost_before_any_frame_counts_from_engine_start() -> None:
    room = Room(devices=(OX,))
    room.run(-590)
    assert room.alarms(DATA) == [Logged(-590.0, DATA, "raised", "low")]


def test_data_lost_clear_needs_5_s_without_gaps() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    spo2 = steps(
        (0, 97), (at(20) + 1, None), (at(21), 97), (at(21, 2), None), (at(21, 8), 97)
    )
    room.run(at(22), spo2=spo2, pr=70)
    assert _no_reminders(room, DATA) == [
        (at(20, 10), "raised", "low"),
        (at(20, 15), "escalated", "medium"),
        (at(21, 13), "cleared", "medium"),
    ]


def test_flagged_frames_keep_the_stream_fresh() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.run(200, spo2=steps((0, 97), (100, ReadingStatus.SENSOR_OFF)), pr=None)
    assert DATA not in room.codes()


def test_no_data_lost_without_an_oximeter() -> None:
    room = Room(devices=(NIBP,))
    room.run(0)
    assert DATA not in room.codes()


def test_no_false_physiological_alarm_while_data_is_lost() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    # The last values before the gap were low; nothing is judged on them after it.
    spo2 = steps((0, 97), (100, 86), (102, None))
    room.run(300, spo2=spo2, pr=steps((0, 72), (100, 140), (102, None)))
    assert room.codes() == {DATA}


def test_link_lost_10_s_medium_clears_after_10_s_healthy() -> None:
    room = Room(devices=(OX, NIBP))
    room.prepare()
    lost(room, 100.0, NIBP)
    room.run(109, spo2=97, pr=70)
    assert room.alarms("tech.link.nibp") == []
    room.run(110, spo2=97, pr=70)
    room.link(150.0, LinkState.UP, NIBP)
    room.run(170, spo2=97, pr=70)
    assert room.alarms("tech.link.nibp") == [
        Logged(110.0, "tech.link.nibp", "raised", "medium"),
        Logged(160.0, "tech.link.nibp", "cleared", "medium"),
    ]


def test_link_flapping_under_10_s_raises_nothing() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    for t in (100.0, 120.0):
        room.link(t, LinkState.LOST)
        room.run(t + 5, spo2=97, pr=70)
        room.link(t + 5, LinkState.UP)
    room.run(200, spo2=97, pr=70)
    assert room.alarms("tech.link.oximeter") == []


def test_link_texts_and_an_unknown_device() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.link(100.0, LinkState.LOST, "capnograph")
    room.run(110, spo2=97, pr=70)
    [alarm] = [a for a in room.state().alarms if a.code == "tech.link.capnograph"]
    assert alarm.text == "capnograph: link lost"


def test_a_stale_stream_with_the_port_open_is_data_lost_not_a_link_fault() -> None:
    # alarm-research.md §6 scenario 10: a stream that stops with the port open raises
    # tech.spo2.data_lost only; the link row names a closed port and parse errors.
    room = Room(devices=(OX,))
    room.prepare()
    room.link(100.0, LinkState.STALE)
    room.run(100, spo2=97, pr=70)
    room.run(140)  # no frames: the stream has stopped
    assert room.alarms("tech.link.oximeter") == []
    assert [a.transition for a in room.alarms("tech.spo2.data_lost")][:1] == ["raised"]


def test_decoder_errors_above_20_percent_are_unhealthy() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    room.engine.decoder_errors(OX, 0.2, 100.0)  # at the limit: healthy
    room.run(120, spo2=97, pr=70)
    room.events.extend(room.engine.decoder_errors(OX, 0.35, 120.0))
    room.run(140, spo2=97, pr=70)
    room.events.extend(room.engine.decoder_errors(OX, 0.05, 140.0))
    room.run(155, spo2=97, pr=70)
    assert room.alarms("tech.link.oximeter") == [
        Logged(130.0, "tech.link.oximeter", "raised", "medium"),
        Logged(150.0, "tech.link.oximeter", "cleared", "medium"),
    ]
    raised = room.alarm_events("tech.link.oximeter")[0]
    assert raised.text == "oximeter: 35% of frames fail to parse"


def test_baseline_missing_at_dose_start_and_cleared_by_an_override() -> None:
    room = Room()
    room.run(-1, spo2=97, pr=70, bp={-300.0: (120, 75)})  # one NIBP reading only
    room.phase(0.0, "dosing")
    assert room.alarms() == [Logged(0.0, "tech.baseline_missing", "raised", "low")]
    state = room.state()
    assert state.alarms[0].text == "Baseline missing: BP; relative rules for it are off"
    assert state.baseline.missing == ("bp",)
    assert state.baseline.status == "unconfirmed"
    refusal = room.command(
        CommandVerb.BASELINE_CONFIRM, 10.0, sbp=124, dbp=78, reason="manual cuff"
    )
    assert refusal is None
    assert room.alarms()[-1] == Logged(10.0, "tech.baseline_missing", "cleared", "low")
    assert room.state().baseline.values.sbp_mmhg == 124


def test_baseline_missing_only_for_configured_signals() -> None:
    room = Room(devices=(NIBP,))
    room.prepare()
    assert "tech.baseline_missing" not in room.codes()
    room = Room(devices=(OX,))
    room.run(-1)
    room.phase(0.0, "dosing")
    assert room.state().alarms[-1].text == (
        "Baseline missing: HR, SpO2; relative rules for it are off"
    )


RECORD = "tech.record"


def _record(room: Room, t: float, part: str, error: str | None) -> None:
    room.events.extend(room.engine.record_health(part, error, t))


def test_record_failing_5_s_raises_medium_and_clears_once_written_again() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    _record(room, 100.0, "record", "the disk is full")
    room.run(104, spo2=97, pr=70)
    assert room.alarms(RECORD) == []
    room.run(105, spo2=97, pr=70)
    [alarm] = [a for a in room.state().alarms if a.code == RECORD]
    assert alarm.text == "Session record not saved: the disk is full (kept in memory)"
    assert alarm.kind.value == "technical"
    room.run(130, spo2=97, pr=70)
    _record(room, 130.5, "record", None)
    room.run(140, spo2=97, pr=70)
    assert room.alarms(RECORD) == [
        Logged(105.0, RECORD, "raised", "medium"),
        Logged(130.5, RECORD, "cleared", "medium"),
    ]
    assert RECORD not in {a.code for a in room.state().alarms}


def test_a_write_failing_for_a_moment_raises_nothing() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    _record(room, 100.0, "record", "database is locked")
    room.run(103, spo2=97, pr=70)
    _record(room, 103.0, "record", None)
    room.run(200, spo2=97, pr=70)
    assert room.alarms(RECORD) == []


def test_record_and_capture_failing_are_one_alarm_until_both_write_again() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    _record(room, 100.0, "capture", "the disk is full")
    room.run(102, spo2=97, pr=70)
    _record(room, 102.0, "record", "the disk is full")
    _record(room, 103.0, "record", "the disk quota is used up")  # first reason kept
    room.run(110, spo2=97, pr=70)
    [alarm] = [a for a in room.state().alarms if a.code == RECORD]
    assert alarm.text == (
        "Session record and capture file not saved: the disk is full (kept in memory)"
    )
    _record(room, 120.0, "record", None)
    room.run(125, spo2=97, pr=70)
    [alarm] = [a for a in room.state().alarms if a.code == RECORD]
    assert alarm.text == "Capture file not saved: the disk is full (kept in memory)"
    _record(room, 125.0, "capture", None)
    room.run(130, spo2=97, pr=70)
    assert room.alarms(RECORD) == [
        Logged(105.0, RECORD, "raised", "medium"),
        Logged(125.0, RECORD, "cleared", "medium"),
    ]


def test_two_reasons_are_both_said_and_the_alarm_can_be_acknowledged() -> None:
    room = Room(devices=(OX,))
    room.prepare()
    _record(room, 100.0, "record", "the disk is full")
    _record(room, 100.0, "capture", "the disk is read-only")
    room.run(110, spo2=97, pr=70)
    [alarm] = [a for a in room.state().alarms if a.code == RECORD]
    assert alarm.text == (
        "Session record and capture file not saved: the disk is full; the disk is "
        "read-only (kept in memory)"
    )
    assert room.command(CommandVerb.ACKNOWLEDGE, 111.0, code=RECORD) is None
    assert [a.transition for a in room.alarms(RECORD)] == ["raised", "acknowledged"]


def test_a_record_fault_is_policy_and_unknown_parts_are_refused() -> None:
    policy = AlarmPolicy.model_validate({"record": {"delay_s": 0, "priority": "high"}})
    room = Room(devices=(OX,), policy=policy)
    room.prepare()
    _record(room, 100.0, "record", "the disk is full")
    assert room.alarms(RECORD) == [Logged(100.0, RECORD, "raised", "high")]
    with pytest.raises(ValueError, match="unknown part of the record: 'logs'"):
        room.engine.record_health("logs", "the disk is full", 101.0)

from __future__ import annotations

from typing import TYPE_CHECKING

from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    DeviceLost,
    DeviceStale,
    EpisodeChanged,
    EpisodeSignal,
    EpisodeTransition,
    NoteAdded,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
)
from roomctl.eventstream import to_payload, to_wire
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus

if TYPE_CHECKING:
    from roomctl.clock import VirtualClock


def test_wire_alarm_line_has_the_contract_fields(clock: VirtualClock) -> None:
    event = AlarmChanged(
        occurred_mono=0,
        occurred_at=clock.now_utc(),
        transition=AlarmTransition.ESCALATED,
        code="bp.high",
        priority=AlarmPriority.MEDIUM,
        kind=AlarmKind.PHYSIOLOGICAL,
        value="188/114",
        limit="180/110",
        text="BP 188/114 >= 180/110",
    )
    assert to_wire(event, t=1980.12345) == [
        {
            "t": 1980.123,
            "type": "alarm",
            "transition": "escalated",
            "code": "bp.high",
            "priority": "medium",
            "kind": "physiological",
            "value": "188/114",
            "limit": "180/110",
            "text": "BP 188/114 >= 180/110",
        }
    ]


def test_wire_nibp_reading_gives_one_line_per_metric(clock: VirtualClock) -> None:
    nibp = NibpReading(
        device="nibp",
        systolic_mmhg=120,
        diastolic_mmhg=80,
        map_mmhg=93,
        pulse_rate_bpm=70,
        status=ReadingStatus.OK,
        received_mono=0,
        received_at=clock.now_utc(),
    )
    lines = to_wire(
        ReadingReceived(occurred_mono=0, occurred_at=clock.now_utc(), reading=nibp), t=5
    )
    assert [(line["metric"], line["value"]) for line in lines] == [
        ("systolic_mmhg", 120.0),
        ("diastolic_mmhg", 80.0),
        ("map_mmhg", 93.0),
        ("nibp_pulse_rate_bpm", 70.0),
    ]


def test_wire_reading_link_phase_episode(clock: VirtualClock) -> None:
    at = clock.now_utc()
    off = Reading(
        device="ox",
        metric=Metric.SPO2_PERCENT,
        value=None,
        status=ReadingStatus.SENSOR_OFF,
        received_mono=0,
        received_at=at,
    )
    assert to_wire(
        ReadingReceived(occurred_mono=0, occurred_at=at, reading=off), t=1
    ) == [
        {
            "t": 1,
            "type": "reading",
            "dev": "ox",
            "metric": "spo2_percent",
            "value": None,
            "status": "sensor_off",
        }
    ]
    lost = DeviceLost(occurred_mono=0, occurred_at=at, device="ox", reason="unplugged")
    assert to_wire(lost, t=2) == [
        {"t": 2, "type": "link", "dev": "ox", "state": "lost", "reason": "unplugged"}
    ]
    stale = DeviceStale(occurred_mono=0, occurred_at=at, device="ox", silent_s=3)
    assert to_wire(stale, t=3)[0]["state"] == "stale"
    phase = PhaseChanged(
        occurred_mono=0,
        occurred_at=at,
        phase=Phase.DOSING,
        previous=Phase.PREPARATION,
        by=Role.THERAPIST,
    )
    assert to_wire(phase, t=4) == [
        {"t": 4, "type": "phase", "phase": "dosing", "by": "therapist"}
    ]
    episode = EpisodeChanged(
        occurred_mono=0,
        occurred_at=at,
        transition=EpisodeTransition.OPENED,
        signal=EpisodeSignal.BP,
        episode_id=1,
        baseline={"sbp": 120, "dbp": 75},
        peak={"sbp": 165, "dbp": 96},
        peak_t=2100,
        text="BP response: peak 165/96 at +35 min, rising",
    )
    line = to_wire(episode, t=5)[0]
    assert line["peak"] == {"sbp": 165, "dbp": 96}
    assert line["peak_t"] == 2100


def test_payload_is_complete_and_json_ready(clock: VirtualClock) -> None:
    note = NoteAdded(
        occurred_mono=1.5, occurred_at=clock.now_utc(), text="calm", by=Role.NURSE
    )
    assert to_payload(note) == {
        "occurred_mono": 1.5,
        "occurred_at": "2026-11-21T09:00:00Z",
        "text": "calm",
        "by": "nurse",
        "type": "note",
    }
    assert to_wire(note, t=7) == [
        {"t": 7, "text": "calm", "by": "nurse", "type": "note"}
    ]

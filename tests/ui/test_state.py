"""Reading state documents: the real daemon's, odd ones, and the tile of each alarm."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from roomctl.app import Daemon
from roomctl.events import AlarmPriority, Command, CommandVerb, Phase, Role
from roomctl.eventstream import plain
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus
from roomctl.settings import parse_settings
from roomctl.ui.state import Tile, parse_state, tile_alarm, tile_of
from tests.ui.fakes import DESAT, HR_HIGH, room_state

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.clock import VirtualClock


def daemon_state(tmp_path: Path, clock: VirtualClock) -> dict[str, object]:
    """A real ``Daemon``'s snapshot after a dose, a BP reading and a desaturation."""
    settings = parse_settings(
        f'[room]\nname = "r1"\n[record]\npath = "{tmp_path / "rec.sqlite"}"\n'
        "[mqtt]\nenabled = false\n"
        '[devices.oximeter]\nprotocol = "nonin-df2"\nport = "/dev/null-ox"\n'
        '[devices.nibp]\nprotocol = "suntech-advantage"\nport = "/dev/null-bp"\n'
    )
    daemon = Daemon(settings, clock=clock)

    def spo2(value: float) -> None:
        for metric, reading in (
            (Metric.SPO2_PERCENT, value),
            (Metric.PULSE_RATE_BPM, 75),
        ):
            daemon.pipeline.handle(
                Reading(
                    device="oximeter",
                    metric=metric,
                    value=reading,
                    status=ReadingStatus.OK,
                    received_mono=clock.monotonic(),
                    received_at=clock.now_utc(),
                )
            )

    for _ in range(60):
        clock.advance(1)
        spo2(98)
        daemon.tick()
    daemon.handle_command(
        Command(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            verb=CommandVerb.PHASE,
            args={"phase": "dosing"},
            by=Role.THERAPIST,
            source="test",
            command_id="c1",
        )
    )
    daemon.pipeline.handle(
        NibpReading(
            device="nibp",
            systolic_mmhg=150,
            diastolic_mmhg=90,
            map_mmhg=110,
            pulse_rate_bpm=80,
            status=ReadingStatus.OK,
            received_mono=clock.monotonic(),
            received_at=clock.now_utc(),
        )
    )
    for _ in range(12):
        clock.advance(1)
        spo2(82)
        daemon.tick()
    # Through JSON, as MQTT carries it.
    document = json.loads(
        json.dumps(plain(daemon.room_state.snapshot(clock.monotonic())))
    )
    daemon.close()
    assert isinstance(document, dict)
    return document


def test_a_real_daemon_snapshot_parses_completely(
    tmp_path: Path, clock: VirtualClock
) -> None:
    state = parse_state(daemon_state(tmp_path, clock))
    assert state.room == "r1"
    assert state.phase is Phase.DOSING
    assert state.dose_offset_s == pytest.approx(12.0)
    assert state.vitals["spo2_percent"].value == 82
    assert state.vitals["spo2_percent"].live
    assert state.nibp is not None
    assert (state.nibp.sbp, state.nibp.dbp, state.nibp.ok) == (150, 90, True)
    assert state.schedule is not None
    assert state.schedule.freshness == "fresh"
    assert state.baseline is not None
    assert state.baseline.status == "unconfirmed"
    assert state.discharge is not None
    assert not state.discharge.ready
    assert state.discharge.reasons
    assert state.audio is not None
    codes = [alarm.code for alarm in state.alarms]
    assert "spo2.desat" in codes
    top = state.alarms[0]
    assert top.priority is AlarmPriority.HIGH
    assert top.text
    assert top.value
    assert top.limit
    assert top.resolution
    assert tile_alarm(state, Tile.SPO2) is top


def test_the_fixture_state_has_the_daemons_shape(
    tmp_path: Path, clock: VirtualClock
) -> None:
    real = daemon_state(tmp_path, clock)
    fake = room_state(limits=True)

    def shape(doc: object) -> object:
        if isinstance(doc, dict):
            return {k: shape(v) for k, v in doc.items() if k != "alarms"}
        return None

    real_engine, fake_engine = real["engine"], fake["engine"]
    assert isinstance(real_engine, dict)
    assert isinstance(fake_engine, dict)
    assert set(real) <= set(fake)
    assert set(real_engine) == set(fake_engine)
    assert shape(real_engine["baseline"]) == shape(fake_engine["baseline"])
    assert shape(real_engine["audio"]) == shape(fake_engine["audio"])
    assert shape(real_engine["nibp"]) == shape(fake_engine["nibp"])
    real_alarms, fake_alarms = real_engine["alarms"], fake_engine["alarms"]
    assert isinstance(real_alarms, list)
    assert real_alarms
    assert set(real_alarms[0]) == set(DESAT)
    assert fake_alarms == []


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"engine": "nonsense", "vitals": [1, 2], "nibp": 5},
        {"engine": {"alarms": [None, 3, {"priority": "weird"}]}},
        {"vitals": {"spo2_percent": {"value": True, "live": "yes"}}},
        {"music": "off", "lights": {"level": "bright"}},
        {"session_time_s": float("nan"), "at": "yesterday"},
    ],
)
def test_odd_documents_never_raise(document: dict[str, object]) -> None:
    state = parse_state(document, room="x")
    assert state.room == "x"
    for alarm in state.alarms:
        # An unknown priority reads as the highest: never understate an alarm.
        assert alarm.priority is AlarmPriority.HIGH
    spo2 = state.vitals.get("spo2_percent")
    if spo2 is not None:
        assert spo2.value is None  # a boolean is not a number
        assert not spo2.live  # only JSON true is live


def test_alarms_are_ordered_by_priority_then_unacknowledged_then_newest() -> None:
    older = {**HR_HIGH, "code": "hr.low", "raised_mono": 1.0}
    acked = {**DESAT, "code": "spo2.low", "acknowledged": True}
    state = parse_state(room_state(alarms=[older, HR_HIGH, acked, DESAT]))
    assert [a.code for a in state.alarms] == [
        "spo2.desat",
        "spo2.low",
        "hr.high",
        "hr.low",
    ]


@pytest.mark.parametrize(
    ("code", "tiles"),
    [
        ("spo2.low", {Tile.SPO2}),
        ("tech.spo2.signal", {Tile.SPO2, Tile.PULSE}),
        ("hr.rise", {Tile.PULSE}),
        ("bp.high", {Tile.NIBP}),
        ("tech.nibp.overdue", {Tile.NIBP}),
        ("tech.link.oximeter", {Tile.SPO2, Tile.PULSE}),
        ("tech.link.nibp", {Tile.NIBP}),
        ("tech.baseline_missing", set()),
        ("tech.record", set()),
    ],
)
def test_each_alarm_colours_its_tiles(code: str, tiles: set[Tile]) -> None:
    assert tile_of(code, parse_state(room_state())) == tiles


def test_limits_from_the_room_when_it_sends_them() -> None:
    document = room_state()
    document["limits"] = {
        "spo2_percent": {"low": 88, "severe_low": 82},
        "pulse_rate_bpm": {"low": 40, "high": 140},
        "bp": {"sbp_high": 170, "dbp_high": 105, "sbp_low": 85},
    }
    limits = parse_state(document).limits
    assert not limits.default
    assert (limits.spo2_low, limits.pulse_high, limits.sbp_high) == (88, 140, 170)
    assert parse_state(room_state()).limits.default

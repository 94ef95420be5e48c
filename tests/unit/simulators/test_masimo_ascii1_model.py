"""Masimo ASCII 1 device model: timing, determinism, variants, states via the codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.masimo_ascii1.driver import line_to_readings
from roomctl.devices.masimo_ascii1.protocol import (
    MasimoAlarm,
    MasimoAscii1Decoder,
    MasimoException,
    MasimoLine,
)
from roomctl.readings import Metric, ReadingStatus
from simulators.masimo_ascii1 import DEVICE_CLOCK_START, VARIANTS, MasimoAscii1Model
from simulators.scenarios import TYPICAL, Keyframe, OximeterState, Scenario, StateSpan

if TYPE_CHECKING:
    from simulators.model import DeviceModel

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

KEYS = {
    "rad8": "SN SPO2 BPM PI SPCO SPMET DESAT PIDELTA ALARM EXC",
    "radical7": "SN SPO2 BPM PI SPCO SPMET SPHB PVI DESAT PIDELTA ALARM EXC EXC1",
    "radical5": "SPO2 BPM PI ALARM EXC",
}
# (ALARM, EXC) hex widths per variant (protocols.md §1.1).
WIDTHS = {"rad8": (4, 6), "radical7": (6, 6), "radical5": (2, 3)}

STATES = Scenario(
    name="masimo-states",
    description="Every oximeter state in turn, two seconds each.",
    duration_s=12,
    keyframes=(
        Keyframe(t_s=0, spo2_percent=96, pulse_rate_bpm=80, perfusion_index=2.5),
    ),
    state_spans=(
        StateSpan(start_s=3, end_s=5, state=OximeterState.SENSOR_OFF),
        StateSpan(start_s=5, end_s=7, state=OximeterState.SEARCHING),
        StateSpan(start_s=7, end_s=9, state=OximeterState.LOW_PERFUSION),
        StateSpan(start_s=9, end_s=11, state=OximeterState.ARTIFACT),
    ),
)


def decode(data: bytes) -> list[MasimoLine]:
    decoder = MasimoAscii1Decoder()
    lines = decoder.feed(data)
    assert decoder.stats.dropped_bytes == 0
    assert decoder.malformed_lines == 0
    return lines


def test_model_satisfies_the_port() -> None:
    model: DeviceModel = MasimoAscii1Model(TYPICAL)
    assert model.emit(0.0) == b""


def test_one_line_per_second_from_t_equals_one() -> None:
    model = MasimoAscii1Model(TYPICAL, seed=1)
    assert model.emit(0.999) == b""
    [first] = decode(model.emit(1.0))
    assert first.device_time == "05/14/24 10:00:01"
    assert model.emit(1.5) == b""
    lines = decode(model.emit(4.0))
    assert [line.device_time for line in lines] == [
        "05/14/24 10:00:02",
        "05/14/24 10:00:03",
        "05/14/24 10:00:04",
    ]


def test_device_clock_runs_from_a_fixed_date() -> None:
    lines = decode(MasimoAscii1Model(TYPICAL).emit(3 * 3600))
    assert len(lines) == 3 * 3600
    last = DEVICE_CLOCK_START + timedelta(hours=3)
    assert lines[-1].device_time == last.strftime("%m/%d/%y %H:%M:%S")


def test_host_bytes_are_ignored() -> None:
    quiet, talked_to = (
        MasimoAscii1Model(TYPICAL, seed=4),
        MasimoAscii1Model(TYPICAL, seed=4),
    )
    talked_to.receive(b"\x1b anything\r\n", 0.5)
    assert talked_to.emit(10) == quiet.emit(10)


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant 'rad9'"):
        MasimoAscii1Model(TYPICAL, variant="rad9")


@pytest.mark.parametrize("variant", VARIANTS)
def test_same_seed_same_bytes_different_seed_different_bytes(variant: str) -> None:
    one = MasimoAscii1Model(TYPICAL, seed=7, variant=variant).emit(300)
    two = MasimoAscii1Model(TYPICAL, seed=7, variant=variant).emit(300)
    other = MasimoAscii1Model(TYPICAL, seed=8, variant=variant).emit(300)
    assert one == two
    assert one != other


@given(
    variant=st.sampled_from(VARIANTS),
    steps=st.lists(st.floats(min_value=0, max_value=7, allow_nan=False), max_size=40),
)
def test_bytes_do_not_depend_on_the_emit_pattern(
    variant: str, steps: list[float]
) -> None:
    reference = MasimoAscii1Model(STATES, seed=3, variant=variant).emit(60)
    model = MasimoAscii1Model(STATES, seed=3, variant=variant)
    out = b""
    t_s = 0.0
    for step in steps:
        t_s = min(t_s + step, 60.0)
        out += model.emit(t_s)
    out += model.emit(60)
    assert out == reference


@pytest.mark.parametrize("variant", VARIANTS)
def test_decoded_values_follow_the_scenario_within_jitter(variant: str) -> None:
    model = MasimoAscii1Model(TYPICAL, seed=11, variant=variant)
    assert model.variant == variant
    lines = decode(model.emit(600))
    assert len(lines) == 600
    alarm_width, exc_width = WIDTHS[variant]
    for second, line in enumerate(lines, start=1):
        truth = TYPICAL.vitals_at(second)
        assert [key for key, _ in line.fields] == KEYS[variant].split()
        assert line.spo2_percent is not None
        assert line.pulse_rate_bpm is not None
        assert line.perfusion_index is not None
        # Rounding (0.5) plus five standard deviations of the scenario's jitter.
        assert abs(line.spo2_percent - truth.spo2_percent) <= 0.5 + 5 * 0.4
        assert abs(line.pulse_rate_bpm - truth.pulse_rate_bpm) <= 0.5 + 5 * 1.0
        assert line.perfusion_index == pytest.approx(truth.perfusion_index, rel=0.3)
        assert line.exc == MasimoException.SET_MODE
        assert line.alarm == MasimoAlarm(0)
        assert len(line.value_of("ALARM") or "") == alarm_width
        assert len(line.value_of("EXC") or "") == exc_width


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_oximeter_state_maps_to_its_status(variant: str) -> None:
    lines = decode(MasimoAscii1Model(STATES, seed=5, variant=variant).emit(12))
    expected = {
        OximeterState.NORMAL: ReadingStatus.OK,
        OximeterState.SENSOR_OFF: ReadingStatus.SENSOR_OFF,
        OximeterState.SEARCHING: ReadingStatus.SEARCHING,
        OximeterState.LOW_PERFUSION: ReadingStatus.LOW_PERFUSION,
        OximeterState.ARTIFACT: ReadingStatus.ARTIFACT,
    }
    seen: set[OximeterState] = set()
    for second, line in enumerate(lines, start=1):
        state = STATES.oximeter_state_at(second)
        seen.add(state)
        readings = line_to_readings(
            line, device="ox", received_mono=float(second), received_at=AT
        )
        assert [reading.metric for reading in readings] == [
            Metric.SPO2_PERCENT,
            Metric.PULSE_RATE_BPM,
            Metric.PERFUSION_INDEX,
        ]
        assert {reading.status for reading in readings} == {expected[state]}, second
        dashed = state in {OximeterState.SENSOR_OFF, OximeterState.SEARCHING}
        assert (line.spo2_percent is None) == dashed
        assert (line.pulse_rate_bpm is None) == dashed
        assert (line.perfusion_index is None) == dashed
        assert line.exc & MasimoException.SET_MODE
    assert seen == set(OximeterState)


def test_state_bits_and_dash_widths_on_the_wire() -> None:
    data = MasimoAscii1Model(STATES, seed=5).emit(10)
    rows = data.split(b"\r\n")
    assert b"SPO2=---% BPM=--- PI=--.--%" in rows[3]
    assert rows[3].endswith(b"EXC=000820")
    assert rows[5].endswith(b"EXC=000808")
    assert rows[7].endswith(b"EXC=000804")
    assert rows[9].endswith(b"EXC=000810")


def test_low_perfusion_reports_a_low_pi() -> None:
    lines = decode(MasimoAscii1Model(STATES, seed=5).emit(8))
    assert lines[6].perfusion_index is not None
    assert lines[6].perfusion_index < 1.0


def test_radical7_pvi_is_dashed_without_a_signal() -> None:
    lines = decode(MasimoAscii1Model(STATES, seed=5, variant="radical7").emit(4))
    assert lines[0].value_of("PVI") != "---"
    assert lines[3].value_of("PVI") == "---"


def test_device_alarm_bits_follow_low_spo2_but_do_not_change_readings() -> None:
    low = Scenario(
        name="low",
        description="SpO2 well under the device's low limit.",
        duration_s=5,
        keyframes=(Keyframe(t_s=0, spo2_percent=84),),
    )
    lines = decode(MasimoAscii1Model(low, seed=2).emit(5))
    for line in lines:
        assert line.alarm == MasimoAlarm.SPO2_LOW | MasimoAlarm.ACTIVE
        readings = line_to_readings(
            line, device="ox", received_mono=0.0, received_at=AT
        )
        assert all(reading.status is ReadingStatus.OK for reading in readings)

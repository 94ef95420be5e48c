"""The Nonin DF2 device model: timing, determinism, values and states on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.nonin_df2.driver import NoninDf2Driver
from roomctl.devices.nonin_df2.protocol import (
    FRAME_LEN_BYTES,
    FRAME_RATE_HZ,
    PACKET_LEN_FRAMES,
    PACKET_PERIOD_S,
    NoninDf2Decoder,
    NoninDf2Frame,
    NoninDf2Packet,
    NoninDf2PacketAssembler,
    Perfusion,
    frames_of,
)
from roomctl.readings import Metric, Reading, ReadingStatus
from simulators.nonin_df2 import FIRMWARE_REVISION, NoninDf2Model, pulse_shape
from simulators.scenarios import TYPICAL, Keyframe, OximeterState, Scenario, StateSpan

if TYPE_CHECKING:
    from simulators.model import DeviceModel

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

RAMP = Scenario(
    name="ramp",
    description="Pulse from 60 to 220 bpm and SpO2 from 99 to 85 % over a minute.",
    duration_s=60.0,
    keyframes=(
        Keyframe(t_s=0, spo2_percent=99, pulse_rate_bpm=60),
        Keyframe(t_s=60, spo2_percent=85, pulse_rate_bpm=220),
    ),
)

STATES = Scenario(
    name="states",
    description="Ten seconds of each oximeter state, normal in between.",
    duration_s=110.0,
    keyframes=(Keyframe(t_s=0, spo2_percent=96, pulse_rate_bpm=90),),
    state_spans=(
        StateSpan(start_s=10, end_s=20, state=OximeterState.SENSOR_OFF),
        StateSpan(start_s=30, end_s=40, state=OximeterState.SEARCHING),
        StateSpan(start_s=50, end_s=60, state=OximeterState.ARTIFACT),
        StateSpan(start_s=70, end_s=80, state=OximeterState.LOW_PERFUSION),
    ),
)


def decode(data: bytes) -> list[NoninDf2Frame]:
    """The frames in ``data`` (blocks expanded)."""
    return frames_of(NoninDf2Decoder().feed(data))


def packets_of(data: bytes) -> list[NoninDf2Packet]:
    assembler = NoninDf2PacketAssembler()
    return [p for p in map(assembler.add, decode(data)) if p is not None]


def readings_of(data: bytes) -> list[tuple[float, Reading]]:
    """Readings with the scenario time of the packet that carried them."""
    driver = NoninDf2Driver("oximeter")
    out: list[tuple[float, Reading]] = []
    for index, frame in enumerate(decode(data)):
        for reading in driver.on_frame(frame, index / FRAME_RATE_HZ, AT):
            assert isinstance(reading, Reading)
            start = (index - (PACKET_LEN_FRAMES - 1)) / FRAME_RATE_HZ
            out.append((start, reading))
    return out


def test_model_satisfies_the_device_model_port() -> None:
    model: DeviceModel = NoninDf2Model(TYPICAL)
    assert model.emit(1.0)


def test_model_emits_frames_at_75_hz() -> None:
    model = NoninDf2Model(TYPICAL, seed=3)
    assert len(model.emit(-1.0)) == 0
    assert len(model.emit(0.0)) == FRAME_LEN_BYTES  # frame 0 is due at t = 0
    assert len(model.emit(0.0)) == 0
    assert len(model.emit(1 / FRAME_RATE_HZ - 1e-9)) == 0
    assert len(model.emit(1.0)) == FRAME_RATE_HZ * FRAME_LEN_BYTES  # frames 1..75
    assert len(model.emit(11.0)) == 10 * FRAME_RATE_HZ * FRAME_LEN_BYTES


def test_model_packets_start_with_sync_every_25_frames() -> None:
    frames = decode(NoninDf2Model(TYPICAL).emit(10.0))
    assert [i for i, f in enumerate(frames) if f.sync] == list(
        range(0, len(frames), PACKET_LEN_FRAMES)
    )
    packets = packets_of(NoninDf2Model(TYPICAL).emit(10.0))
    assert len(packets) == 30
    assert {p.firmware_revision for p in packets} == {FIRMWARE_REVISION}


@given(st.lists(st.floats(0.0, 0.9), min_size=1, max_size=40))
def test_model_bytes_do_not_depend_on_call_times(steps: list[float]) -> None:
    whole = NoninDf2Model(STATES, seed=11).emit(12.0)
    model = NoninDf2Model(STATES, seed=11)
    parts: list[bytes] = []
    now = 0.0
    for step in steps:
        now = min(12.0, now + step)
        parts.append(model.emit(now))
    parts.append(model.emit(12.0))
    assert b"".join(parts) == whole


def test_model_is_deterministic_for_a_seed_and_varies_between_seeds() -> None:
    first = NoninDf2Model(TYPICAL, seed=5).emit(20.0)
    assert NoninDf2Model(TYPICAL, seed=5).emit(20.0) == first
    assert NoninDf2Model(TYPICAL, seed=6).emit(20.0) != first


def test_model_ignores_host_bytes() -> None:
    quiet = NoninDf2Model(TYPICAL, seed=1)
    talked_to = NoninDf2Model(TYPICAL, seed=1)
    talked_to.receive(bytes.fromhex("02 70 02 02 08 03"), 0.0)
    assert talked_to.emit(5.0) == quiet.emit(5.0)


def test_model_values_follow_the_scenario_within_jitter() -> None:
    readings = readings_of(NoninDf2Model(RAMP, seed=2).emit(60.0))
    assert len(readings) == 2 * 180  # 4501 frames: 180 packets and frame 0 of the next
    for start, reading in readings:
        vitals = RAMP.vitals_at(start)
        assert reading.status is ReadingStatus.OK
        assert reading.value is not None
        if reading.metric is Metric.PULSE_RATE_BPM:
            # Rounding adds 0.5; 5 sigma of jitter keeps a seeded run far from luck.
            bound = 5 * RAMP.hr_jitter_bpm + 0.5
            assert abs(reading.value - vitals.pulse_rate_bpm) <= bound
        else:
            bound = 5 * RAMP.spo2_jitter_percent + 0.5
            assert abs(reading.value - vitals.spo2_percent) <= bound


def test_model_sends_pulse_rates_above_127() -> None:
    readings = readings_of(NoninDf2Model(RAMP, seed=2).emit(60.0))
    pulses = [r.value for _, r in readings if r.metric is Metric.PULSE_RATE_BPM]
    assert max(v for v in pulses if v is not None) > 200


@pytest.mark.parametrize(
    ("start_s", "expected"),
    [
        (0.0, ReadingStatus.OK),
        (10.0, ReadingStatus.SENSOR_OFF),
        (30.0, ReadingStatus.SEARCHING),
        (50.0, ReadingStatus.ARTIFACT),
        # The driver holds the last perfusion indication until the next beat's, so
        # skip the first two seconds of the span.
        (72.0, ReadingStatus.LOW_PERFUSION),
        (92.0, ReadingStatus.OK),
    ],
)
def test_model_states_map_to_reading_statuses(
    start_s: float, expected: ReadingStatus
) -> None:
    readings = readings_of(NoninDf2Model(STATES, seed=4).emit(110.0))
    window = [r for t, r in readings if start_s <= t < start_s + 8.0]
    assert len(window) == 2 * 24
    assert {r.status for r in window} == {expected}


def test_model_sends_sentinels_when_it_has_no_pulse() -> None:
    packets = packets_of(NoninDf2Model(STATES, seed=4).emit(45.0))
    for index, packet in enumerate(packets):
        state = STATES.oximeter_state_at(index * PACKET_PERIOD_S)
        no_data = state in {OximeterState.SENSOR_OFF, OximeterState.SEARCHING}
        assert (packet.hr_d_bpm is None) is no_data
        assert (packet.spo2_d_percent is None) is no_data
        assert (packet.hr_bpm is None) is no_data
        if state is OximeterState.SENSOR_OFF:
            assert packet.sensor_disconnected
            assert packet.sensor_alarm
            assert set(packet.pleth) == {0}
        if state is OximeterState.SEARCHING:
            assert packet.out_of_track


def test_model_artifact_values_are_wild() -> None:
    readings = packets_of(NoninDf2Model(STATES, seed=4).emit(60.0))
    artifact = [p for i, p in enumerate(readings) if 50 <= i * PACKET_PERIOD_S < 60]
    assert all(p.artifact for p in artifact)
    drops = [96 - p.spo2_d_percent for p in artifact if p.spo2_d_percent is not None]
    assert min(drops) >= 2
    jumps = [abs(p.hr_d_bpm - 90) for p in artifact if p.hr_d_bpm is not None]
    assert max(jumps) > 20


def test_model_perfusion_bits_mark_each_beat() -> None:
    scenario = Scenario(
        name="steady",
        description="90 bpm, no jitter.",
        duration_s=60.0,
        keyframes=(Keyframe(t_s=0, pulse_rate_bpm=90),),
        hr_jitter_bpm=0.0,
        spo2_jitter_percent=0.0,
    )
    frames = decode(NoninDf2Model(scenario).emit(60.0))
    shown = [f.perfusion for f in frames[: 60 * FRAME_RATE_HZ]]
    onsets = [
        i
        for i in range(1, len(shown))
        if shown[i] is not Perfusion.NONE and shown[i - 1] is Perfusion.NONE
    ]
    assert set(shown) == {Perfusion.NONE, Perfusion.GREEN}
    # 90 bpm for a minute; the beat at t = 0 has no NONE frame before it.
    assert abs(len(onsets) + 1 - 90) <= 1
    assert shown.index(Perfusion.NONE) == 12  # 160 ms at 75 Hz


def test_model_pleth_is_pulsatile_and_in_range() -> None:
    frames = decode(NoninDf2Model(TYPICAL, seed=9).emit(10.0))
    pleth = [f.pleth for f in frames]
    assert all(0 <= v <= 0xFF for v in pleth)
    assert max(pleth) - min(pleth) > 100
    low = decode(NoninDf2Model(STATES, seed=9).emit(80.0))
    weak = [f.pleth for f in low[FRAME_RATE_HZ * 72 : FRAME_RATE_HZ * 80]]
    assert 5 < max(weak) - min(weak) < 40


@pytest.mark.parametrize("phase", [0.0, 0.999])
def test_pulse_shape_joins_beats_smoothly(phase: float) -> None:
    assert pulse_shape(phase) < 0.05
    assert 1.0 < max(pulse_shape(i / 100) for i in range(100)) < 1.25

"""Masimo ASCII 1 driver: EXC bits to statuses, values to readings, registry entry."""

from __future__ import annotations

import functools
import operator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.base import DriverSpec
from roomctl.devices.masimo_ascii1.driver import (
    DRIVER_SPEC,
    MasimoAscii1Driver,
    line_to_readings,
    signal_status,
)
from roomctl.devices.masimo_ascii1.protocol import (
    MasimoAlarm,
    MasimoException,
    MasimoLine,
    parse_line,
)
from roomctl.readings import Metric, ProtocolId, Reading, ReadingStatus

if TYPE_CHECKING:
    from roomctl.devices.base import DeviceDriver

E = MasimoException
S = ReadingStatus
AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def make_line(
    *,
    spo2: str = "097%",
    bpm: str = "072",
    pi: str | None = "02.10%",
    alarm: int = 0,
    exc: int = E.SET_MODE,
) -> MasimoLine:
    fields = [("SN", "0000000042"), ("SPO2", spo2), ("BPM", bpm)]
    if pi is not None:
        fields.append(("PI", pi))
    fields += [("ALARM", f"{alarm:04X}"), ("EXC", f"{exc:06X}")]
    return MasimoLine.from_fields("06/30/25 12:00:00", fields)


def readings_of(line: MasimoLine) -> dict[Metric, Reading]:
    driver = MasimoAscii1Driver("oximeter")
    out = driver.on_frame(line, 12.5, AT)
    assert all(isinstance(reading, Reading) for reading in out)
    return {reading.metric: reading for reading in out if isinstance(reading, Reading)}


SENSOR_PROBLEMS = [
    E.NO_SENSOR,
    E.DEFECTIVE_SENSOR,
    E.SENSOR_OFF,
    E.UNRECOGNIZED_SENSOR,
    E.INCOMPATIBLE_SENSOR,
    E.NO_CABLE,
    E.CABLE_EXPIRED,
    E.INCOMPATIBLE_CABLE,
    E.UNRECOGNIZED_CABLE,
    E.DEFECTIVE_CABLE,
    E.SENSOR_CALIBRATING,
    E.SENSOR_EXPIRED,
    E.EMITTER_TEMPERATURE,
    E.SENSOR_CURRENT_LIMIT,
]


@pytest.mark.parametrize(
    ("bit", "status"),
    [
        *[(bit, S.SENSOR_OFF) for bit in SENSOR_PROBLEMS],
        (E.PULSE_SEARCH, S.SEARCHING),
        (E.INTERFERENCE, S.ARTIFACT),
        (E.AMBIENT_LIGHT, S.ARTIFACT),
        (E.LOW_SIGNAL_IQ, S.QUESTIONABLE),
        (E.LOW_PERFUSION, S.LOW_PERFUSION),
        # SET mode is the healthy state; the rest do not concern SpO2/PR/PI.
        (E.SET_MODE, S.OK),
        (E(0), S.OK),
        (E(0x000200), S.OK),
        (E.SPCO_LOW_CONFIDENCE, S.OK),
        (E.SPMET_LOW_CONFIDENCE, S.OK),
        (E(0x800000), S.OK),
    ],
    ids=str,
)
def test_each_exc_bit_maps_to_its_status(bit: MasimoException, status: S) -> None:
    assert signal_status(bit) is status
    # SET mode alongside never changes the answer.
    assert signal_status(bit | E.SET_MODE) is status
    readings = readings_of(make_line(exc=bit | E.SET_MODE))
    assert {reading.status for reading in readings.values()} == {status}


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (E.SENSOR_OFF | E.PULSE_SEARCH | E.INTERFERENCE, S.SENSOR_OFF),
        (E.NO_CABLE | E.LOW_PERFUSION, S.SENSOR_OFF),
        (E.PULSE_SEARCH | E.INTERFERENCE | E.LOW_SIGNAL_IQ, S.SEARCHING),
        (E.PULSE_SEARCH | E.LOW_PERFUSION, S.SEARCHING),
        (E.AMBIENT_LIGHT | E.LOW_SIGNAL_IQ | E.LOW_PERFUSION, S.ARTIFACT),
        (E.LOW_SIGNAL_IQ | E.LOW_PERFUSION, S.QUESTIONABLE),
    ],
    ids=str,
)
def test_status_precedence(exc: MasimoException, status: S) -> None:
    assert signal_status(exc | E.SET_MODE) is status


ORDER = [
    (functools.reduce(operator.or_, SENSOR_PROBLEMS), S.SENSOR_OFF),
    (E.PULSE_SEARCH, S.SEARCHING),
    (E.INTERFERENCE | E.AMBIENT_LIGHT, S.ARTIFACT),
    (E.LOW_SIGNAL_IQ, S.QUESTIONABLE),
    (E.LOW_PERFUSION, S.LOW_PERFUSION),
]


@given(st.integers(0, 0xFFFFFFFF))
def test_status_is_the_first_matching_group(word: int) -> None:
    expected = next((status for bits, status in ORDER if word & bits), S.OK)
    assert signal_status(E(word)) is expected


def test_normal_line_gives_three_ok_readings() -> None:
    line = parse_line(
        b"06/30/25 12:00:00 SN=0000000042 SPO2=097% BPM=072 PI=02.10% "
        b"SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n"
    )
    driver = MasimoAscii1Driver("oximeter")
    out = driver.on_frame(line, 12.5, AT)
    assert [(r.metric, r.value, r.status) for r in out if isinstance(r, Reading)] == [
        (Metric.SPO2_PERCENT, 97.0, S.OK),
        (Metric.PULSE_RATE_BPM, 72.0, S.OK),
        (Metric.PERFUSION_INDEX, 2.1, S.OK),
    ]
    for reading in out:
        assert reading.device == "oximeter"
        assert reading.received_mono == 12.5
        assert reading.received_at == AT


@pytest.mark.parametrize(
    ("pi", "value"),
    [("02.10%", 2.1), ("00.02%", 0.02), ("20.00%", 20.0), ("00.55", 0.55), ("3", 3.0)],
)
def test_perfusion_index_text_is_parsed(pi: str, value: float) -> None:
    reading = readings_of(make_line(pi=pi))[Metric.PERFUSION_INDEX]
    assert reading.value == pytest.approx(value)
    assert reading.status is S.OK


def test_no_pi_key_gives_no_pi_reading() -> None:
    assert set(readings_of(make_line(pi=None))) == {
        Metric.SPO2_PERCENT,
        Metric.PULSE_RATE_BPM,
    }


def test_dashes_with_ok_status_are_unavailable() -> None:
    readings = readings_of(make_line(spo2="---%", bpm="---", pi="--.--%"))
    for reading in readings.values():
        assert reading.value is None
        assert reading.status is S.UNAVAILABLE


def test_only_the_dashed_value_is_unavailable() -> None:
    readings = readings_of(make_line(pi="--.--%"))
    assert readings[Metric.SPO2_PERCENT].status is S.OK
    assert readings[Metric.PULSE_RATE_BPM].status is S.OK
    assert readings[Metric.PERFUSION_INDEX].status is S.UNAVAILABLE


@pytest.mark.parametrize(
    ("spo2", "bpm", "pi", "questionable"),
    [
        ("101%", "072", "02.10%", {Metric.SPO2_PERCENT}),
        ("997%", "072", "02.10%", {Metric.SPO2_PERCENT}),
        ("097%", "241", "02.10%", {Metric.PULSE_RATE_BPM}),
        ("097%", "972", "20.01%", {Metric.PULSE_RATE_BPM, Metric.PERFUSION_INDEX}),
        ("100%", "240", "20.00%", set()),
        ("000%", "025", "00.02%", set()),
        # Below the device's range (RELIABILITY.md, "Bad input": the fuzzer found a
        # PI of 0.00 and pulse rates below 25 bpm passed as ok).
        ("097%", "024", "00.01%", {Metric.PULSE_RATE_BPM, Metric.PERFUSION_INDEX}),
        ("000%", "000", "00.00%", {Metric.PULSE_RATE_BPM, Metric.PERFUSION_INDEX}),
    ],
)
def test_values_outside_the_devices_range_are_questionable(
    spo2: str, bpm: str, pi: str, questionable: set[Metric]
) -> None:
    readings = readings_of(make_line(spo2=spo2, bpm=bpm, pi=pi))
    for metric, reading in readings.items():
        expected = S.QUESTIONABLE if metric in questionable else S.OK
        assert reading.status is expected, metric
        assert (reading.value is None) == (expected is not S.OK)


def test_flagged_values_are_not_passed_on() -> None:
    # Artifact: the device still shows numbers; they must not look live.
    readings = readings_of(make_line(exc=E.SET_MODE | E.INTERFERENCE))
    for reading in readings.values():
        assert reading.value is None
        assert reading.status is S.ARTIFACT


def test_flagged_dashes_keep_the_device_reason() -> None:
    line = make_line(spo2="---%", bpm="---", pi="--.--%", exc=E.SET_MODE | E.SENSOR_OFF)
    readings = readings_of(line)
    assert {reading.status for reading in readings.values()} == {S.SENSOR_OFF}


def test_the_device_alarm_word_is_ignored() -> None:
    alarm = MasimoAlarm.SPO2_LOW | MasimoAlarm.ACTIVE | MasimoAlarm.LOW_BATTERY
    line = make_line(alarm=alarm)
    assert line.alarm == alarm
    assert readings_of(line) == readings_of(make_line())


@pytest.mark.parametrize(
    "frame", [None, b"06/30/25 12:00:00 SPO2=097% BPM=072", "x", 3]
)
def test_non_line_objects_are_ignored(frame: object) -> None:
    assert MasimoAscii1Driver("oximeter").on_frame(frame, 0.0, AT) == []


@given(
    spo2=st.none() | st.integers(0, 999),
    bpm=st.none() | st.integers(0, 999),
    pi=st.none() | st.integers(0, 99_99),
    exc=st.integers(0, 0xFFFFFF),
)
def test_value_is_none_exactly_when_status_is_not_ok(
    spo2: int | None, bpm: int | None, pi: int | None, exc: int
) -> None:
    line = make_line(
        spo2="---%" if spo2 is None else f"{spo2:03d}%",
        bpm="---" if bpm is None else f"{bpm:03d}",
        pi="--.--%" if pi is None else f"{pi / 100:05.2f}%",
        exc=exc,
    )
    readings = line_to_readings(line, device="ox", received_mono=1.0, received_at=AT)
    assert len(readings) == 3
    for reading in readings:
        assert (reading.value is None) == (reading.status is not S.OK)
    statuses = {reading.status for reading in readings}
    flagged = signal_status(E(exc))
    if flagged is not S.OK:
        assert statuses == {flagged}
    else:
        assert statuses <= {S.OK, S.UNAVAILABLE, S.QUESTIONABLE}
        ranges = {m.metric: (m.minimum, m.maximum) for m in DRIVER_SPEC.metrics}
        for reading in readings:
            low, high = ranges[reading.metric]
            if reading.value is not None:
                assert low <= reading.value <= high
            elif reading.status is S.QUESTIONABLE:
                raw = {
                    Metric.SPO2_PERCENT: line.spo2_percent,
                    Metric.PULSE_RATE_BPM: line.pulse_rate_bpm,
                    Metric.PERFUSION_INDEX: line.perfusion_index,
                }[reading.metric]
                assert raw is not None
                assert not low <= raw <= high


class _UnusedLink:
    """A link the driver must never use (ASCII 1 is output only)."""

    async def read(self) -> bytes:
        raise AssertionError("read")

    async def write(self, data: bytes) -> None:
        raise AssertionError(data)

    async def aclose(self) -> None:
        raise AssertionError("aclose")


def test_link_events_are_no_ops() -> None:
    driver: DeviceDriver = MasimoAscii1Driver("oximeter")
    driver.on_link_up(_UnusedLink())
    driver.on_link_lost()
    assert len(driver.on_frame(make_line(), 0.0, AT)) == 3
    assert MasimoAscii1Driver("bed 2").device == "bed 2"


def test_driver_spec() -> None:
    spec = DRIVER_SPEC
    assert isinstance(spec, DriverSpec)
    assert spec.protocol is ProtocolId.MASIMO_ASCII1
    assert spec.display_name == "Masimo Rad-8 / Radical-7 (ASCII 1)"
    assert spec.category == "oximeter"
    assert spec.baud == 9600
    assert spec.stale_after_s == 3.0
    ranges = {m.metric: (m.unit, m.minimum, m.maximum) for m in spec.metrics}
    assert ranges == {
        Metric.SPO2_PERCENT: ("%", 0, 100),
        Metric.PULSE_RATE_BPM: ("bpm", 25, 240),
        Metric.PERFUSION_INDEX: ("%", 0.02, 20),
    }


def test_driver_spec_factories_build_working_parts() -> None:
    decoder = DRIVER_SPEC.decoder_factory()
    assert decoder is not DRIVER_SPEC.decoder_factory()
    [frame] = decoder.feed(make_line().encode())
    driver: DeviceDriver = DRIVER_SPEC.driver_factory("oximeter")
    readings = driver.on_frame(frame, 3.0, AT)
    assert [reading.status for reading in readings] == [S.OK, S.OK, S.OK]

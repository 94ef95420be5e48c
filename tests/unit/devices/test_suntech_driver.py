"""SunTech driver: pure mapping, and the measurement session against the simulator.

The session tests run the real ``SuntechModel`` behind a small in-memory ``ByteLink``:
host writes reach the model at the loop's time, and a pump task feeds what the model
emits through a ``SuntechDecoder`` into ``driver.on_frame``, as the supervisor does.
Determinations are shortened (``nibp_inflate_s``) and so are the driver's deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from roomctl.devices.suntech_nibp.driver import (
    DRIVER_SPEC,
    NO_RESULT_TEXT,
    SuntechDriver,
    SuntechTimeouts,
    bp_data_reading,
    cuff_pressure_reading,
)
from roomctl.devices.suntech_nibp.protocol import (
    AbortBp,
    AckCode,
    BpData,
    CuffPressure,
    GetBpData,
    GetCuffPressure,
    GetReturnString,
    PatientMode,
    ReturnString,
    StartBp,
    SuntechAck,
    SuntechCommandDecoder,
    SuntechDecoder,
    UnknownResponse,
)
from roomctl.errors import DeviceDisconnected, DeviceRejected, DeviceTimeout
from roomctl.readings import Metric, NibpReading, ProtocolId, Reading, ReadingStatus
from simulators.scenarios import Keyframe, NibpError, NibpResult, Scenario
from simulators.suntech_nibp import VERSION_TEXT, SuntechModel
from tests.unit.alarms.room import NIBP, Room, at

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from roomctl.devices.suntech_nibp.protocol import SuntechResponse
    from roomctl.readings import AnyReading
    from simulators.model import DeviceModel

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TICK_S = 0.005

FAST = SuntechTimeouts(
    ack_timeout_s=0.3,
    reply_timeout_s=0.3,
    poll_interval_s=0.02,
    determination_timeout_s=3.0,
    command_gap_s=0.0,
    write_timeout_s=0.3,
)

START = StartBp().encode()
ABORT = AbortBp().encode()
POLL = GetCuffPressure().encode()
GET_RESULT = GetBpData().encode()


def scenario(
    *,
    inflate_s: float = 0.3,
    readings: tuple[NibpResult, ...] = (),
    errors: tuple[NibpError, ...] = (),
) -> Scenario:
    return Scenario(
        name="test",
        description="",
        duration_s=3600,
        keyframes=(
            Keyframe(t_s=0, systolic_mmhg=124, diastolic_mmhg=78, pulse_rate_bpm=72),
        ),
        nibp_inflate_s=inflate_s,
        nibp_readings=readings,
        nibp_errors=errors,
    )


class ScriptedModel:
    """An odd module: answers each command kind from a fixed table."""

    def __init__(self, answers: dict[type, list[SuntechResponse]]) -> None:
        self._answers = answers
        self._decoder = SuntechCommandDecoder()
        self._out = bytearray()

    def receive(self, data: bytes, t_s: float) -> None:
        del t_s
        for command in self._decoder.feed(data):
            for response in self._answers.get(type(command), []):
                self._out += response.encode()

    def emit(self, until_s: float) -> bytes:
        del until_s
        out, self._out = bytes(self._out), bytearray()
        return out


class SilentModel:
    """A module that hears everything and says nothing."""

    def receive(self, data: bytes, t_s: float) -> None:
        """Ignore the host."""

    def emit(self, until_s: float) -> bytes:
        del until_s
        return b""


@dataclass
class SimLink:
    """An in-memory ``ByteLink`` to a device model, on the event loop's clock."""

    model: DeviceModel
    written: list[bytes] = field(default_factory=list)
    write_times: list[float] = field(default_factory=list)
    closed: bool = False
    hang_writes: bool = False
    _t0: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def now_s(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    async def read(self) -> bytes:
        while True:
            if self.closed:
                raise DeviceDisconnected("sim link closed")
            data = self.model.emit(self.now_s())
            if data:
                return data
            await asyncio.sleep(TICK_S)

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise DeviceDisconnected("sim link closed")
        if self.hang_writes:
            await asyncio.Event().wait()
        self.written.append(data)
        self.write_times.append(self.now_s())
        self.model.receive(data, self.now_s())

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Harness:
    driver: SuntechDriver
    link: SimLink
    readings: list[AnyReading] = field(default_factory=list)

    async def pump(self) -> None:
        decoder = SuntechDecoder()
        loop = asyncio.get_running_loop()
        while True:
            data = await self.link.read()
            for frame in decoder.feed(data):
                self.readings += self.driver.on_frame(frame, loop.time(), AT)

    def polls(self) -> int:
        return self.link.written.count(POLL)


@contextlib.asynccontextmanager
async def connected(
    model: DeviceModel, timeouts: SuntechTimeouts = FAST
) -> AsyncIterator[Harness]:
    driver = SuntechDriver("nibp", timeouts=timeouts)
    link = SimLink(model)
    driver.on_link_up(link)
    harness = Harness(driver, link)
    async with asyncio.TaskGroup() as tg:
        pump = tg.create_task(harness.pump(), name="test.pump")
        try:
            yield harness
        finally:
            pump.cancel()


async def until(predicate: Callable[[], bool], timeout_s: float = 2.0) -> None:
    async with asyncio.timeout(timeout_s):
        # Polling is the point: the predicates read state no event announces.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(TICK_S)


# ------------------------------------------------------------------ pure mapping


def test_cuff_pressure_maps_to_a_reading() -> None:
    reading = cuff_pressure_reading(
        CuffPressure(mmhg=158), device="nibp", received_mono=1.0, received_at=AT
    )
    assert reading.metric is Metric.CUFF_PRESSURE_MMHG
    assert (reading.value, reading.status) == (158.0, ReadingStatus.OK)


def test_cuff_pressure_not_available_is_unavailable() -> None:
    reading = cuff_pressure_reading(
        CuffPressure(mmhg=None), device="nibp", received_mono=1.0, received_at=AT
    )
    assert (reading.value, reading.status) == (None, ReadingStatus.UNAVAILABLE)


@pytest.mark.parametrize("mmhg", [-25_313, -2, 301, 0x7FFF])
def test_cuff_pressure_outside_the_modules_range_is_questionable(mmhg: int) -> None:
    # Found by the fuzzer (RELIABILITY.md, "Bad input"): -25,313 mmHg came out ok.
    reading = cuff_pressure_reading(
        CuffPressure(mmhg=mmhg), device="nibp", received_mono=1.0, received_at=AT
    )
    assert (reading.value, reading.status) == (None, ReadingStatus.QUESTIONABLE)
    driver = SuntechDriver("nibp")
    driver.on_frame(CuffPressure(mmhg=40), 1.0, AT)
    assert driver.on_frame(CuffPressure(mmhg=mmhg), 1.2, AT) == [
        dataclasses.replace(reading, received_mono=1.2)
    ]
    # A pressure the module cannot have is no pressure at all.
    assert driver.last_cuff_pressure_mmhg is None


@pytest.mark.parametrize("mmhg", [0, 300])
def test_cuff_pressure_at_the_ends_of_the_range_is_ok(mmhg: int) -> None:
    reading = cuff_pressure_reading(
        CuffPressure(mmhg=mmhg), device="nibp", received_mono=1.0, received_at=AT
    )
    assert (reading.value, reading.status) == (float(mmhg), ReadingStatus.OK)


@pytest.mark.parametrize(
    ("sbp", "dbp", "mean", "rate", "words"),
    [
        # The fuzzer's: a pulse pressure of 31 mmHg passes every plausibility rule.
        (13_411, 13_380, 13_390, 72, ["systolic 13411 mmHg (range 40-260)"]),
        (261, 80, 140, 72, ["systolic 261 mmHg (range 40-260)"]),
        (39, 25, 30, 72, ["systolic 39 mmHg"]),
        (120, 201, 150, 72, ["diastolic 201 mmHg (range 20-200)"]),
        (120, 19, 60, 72, ["diastolic 19 mmHg"]),
        (120, 80, 221, 72, ["mean 221 mmHg (range 30-220)"]),
        (120, 80, 93, 29, ["pulse rate 29 bpm (range 30-220)"]),
        (120, 80, 93, 255, ["pulse rate 255 bpm"]),
        (300, 10, 93, 72, ["systolic 300 mmHg (range 40-260), diastolic 10 mmHg"]),
    ],
)
def test_bp_data_outside_the_modules_range_is_questionable(
    sbp: int, dbp: int, mean: int, rate: int, words: list[str]
) -> None:
    frame = BpData(
        systolic_mmhg=sbp, diastolic_mmhg=dbp, map_mmhg=mean, heart_rate_bpm=rate
    )
    reading = bp_data_reading(frame, device="nibp", received_mono=2.0, received_at=AT)
    assert reading.status is ReadingStatus.QUESTIONABLE
    assert (reading.systolic_mmhg, reading.diastolic_mmhg) == (None, None)
    assert (reading.map_mmhg, reading.pulse_rate_bpm) == (None, None)
    assert reading.error_code is None
    assert reading.error_text.startswith("result outside the module's range: ")
    for word in words:
        assert word in reading.error_text


def test_bp_data_at_the_ends_of_the_range_is_ok() -> None:
    for sbp, dbp, mean, rate in [(40, 20, 30, 30), (260, 200, 220, 220)]:
        frame = BpData(
            systolic_mmhg=sbp, diastolic_mmhg=dbp, map_mmhg=mean, heart_rate_bpm=rate
        )
        reading = bp_data_reading(
            frame, device="nibp", received_mono=2.0, received_at=AT
        )
        assert reading.status is ReadingStatus.OK
        assert (reading.systolic_mmhg, reading.pulse_rate_bpm) == (sbp, rate)


def test_an_out_of_range_result_raises_nibp_questionable_not_a_bp_alarm() -> None:
    # The alarm engine excludes a non-ok NIBP reading from every BP rule and
    # raises tech.nibp.questionable with the driver's words.
    frame = BpData(
        systolic_mmhg=13_411, diastolic_mmhg=13_380, map_mmhg=13_390, heart_rate_bpm=72
    )
    outcomes = {}
    for status in (ReadingStatus.QUESTIONABLE, ReadingStatus.OK):
        room = Room(devices=(NIBP,))
        room.prepare()
        room.run(at(3) - 1)
        reading = bp_data_reading(
            frame, device=NIBP, received_mono=at(3), received_at=AT
        )
        if status is ReadingStatus.OK:
            # What the driver made of it before the fix, for contrast.
            reading = dataclasses.replace(
                reading,
                systolic_mmhg=13_411,
                diastolic_mmhg=13_380,
                map_mmhg=13_390,
                pulse_rate_bpm=72,
                status=ReadingStatus.OK,
                error_text="",
            )
        room.events += room.engine.evaluate(reading, at(3))
        room.run(at(4))
        outcomes[status] = room
    fixed = outcomes[ReadingStatus.QUESTIONABLE]
    assert fixed.codes() == {"tech.nibp.questionable"}
    [alarm] = fixed.state().alarms
    assert alarm.text.startswith("NIBP questionable: ")
    assert "outside the module's range: systolic 13411 mmHg" in alarm.text
    # Taken as ok, the same numbers pass plausibility and raise a BP alarm.
    assert "bp.severe" in outcomes[ReadingStatus.OK].codes()
    assert "tech.nibp.questionable" not in outcomes[ReadingStatus.OK].codes()


def test_bp_data_maps_to_an_ok_reading() -> None:
    frame = BpData(systolic_mmhg=120, diastolic_mmhg=80, map_mmhg=93, heart_rate_bpm=72)
    reading = bp_data_reading(frame, device="nibp", received_mono=2.0, received_at=AT)
    assert reading == NibpReading(
        device="nibp",
        systolic_mmhg=120,
        diastolic_mmhg=80,
        map_mmhg=93,
        pulse_rate_bpm=72,
        status=ReadingStatus.OK,
        received_mono=2.0,
        received_at=AT,
    )


def test_bp_data_without_map_or_rate_keeps_the_pressures() -> None:
    frame = BpData(systolic_mmhg=120, diastolic_mmhg=80, map_mmhg=0, heart_rate_bpm=0)
    reading = bp_data_reading(frame, device="nibp", received_mono=2.0, received_at=AT)
    assert reading.status is ReadingStatus.OK
    assert (reading.map_mmhg, reading.pulse_rate_bpm) == (None, None)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (1, "weak or no pulse signal"),
        (2, "motion artifact"),
        (87, "cuff leak or loose cuff"),
        (88, "safety time limit"),
        (150, "unknown NIBP module error (device error 150)"),
    ],
)
def test_bp_data_with_an_error_code_is_a_device_error(code: int, words: str) -> None:
    # The module sends numbers with some errors; they are not valid and are dropped.
    frame = BpData(
        systolic_mmhg=120,
        diastolic_mmhg=80,
        map_mmhg=93,
        heart_rate_bpm=72,
        error_code=code,
    )
    reading = bp_data_reading(frame, device="nibp", received_mono=2.0, received_at=AT)
    assert reading.status is ReadingStatus.DEVICE_ERROR
    assert reading.error_code == code
    assert words in reading.error_text
    assert f"(device error {code})" in reading.error_text
    assert reading.systolic_mmhg is None
    assert reading.map_mmhg is None


def test_bp_data_of_zeros_is_no_result() -> None:
    frame = BpData(systolic_mmhg=0, diastolic_mmhg=0, map_mmhg=0, heart_rate_bpm=0)
    reading = bp_data_reading(frame, device="nibp", received_mono=2.0, received_at=AT)
    assert reading.status is ReadingStatus.DEVICE_ERROR
    assert reading.error_code is None
    assert reading.error_text == NO_RESULT_TEXT
    assert "no blood-pressure result" in reading.error_text


def test_on_frame_returns_readings_and_remembers_the_cuff() -> None:
    driver = SuntechDriver("nibp")
    [cuff] = driver.on_frame(CuffPressure(mmhg=40), 1.0, AT)
    assert isinstance(cuff, Reading)
    assert driver.last_cuff_pressure_mmhg == 40
    bp = BpData(systolic_mmhg=120, diastolic_mmhg=80, map_mmhg=93, heart_rate_bpm=72)
    [nibp] = driver.on_frame(bp, 2.0, AT)
    assert isinstance(nibp, NibpReading)
    assert nibp.systolic_mmhg == 120


def test_on_frame_gives_nothing_for_acks_strings_and_unknown_frames(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver = SuntechDriver("nibp")
    caplog.set_level(logging.DEBUG, logger="roomctl.devices.suntech_nibp.driver")
    for code in AckCode:
        assert driver.on_frame(SuntechAck(code=code), 1.0, AT) == []
    assert driver.on_frame(ReturnString(text=VERSION_TEXT), 1.0, AT) == []
    assert driver.on_frame(UnknownResponse(data=b"X"), 1.0, AT) == []
    assert driver.on_frame(object(), 1.0, AT) == []
    assert "unsolicited acknowledgement RECEIVED" in caplog.text


def test_driver_properties() -> None:
    driver = SuntechDriver("cuff-left")
    assert driver.device == "cuff-left"
    assert driver.timeouts == SuntechTimeouts()
    assert not driver.measuring
    assert driver.last_cuff_pressure_mmhg is None


def test_default_deadlines_follow_the_sources() -> None:
    timeouts = SuntechTimeouts()
    assert timeouts.ack_timeout_s == 1.0
    assert timeouts.reply_timeout_s == 1.0
    assert timeouts.poll_interval_s == 0.2  # Appciton polls every 200 ms
    assert timeouts.determination_timeout_s == 180.0
    assert timeouts.command_gap_s == 0.1  # Appciton spaces commands 100 ms apart


def test_driver_spec_registry_entry() -> None:
    assert DRIVER_SPEC.protocol is ProtocolId.SUNTECH_ADVANTAGE
    assert DRIVER_SPEC.display_name == "SunTech Advantage NIBP"
    assert DRIVER_SPEC.category == "nibp"
    assert DRIVER_SPEC.baud == 9600
    assert math.isinf(DRIVER_SPEC.stale_after_s)
    decoder = DRIVER_SPEC.decoder_factory()
    assert decoder.feed(bytes.fromhex("3e 04 4f 6f")) == [
        SuntechAck(code=AckCode.RECEIVED)
    ]
    driver = DRIVER_SPEC.driver_factory("nibp")
    assert isinstance(driver, SuntechDriver)
    ranges = {
        spec.metric: (spec.minimum, spec.maximum, spec.unit)
        for spec in DRIVER_SPEC.metrics
    }
    assert ranges[Metric.SYSTOLIC_MMHG] == (40, 260, "mmHg")
    assert ranges[Metric.DIASTOLIC_MMHG] == (20, 200, "mmHg")
    assert ranges[Metric.MAP_MMHG] == (30, 220, "mmHg")
    assert ranges[Metric.NIBP_PULSE_RATE_BPM] == (30, 220, "bpm")


# ------------------------------------------------------------------ the session


async def test_measure_returns_the_scenario_result() -> None:
    model = SuntechModel(
        scenario(
            readings=(
                NibpResult(
                    t_s=0,
                    systolic_mmhg=118,
                    diastolic_mmhg=76,
                    map_mmhg=90,
                    pulse_rate_bpm=64,
                ),
            )
        )
    )
    async with connected(model) as harness:
        task = asyncio.create_task(harness.driver.measure())
        await until(lambda: harness.driver.measuring)
        reading = await task
    assert reading.status is ReadingStatus.OK
    assert (reading.systolic_mmhg, reading.diastolic_mmhg) == (118, 76)
    assert (reading.map_mmhg, reading.pulse_rate_bpm) == (90, 64)
    # The same object the driver handed the pipeline from on_frame.
    assert any(published is reading for published in harness.readings)
    # Start, cuff polls while inflating and deflating, then the result.
    written = harness.link.written
    assert written[0] == START
    assert written[-1] == GET_RESULT
    assert set(written[1:-1]) == {POLL}
    cuff = [
        r.value
        for r in harness.readings
        if isinstance(r, Reading) and r.metric is Metric.CUFF_PRESSURE_MMHG
    ]
    assert max(v for v in cuff if v is not None) > 118
    assert not harness.driver.measuring


async def test_measure_with_scenario_vitals() -> None:
    async with connected(SuntechModel(scenario(), seed=1)) as harness:
        reading = await harness.driver.measure()
    assert reading.status is ReadingStatus.OK
    assert reading.systolic_mmhg is not None
    assert abs(reading.systolic_mmhg - 124) <= 10


async def test_measure_sends_the_patient_mode() -> None:
    async with connected(SuntechModel(scenario())) as harness:
        await harness.driver.measure(PatientMode.PEDIATRIC)
    assert harness.link.written[0] == bytes.fromhex("3a 87 3f")


async def test_device_error_code_gives_a_device_error_reading() -> None:
    model = SuntechModel(scenario(errors=(NibpError(start_s=0, end_s=60, code=87),)))
    async with connected(model) as harness:
        reading = await harness.driver.measure()
    assert reading.status is ReadingStatus.DEVICE_ERROR
    assert reading.error_code == 87
    assert reading.error_text.startswith("cuff leak or loose cuff")
    assert reading.systolic_mmhg is None


async def test_busy_module_raises_device_rejected() -> None:
    model = SuntechModel(scenario(inflate_s=10.0))
    # Someone else's determination is running; its "O" went to them, not to us.
    model.receive(START, -1.0)
    assert model.emit(-0.5) == SuntechAck(code=AckCode.RECEIVED).encode()
    async with connected(model) as harness:
        with pytest.raises(DeviceRejected, match="busy") as caught:
            await harness.driver.measure()
    assert caught.value.code == ord("B")
    assert ABORT not in harness.link.written  # not ours to abort
    assert model.measuring


async def test_abort_ends_the_running_measurement() -> None:
    model = SuntechModel(scenario(inflate_s=10.0))
    async with connected(model) as harness:
        task = asyncio.create_task(harness.driver.measure())
        await until(lambda: harness.polls() >= 2)
        await harness.driver.abort()
        with pytest.raises(DeviceRejected, match="stopped") as caught:
            await task
    assert caught.value.code == 86
    assert not model.measuring
    assert not harness.driver.measuring


async def test_abort_when_idle_is_acknowledged() -> None:
    async with connected(SuntechModel(scenario())) as harness:
        await harness.driver.abort()
    assert harness.link.written == [ABORT]


async def test_silent_device_times_out_and_tries_to_abort() -> None:
    async with connected(SilentModel()) as harness:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(DeviceTimeout, match="starting a measurement"):
            await harness.driver.measure()
        elapsed = loop.time() - began
    assert FAST.ack_timeout_s <= elapsed < FAST.ack_timeout_s + 0.2
    assert harness.link.written == [START, ABORT]
    assert not harness.driver.measuring


async def test_whole_determination_deadline() -> None:
    model = SuntechModel(scenario(inflate_s=30.0))
    timeouts = SuntechTimeouts(
        ack_timeout_s=0.3,
        reply_timeout_s=0.3,
        poll_interval_s=0.02,
        determination_timeout_s=0.3,
        command_gap_s=0.0,
    )
    async with connected(model, timeouts) as harness:
        with pytest.raises(DeviceTimeout, match=r"no result within 0\.3 s"):
            await harness.driver.measure()
    assert harness.link.written[-1] == ABORT
    assert not model.measuring  # the abort reached the module


async def test_missing_poll_reply_times_out() -> None:
    model = ScriptedModel({StartBp: [SuntechAck(code=AckCode.RECEIVED)]})
    async with connected(model) as harness:
        with pytest.raises(DeviceTimeout, match="no answer while measuring"):
            await harness.driver.measure()
    assert harness.link.written == [START, POLL, ABORT]


async def test_missing_result_times_out() -> None:
    model = ScriptedModel(
        {
            StartBp: [SuntechAck(code=AckCode.RECEIVED)],
            GetCuffPressure: [CuffPressure(mmhg=0), SuntechAck(code=AckCode.COMPLETE)],
        }
    )
    async with connected(model) as harness:
        with pytest.raises(DeviceTimeout, match="reading the result"):
            await harness.driver.measure()
    assert harness.link.written == [START, POLL, GET_RESULT, ABORT]


async def test_a_repeated_completion_is_ignored() -> None:
    result = BpData(
        systolic_mmhg=131, diastolic_mmhg=82, map_mmhg=98, heart_rate_bpm=60
    )
    model = ScriptedModel(
        {
            StartBp: [SuntechAck(code=AckCode.RECEIVED)],
            GetCuffPressure: [
                CuffPressure(mmhg=0),
                SuntechAck(code=AckCode.COMPLETE),
                SuntechAck(code=AckCode.COMPLETE),
            ],
            GetBpData: [result],
        }
    )
    async with connected(model) as harness:
        reading = await harness.driver.measure()
    assert (reading.systolic_mmhg, reading.diastolic_mmhg) == (131, 82)


@pytest.mark.parametrize(
    ("answers", "code", "aborted"),
    [
        # Refusing the start: nothing of ours runs, nothing to abort.
        ({StartBp: [SuntechAck(code=AckCode.ERROR)]}, ord("E"), False),
        ({StartBp: [SuntechAck(code=AckCode.SLEEP)]}, ord("S"), False),
        # Ending our determination oddly: abort it so the cuff deflates.
        (
            {
                StartBp: [SuntechAck(code=AckCode.RECEIVED)],
                GetCuffPressure: [
                    CuffPressure(mmhg=50),
                    SuntechAck(code=AckCode.TIMEOUT),
                ],
            },
            ord("T"),
            True,
        ),
        (
            {
                StartBp: [SuntechAck(code=AckCode.RECEIVED)],
                GetCuffPressure: [
                    CuffPressure(mmhg=50),
                    SuntechAck(code=AckCode.UNRECOGNIZABLE),
                ],
            },
            ord("D"),
            True,
        ),
    ],
)
async def test_refusals_raise_device_rejected(
    answers: dict[type, list[SuntechResponse]], code: int, aborted: bool
) -> None:
    async with connected(ScriptedModel(answers)) as harness:
        with pytest.raises(DeviceRejected) as caught:
            await harness.driver.measure()
    assert caught.value.code == code
    assert (harness.link.written[-1] == ABORT) is aborted


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(AckCode.UNDEFINED_COMMAND, ord("N")), (AckCode.COMPLETE, ord("K"))],
)
async def test_abort_answered_otherwise_is_rejected(
    answer: AckCode, expected: int
) -> None:
    model = ScriptedModel({AbortBp: [SuntechAck(code=answer)]})
    async with connected(model) as harness:
        with pytest.raises(DeviceRejected) as caught:
            await harness.driver.abort()
    assert caught.value.code == expected


async def test_abort_not_acknowledged_times_out() -> None:
    async with connected(SilentModel()) as harness:
        with pytest.raises(DeviceTimeout, match="abort"):
            await harness.driver.abort()


async def test_read_version() -> None:
    async with connected(SuntechModel(scenario())) as harness:
        assert await harness.driver.read_version() == VERSION_TEXT
    async with connected(SilentModel()) as harness:
        with pytest.raises(DeviceTimeout, match="return string"):
            await harness.driver.read_version()
    assert harness.link.written == [GetReturnString().encode()]


async def test_commands_are_spaced_by_the_gap() -> None:
    timeouts = SuntechTimeouts(command_gap_s=0.05, reply_timeout_s=0.3)
    async with connected(SuntechModel(scenario()), timeouts) as harness:
        await harness.driver.read_version()
        await harness.driver.read_version()
        await harness.driver.read_version()
    times = harness.link.write_times
    assert all(b - a >= 0.049 for a, b in itertools.pairwise(times))


async def test_measurements_are_serialised() -> None:
    async with connected(SuntechModel(scenario(inflate_s=0.2))) as harness:
        first, second = await asyncio.gather(
            harness.driver.measure(), harness.driver.measure()
        )
    assert first.status is second.status is ReadingStatus.OK
    assert harness.link.written.count(START) == 2
    assert ABORT not in harness.link.written


async def test_stuck_write_times_out() -> None:
    async with connected(SuntechModel(scenario())) as harness:
        harness.link.hang_writes = True
        with pytest.raises(DeviceTimeout, match="starting a measurement"):
            await harness.driver.measure()
    assert harness.link.written == []  # neither start nor the abort got through


# ------------------------------------------------------------ link loss, cancel


async def test_measure_without_a_link_is_disconnected() -> None:
    driver = SuntechDriver("nibp", timeouts=FAST)
    with pytest.raises(DeviceDisconnected, match="not connected"):
        await driver.measure()
    assert not driver.measuring


@pytest.mark.parametrize(
    ("model_factory", "poll_interval_s", "ready"),
    [
        # Waiting for the start acknowledgement (the device never answers).
        (SilentModel, 0.02, lambda h: len(h.link.written) == 1),
        # Between cuff polls (a long poll interval: waiting on the completion).
        (
            lambda: SuntechModel(scenario(inflate_s=10.0)),
            5.0,
            lambda h: h.polls() == 1 and h.driver.last_cuff_pressure_mmhg is not None,
        ),
        # Waiting for a cuff-pressure reply that does not come.
        (
            lambda: ScriptedModel({StartBp: [SuntechAck(code=AckCode.RECEIVED)]}),
            0.02,
            lambda h: h.polls() == 1,
        ),
        # Complete, waiting for a result that does not come.
        (
            lambda: ScriptedModel(
                {
                    StartBp: [SuntechAck(code=AckCode.RECEIVED)],
                    GetCuffPressure: [
                        CuffPressure(mmhg=0),
                        SuntechAck(code=AckCode.COMPLETE),
                    ],
                }
            ),
            0.02,
            lambda h: GET_RESULT in h.link.written,
        ),
    ],
)
async def test_link_loss_fails_the_pending_measurement_at_once(
    model_factory: Callable[[], DeviceModel],
    poll_interval_s: float,
    ready: Callable[[Harness], bool],
) -> None:
    timeouts = SuntechTimeouts(
        ack_timeout_s=5.0,
        reply_timeout_s=5.0,
        poll_interval_s=poll_interval_s,
        determination_timeout_s=10.0,
        command_gap_s=0.0,
    )
    async with connected(model_factory(), timeouts) as harness:
        task = asyncio.create_task(harness.driver.measure())
        await until(lambda: ready(harness))
        loop = asyncio.get_running_loop()
        lost_at = loop.time()
        harness.driver.on_link_lost()
        with pytest.raises(DeviceDisconnected, match="link lost"):
            await task
        assert loop.time() - lost_at < 0.05
    assert ABORT not in harness.link.written  # no link to send it on
    assert harness.driver.last_cuff_pressure_mmhg is None
    assert not harness.driver.measuring


async def test_link_loss_fails_a_pending_abort_and_version_request() -> None:
    async with connected(SilentModel(), SuntechTimeouts(ack_timeout_s=5.0)) as harness:
        abort = asyncio.create_task(harness.driver.abort())
        version = asyncio.create_task(harness.driver.read_version())
        await until(lambda: len(harness.link.written) == 2)
        harness.driver.on_link_lost()
        results = await asyncio.gather(abort, version, return_exceptions=True)
    assert all(isinstance(result, DeviceDisconnected) for result in results)


async def test_cancellation_sends_abort_and_propagates() -> None:
    model = SuntechModel(scenario(inflate_s=10.0))
    async with connected(model) as harness:
        task = asyncio.create_task(harness.driver.measure())
        await until(lambda: harness.polls() >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert harness.link.written[-1] == ABORT
        assert not model.measuring
        assert not harness.driver.measuring
        # The module's late "A" finds nobody waiting and is dropped.
        await asyncio.sleep(0.1)


async def test_cancellation_racing_link_loss_writes_nothing() -> None:
    async with connected(SilentModel()) as harness:
        task = asyncio.create_task(harness.driver.measure())
        await until(lambda: len(harness.link.written) == 1)
        harness.driver.on_link_lost()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert harness.link.written == [START]


async def test_new_link_after_loss_works_again() -> None:
    model = SuntechModel(scenario())
    async with connected(model) as harness:
        harness.driver.on_link_lost()
        with pytest.raises(DeviceDisconnected):
            await harness.driver.measure()
        harness.driver.on_link_up(harness.link)
        reading = await harness.driver.measure()
    assert reading.status is ReadingStatus.OK

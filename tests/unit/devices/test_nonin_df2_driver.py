"""Nonin DF2 driver: packets to readings, status precedence, gaps, a real capture."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.nonin_df2.driver import (
    DRIVER_SPEC,
    PERFUSION_HOLD_PACKETS,
    NoninDf2Driver,
    packet_status,
)
from roomctl.devices.nonin_df2.protocol import (
    FRAME_LEN_BYTES,
    FRAME_RATE_HZ,
    PACKET_LEN_FRAMES,
    PERFUSION_INDICATION_S,
    SERIAL_BAUD,
    NoninDf2Decoder,
    NoninDf2Frame,
    NoninDf2FrameBlock,
    NoninDf2Packet,
    NoninDf2PacketAssembler,
    StatusBit,
    frames_of,
)
from roomctl.readings import Metric, ProtocolId, Reading, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import numpy.typing as npt

    from roomctl.devices.base import ByteLink, DeviceDriver
    from roomctl.readings import AnyReading

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PLETH = tuple(range(60, 60 + PACKET_LEN_FRAMES))
NO_FLAGS = (StatusBit(0),) * PACKET_LEN_FRAMES

CAPTURE = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "captures"
    / "nonin"
    / "systole_ppg.npy"
)


def packet(
    hr_bpm: int | None = 72,
    spo2_percent: int | None = 97,
    flags: Sequence[StatusBit] = NO_FLAGS,
    pleth: Sequence[int] = PLETH,
) -> NoninDf2Packet:
    return NoninDf2Packet.uniform(
        hr_bpm=hr_bpm, spo2_percent=spo2_percent, pleth=pleth, flags=flags
    )


#: The first frame of a next packet: the assembler holds each packet until it comes.
NEXT_SYNC = packet(None, None).frames()[0]
#: ... on the wire.
NEXT = NEXT_SYNC.encode()


def with_flag(flag: StatusBit, *frames: int) -> tuple[StatusBit, ...]:
    flags = list(NO_FLAGS)
    for index in frames or (7,):
        flags[index] = flag
    return tuple(flags)


def as_readings(out: Iterable[AnyReading]) -> list[Reading]:
    readings = list(out)
    assert all(isinstance(r, Reading) for r in readings)
    return [r for r in readings if isinstance(r, Reading)]


def run_frames(
    frames: Iterable[object], driver: NoninDf2Driver | None = None
) -> list[Reading]:
    driver = driver or NoninDf2Driver("oximeter")
    out: list[AnyReading] = []
    for index, frame in enumerate(frames):
        out += driver.on_frame(frame, index / FRAME_RATE_HZ, AT)
    return as_readings(out)


def run_packets(
    packets: Iterable[NoninDf2Packet], driver: NoninDf2Driver | None = None
) -> list[Reading]:
    """The readings of ``packets``; the next packet's SYNC frame lets out the last."""
    return run_frames([*(f for p in packets for f in p.frames()), NEXT_SYNC], driver)


def run_bytes(
    data: bytes, cuts: Iterable[int] = (), driver: NoninDf2Driver | None = None
) -> tuple[list[Reading], NoninDf2Decoder]:
    """Decode ``data`` cut at ``cuts``; the driver takes what the decoder hands out.

    Everything decoded from chunk ``i`` is received at ``i`` seconds.
    """
    driver = driver or NoninDf2Driver("oximeter")
    decoder = NoninDf2Decoder()
    out: list[AnyReading] = []
    start = 0
    for index, cut in enumerate([*sorted(cuts), len(data)]):
        for item in decoder.feed(data[start:cut]):
            out += driver.on_frame(item, float(index), AT)
        start = max(start, cut)
    return as_readings(out), decoder


def run_bytes_frame_by_frame(
    data: bytes, cuts: Iterable[int] = ()
) -> tuple[list[Reading], NoninDf2PacketAssembler]:
    """As ``run_bytes``, but the driver takes the frames one by one."""
    driver = NoninDf2Driver("oximeter")
    decoder = NoninDf2Decoder()
    out: list[AnyReading] = []
    start = 0
    for index, cut in enumerate([*sorted(cuts), len(data)]):
        for frame in frames_of(decoder.feed(data[start:cut])):
            out += driver.on_frame(frame, float(index), AT)
        start = max(start, cut)
    return as_readings(out), driver.assembler


def by_metric(readings: Iterable[Reading], metric: Metric) -> list[Reading]:
    return [r for r in readings if r.metric is metric]


# ---------------------------------------------------------------- mapping


def test_driver_ignores_objects_that_are_not_frames() -> None:
    driver = NoninDf2Driver("oximeter")
    assert driver.on_frame(bytes.fromhex("01 83 7A 00 FE"), 0.0, AT) == []
    assert driver.on_frame(packet(), 0.0, AT) == []
    assert driver.on_frame(None, 0.0, AT) == []
    assert driver.assembler.frames_skipped == 0


def test_driver_reads_the_display_values() -> None:
    # SpO2-D (frame 8) and HR-D (frames 19-20) differ from the 4-beat values here, so
    # the test shows which slots the driver reads.
    source = dataclasses.replace(packet(), spo2_d_percent=95, hr_d_bpm=175)
    driver = NoninDf2Driver("bed-1")
    frames = [*source.frames(), NEXT_SYNC]
    out = [driver.on_frame(f, 10.0 + i, AT) for i, f in enumerate(frames)]
    # The readings come with the next packet's SYNC frame, one frame after the last.
    assert out[:-1] == [[]] * PACKET_LEN_FRAMES
    assert out[-1] == [
        Reading(
            device="bed-1",
            metric=Metric.SPO2_PERCENT,
            value=95.0,
            status=ReadingStatus.OK,
            received_mono=35.0,
            received_at=AT,
        ),
        Reading(
            device="bed-1",
            metric=Metric.PULSE_RATE_BPM,
            value=175.0,
            status=ReadingStatus.OK,
            received_mono=35.0,
            received_at=AT,
        ),
    ]
    assert driver.device == "bed-1"


@given(st.integers(128, 300))
def test_driver_reports_pulse_rates_of_128_and_above(hr_bpm: int) -> None:
    readings, _ = run_bytes(packet(hr_bpm=hr_bpm).encode() + NEXT)
    [pulse] = by_metric(readings, Metric.PULSE_RATE_BPM)
    assert pulse.value == hr_bpm
    assert pulse.status is ReadingStatus.OK


@pytest.mark.parametrize(
    ("hr_bpm", "spo2_percent", "hr_status", "spo2_status"),
    [
        (None, 97, ReadingStatus.UNAVAILABLE, ReadingStatus.OK),
        (72, None, ReadingStatus.OK, ReadingStatus.UNAVAILABLE),
        (None, None, ReadingStatus.UNAVAILABLE, ReadingStatus.UNAVAILABLE),
        (300, 100, ReadingStatus.OK, ReadingStatus.OK),
        (18, 0, ReadingStatus.OK, ReadingStatus.OK),
        # Outside the range the device measures (RELIABILITY.md, "Bad input": the
        # fuzzer found pulse rates of 0 from reassembled packets passed as ok).
        (301, 101, ReadingStatus.QUESTIONABLE, ReadingStatus.QUESTIONABLE),
        (510, 126, ReadingStatus.QUESTIONABLE, ReadingStatus.QUESTIONABLE),
        (17, 97, ReadingStatus.QUESTIONABLE, ReadingStatus.OK),
        (0, 0, ReadingStatus.QUESTIONABLE, ReadingStatus.OK),
    ],
)
def test_driver_marks_sentinels_unavailable_and_out_of_range_values_questionable(
    hr_bpm: int | None,
    spo2_percent: int | None,
    hr_status: ReadingStatus,
    spo2_status: ReadingStatus,
) -> None:
    spo2, pulse = run_packets([packet(hr_bpm=hr_bpm, spo2_percent=spo2_percent)])
    assert (pulse.status, spo2.status) == (hr_status, spo2_status)
    assert pulse.value == (hr_bpm if hr_status is ReadingStatus.OK else None)
    assert spo2.value == (spo2_percent if spo2_status is ReadingStatus.OK else None)


# One flag set on frame 7 unless the row says otherwise (first match wins).
PRECEDENCE = [
    pytest.param(NO_FLAGS, ReadingStatus.OK, id="clear"),
    pytest.param(with_flag(StatusBit.SNSD), ReadingStatus.SENSOR_OFF, id="snsd"),
    pytest.param(with_flag(StatusBit.SNSA), ReadingStatus.SENSOR_OFF, id="snsa"),
    pytest.param(
        with_flag(StatusBit.SNSA | StatusBit.OOT | StatusBit.ARTF | StatusBit.RPRF),
        ReadingStatus.SENSOR_OFF,
        id="snsa-beats-everything",
    ),
    pytest.param(with_flag(StatusBit.OOT), ReadingStatus.SEARCHING, id="oot"),
    pytest.param(
        with_flag(StatusBit.OOT | StatusBit.ARTF | StatusBit.RPRF),
        ReadingStatus.SEARCHING,
        id="oot-beats-artf",
    ),
    pytest.param(with_flag(StatusBit.ARTF), ReadingStatus.ARTIFACT, id="artf"),
    pytest.param(
        with_flag(StatusBit.ARTF | StatusBit.RPRF),
        ReadingStatus.ARTIFACT,
        id="artf-beats-red",
    ),
    pytest.param(
        with_flag(StatusBit.RPRF, 3, 4, 5), ReadingStatus.LOW_PERFUSION, id="red"
    ),
    pytest.param(with_flag(StatusBit.GPRF, 3, 4), ReadingStatus.OK, id="green"),
    pytest.param(
        with_flag(StatusBit.GPRF | StatusBit.RPRF, 3), ReadingStatus.OK, id="yellow"
    ),
    pytest.param(
        with_flag(StatusBit.RPRF, 3)[:10] + with_flag(StatusBit.GPRF, 12)[10:],
        ReadingStatus.OK,
        id="red-and-green-is-not-red-only",
    ),
]


@pytest.mark.parametrize(("flags", "expected"), PRECEDENCE)
def test_driver_status_precedence(
    flags: tuple[StatusBit, ...], expected: ReadingStatus
) -> None:
    source = packet(flags=flags)
    assert packet_status(source) is expected
    readings = run_packets([source])
    assert [r.status for r in readings] == [expected, expected]
    expected_values = [97.0, 72.0] if expected is ReadingStatus.OK else [None, None]
    assert [r.value for r in readings] == expected_values


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (StatusBit.SNSD | StatusBit.SNSA, ReadingStatus.SENSOR_OFF),
        (StatusBit.OOT, ReadingStatus.SEARCHING),
    ],
)
def test_driver_device_state_wins_over_sentinels(
    flag: StatusBit, expected: ReadingStatus
) -> None:
    source = packet(hr_bpm=None, spo2_percent=None, flags=(flag,) * PACKET_LEN_FRAMES)
    assert [r.status for r in run_packets([source])] == [expected, expected]


@given(
    hr_bpm=st.one_of(st.none(), st.integers(0, 510)),
    spo2_percent=st.one_of(st.none(), st.integers(0, 126)),
    flags=st.lists(
        st.integers(0, 0x7E).map(lambda v: StatusBit(v & ~StatusBit.SYNC)),
        min_size=PACKET_LEN_FRAMES,
        max_size=PACKET_LEN_FRAMES,
    ),
)
def test_driver_readings_keep_the_value_status_invariant(
    hr_bpm: int | None, spo2_percent: int | None, flags: list[StatusBit]
) -> None:
    readings = run_packets([packet(hr_bpm, spo2_percent, flags)])
    assert [r.metric for r in readings] == [Metric.SPO2_PERCENT, Metric.PULSE_RATE_BPM]
    for reading in readings:
        assert (reading.value is None) == (reading.status is not ReadingStatus.OK)


# ---------------------------------------------------------------- perfusion hold


def statuses(readings: Iterable[Reading]) -> list[ReadingStatus]:
    return [r.status for r in by_metric(readings, Metric.SPO2_PERCENT)]


def test_driver_holds_red_perfusion_over_packets_without_a_pulse() -> None:
    red = packet(flags=with_flag(StatusBit.RPRF, 2, 3))
    quiet = [packet()] * (PERFUSION_HOLD_PACKETS + 2)
    assert statuses(run_packets([red, *quiet])) == [
        *[ReadingStatus.LOW_PERFUSION] * (PERFUSION_HOLD_PACKETS + 1),
        ReadingStatus.OK,
        ReadingStatus.OK,
    ]


def test_driver_green_pulse_ends_low_perfusion_at_once() -> None:
    red = packet(flags=with_flag(StatusBit.RPRF, 2))
    green = packet(flags=with_flag(StatusBit.GPRF, 2))
    assert statuses(run_packets([red, packet(), green, packet()])) == [
        ReadingStatus.LOW_PERFUSION,
        ReadingStatus.LOW_PERFUSION,
        ReadingStatus.OK,
        ReadingStatus.OK,
    ]


@pytest.mark.parametrize(
    ("flag", "during"),
    [
        (StatusBit.SNSD, ReadingStatus.SENSOR_OFF),
        (StatusBit.SNSA, ReadingStatus.SENSOR_OFF),
        (StatusBit.OOT, ReadingStatus.SEARCHING),
    ],
)
def test_driver_forgets_perfusion_when_the_pulse_is_lost(
    flag: StatusBit, during: ReadingStatus
) -> None:
    red = packet(flags=with_flag(StatusBit.RPRF, 2))
    lost = packet(flags=with_flag(flag))
    assert statuses(run_packets([red, lost, packet()])) == [
        ReadingStatus.LOW_PERFUSION,
        during,
        ReadingStatus.OK,
    ]


def test_driver_artifact_keeps_the_held_perfusion() -> None:
    red = packet(flags=with_flag(StatusBit.RPRF, 2))
    artifact = packet(flags=with_flag(StatusBit.ARTF))
    assert statuses(run_packets([red, artifact, packet()])) == [
        ReadingStatus.LOW_PERFUSION,
        ReadingStatus.ARTIFACT,
        ReadingStatus.LOW_PERFUSION,
    ]


# ---------------------------------------------------------------- link events


class _NullLink:
    async def read(self) -> bytes:
        return b""

    async def write(self, data: bytes) -> None:
        raise AssertionError(f"Format #2 is output-only, wrote {data!r}")

    async def aclose(self) -> None:
        return None


def test_driver_link_up_changes_nothing() -> None:
    driver = NoninDf2Driver("oximeter")
    link: ByteLink = _NullLink()
    driver.on_link_up(link)
    assert len(run_packets([packet()], driver)) == 2


def test_driver_link_lost_discards_the_partial_packet() -> None:
    driver = NoninDf2Driver("oximeter")
    first = packet(hr_bpm=80).frames()
    assert run_frames(first[:10], driver) == []
    driver.on_link_lost()
    # The rest of the old packet is no packet at all; the next SYNC starts afresh.
    assert run_frames(first[10:], driver) == []
    readings = run_packets([packet(hr_bpm=81)], driver)
    assert [r.value for r in readings] == [97.0, 81.0]
    assert driver.assembler.packets_discarded == 1
    assert driver.assembler.frames_skipped == PACKET_LEN_FRAMES - 10


def test_driver_link_lost_discards_a_held_packet() -> None:
    driver = NoninDf2Driver("oximeter")
    # A whole packet, held for the next SYNC frame; the link drops before it comes.
    assert run_frames(packet(hr_bpm=80).frames(), driver) == []
    driver.on_link_lost()
    assert run_frames([NEXT_SYNC], driver) == []
    assert driver.assembler.packets == 0
    assert driver.assembler.packets_discarded == 1


def test_driver_link_lost_forgets_held_perfusion() -> None:
    driver = NoninDf2Driver("oximeter")
    run_packets([packet(flags=with_flag(StatusBit.RPRF, 2))], driver)
    driver.on_link_lost()
    assert statuses(run_packets([packet()], driver)) == [ReadingStatus.OK]


# ---------------------------------------------------------------- registry


def test_driver_spec_describes_the_protocol() -> None:
    assert DRIVER_SPEC.protocol is ProtocolId.NONIN_DF2
    assert DRIVER_SPEC.display_name == "Nonin (Serial Data Format #2)"
    assert DRIVER_SPEC.category == "oximeter"
    assert DRIVER_SPEC.baud == SERIAL_BAUD == 9600
    assert DRIVER_SPEC.stale_after_s == 3.0
    assert [(m.metric, m.unit, m.minimum, m.maximum) for m in DRIVER_SPEC.metrics] == [
        (Metric.SPO2_PERCENT, "%", 0.0, 100.0),
        (Metric.PULSE_RATE_BPM, "bpm", 18.0, 321.0),
    ]


def test_driver_spec_factories_build_a_working_pipeline() -> None:
    decoder = DRIVER_SPEC.decoder_factory()
    driver: DeviceDriver = DRIVER_SPEC.driver_factory("oximeter")
    assert isinstance(decoder, NoninDf2Decoder)
    assert isinstance(driver, NoninDf2Driver)
    frames = decoder.feed(packet(hr_bpm=140).encode() + NEXT)
    readings = [r for f in frames for r in driver.on_frame(f, 1.0, AT)]
    assert [r.value for r in as_readings(readings)] == [97.0, 140.0]
    assert decoder.stats.frames == PACKET_LEN_FRAMES + 1


# ---------------------------------------------------------------- corruption


@given(st.data())
def test_a_frame_with_a_corrupted_byte_never_becomes_a_reading(
    data: st.DataObject,
) -> None:
    # Every packet has its own pulse rate and SpO2, so a reading names its packet.
    packets = [packet(hr_bpm=40 + 25 * i, spo2_percent=85 + i) for i in range(8)]
    stream = bytearray(b"".join(p.encode() for p in packets))
    packet_bytes = PACKET_LEN_FRAMES * FRAME_LEN_BYTES
    hit = data.draw(st.integers(0, len(packets) - 1), label="packet")
    offset = data.draw(st.integers(0, packet_bytes - 1), label="offset")
    stream[hit * packet_bytes + offset] ^= data.draw(st.integers(1, 0xFF), label="xor")
    stream += NEXT
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts")
    readings, decoder = run_bytes(bytes(stream), cuts)
    assert decoder.stats.dropped_bytes >= 1
    pulses = [r.value for r in by_metric(readings, Metric.PULSE_RATE_BPM)]
    saturations = [r.value for r in by_metric(readings, Metric.SPO2_PERCENT)]
    assert packets[hit].hr_d_bpm not in pulses
    assert packets[hit].spo2_d_percent not in saturations
    # Only the damaged packet is lost, or also the next one when the damage sits in
    # the last frame and a false frame swallows the next SYNC frame's start byte.
    expected = [p.hr_d_bpm for i, p in enumerate(packets) if i != hit]
    if offset < FRAME_LEN_BYTES and hit:
        # A damaged SYNC frame cannot let out the packet held before it either.
        expected.remove(packets[hit - 1].hr_d_bpm)
    if pulses != expected:
        assert offset >= (PACKET_LEN_FRAMES - 1) * FRAME_LEN_BYTES
        expected.remove(packets[hit + 1].hr_d_bpm)
    assert pulses == expected
    assert all(r.status is ReadingStatus.OK for r in readings)


def test_a_checksum_error_in_the_middle_of_a_packet_drops_that_packet() -> None:
    packets = [packet(hr_bpm=100), packet(hr_bpm=200), packet(hr_bpm=150)]
    stream = bytearray(b"".join(p.encode() for p in packets))
    # Frame 8 of packet 1 is SpO2-D; break its checksum byte only.
    stream[(PACKET_LEN_FRAMES + 8) * FRAME_LEN_BYTES + 4] ^= 0x01
    readings, decoder = run_bytes(bytes(stream) + NEXT)
    assert [r.value for r in by_metric(readings, Metric.PULSE_RATE_BPM)] == [100, 150]
    assert decoder.stats.checksum_errors >= 1


def _frames_repeated(frames: Sequence[int], packets: int = 8) -> bytes:
    """``packets`` distinct packets and a SYNC frame, with ``frames`` sent twice.

    ``frames`` are indices into the whole stream of frames.
    """
    stream = [
        f
        for i in range(packets)
        for f in dataclasses.replace(
            packet(hr_bpm=40 + 25 * i, spo2_percent=85 + i), spo2_d_percent=60 + i
        ).frames()
    ]
    for index in sorted(frames, reverse=True):
        stream.insert(index, stream[index])
    return b"".join(f.encode() for f in [*stream, NEXT_SYNC])


@given(
    repeats=st.lists(st.integers(0, 8 * PACKET_LEN_FRAMES - 1), max_size=3),
    cuts=st.lists(st.integers(0, 8 * PACKET_LEN_FRAMES * FRAME_LEN_BYTES), max_size=8),
)
def test_a_packet_with_a_frame_repeated_never_becomes_a_reading(
    repeats: list[int], cuts: list[int]
) -> None:
    # Found by the fuzzer (RELIABILITY.md, "Bad input"): 25 valid frames after
    # SYNC, but with the later slots shifted, so HR-D and SpO2-D read other bytes.
    data = _frames_repeated(repeats)
    readings, _ = run_bytes(data, cuts)
    by_frame, _ = run_bytes_frame_by_frame(data, cuts)
    assert readings == by_frame
    # Packet i is lost when a frame inside it repeats, and when its last frame
    # does (the copy takes the place of the next SYNC frame). A repeated SYNC frame
    # costs nothing: the first copy lets out the packet before, the second opens one.
    hit = {index // PACKET_LEN_FRAMES for index in repeats if index % PACKET_LEN_FRAMES}
    kept = [i for i in range(8) if i not in hit]
    # Each reading is an original packet's: SpO2-D 60 + i, HR-D 40 + 25 i.
    spo2 = by_metric(readings, Metric.SPO2_PERCENT)
    pulses = by_metric(readings, Metric.PULSE_RATE_BPM)
    assert [r.value for r in spo2] == [60 + i for i in kept]
    assert [r.value for r in pulses] == [40 + 25 * i for i in kept]


# ---------------------------------------------------------------- real capture


def _beat_onsets(pleth: npt.NDArray[np.int32]) -> list[int]:
    """Sample indices where the systolic upstroke starts (slope crosses 5 per sample).

    A 0.4 s refractory period keeps one onset per beat (the capture is at rest).
    """
    slope = np.diff(pleth.astype(np.int64))
    onsets: list[int] = []
    for index in range(1, len(slope)):
        rising = slope[index] >= 5 > slope[index - 1]
        if rising and (not onsets or index - onsets[-1] > 0.4 * FRAME_RATE_HZ):
            onsets.append(index)
    return onsets


def _capture_packets(samples: list[int], onsets: list[int]) -> list[NoninDf2Packet]:
    """Wrap the real pleth in packets as an Xpod would send them.

    Status: bit 7, SYNC on frame 0, and green perfusion for 160 ms after each beat
    onset. HR: the 4-beat average of the beat intervals so far. Until four intervals
    are known, the device has no pulse yet: OOT with the 511/127 sentinels. SpO2: a
    resting 97-98 %.
    """
    indication = round(PERFUSION_INDICATION_S * FRAME_RATE_HZ)
    green = {i for onset in onsets for i in range(onset, onset + indication)}
    packets: list[NoninDf2Packet] = []
    for start in range(0, len(samples), PACKET_LEN_FRAMES):
        chunk = samples[start : start + PACKET_LEN_FRAMES]
        chunk += [0] * (PACKET_LEN_FRAMES - len(chunk))
        seen = [onset for onset in onsets if onset < start]
        if len(seen) < 5:
            flags = (StatusBit.OOT,) * PACKET_LEN_FRAMES
            packets.append(packet(None, None, flags, chunk))
            continue
        interval_s = (seen[-1] - seen[-5]) / 4 / FRAME_RATE_HZ
        flags = tuple(
            StatusBit.GPRF if start + i in green else StatusBit(0)
            for i in range(PACKET_LEN_FRAMES)
        )
        spo2 = 98 if (start // PACKET_LEN_FRAMES) % 5 == 0 else 97
        packets.append(packet(round(60 / interval_s), spo2, flags, chunk))
    return packets


def test_real_nonin_pleth_capture_survives_the_codec() -> None:
    if not CAPTURE.is_file():
        pytest.skip(
            f"shared Nonin capture not found at {CAPTURE} (shared folder absent)"
        )
    pleth = np.load(CAPTURE, allow_pickle=False)
    samples = [int(v) for v in pleth]
    assert len(samples) == 24_847  # README: 24,847 samples, about 5.5 min at 75 Hz
    packets = _capture_packets(samples, _beat_onsets(pleth))
    stream = b"".join(p.encode() for p in packets)
    # The last packet is partial: send only the frames that carry real samples.
    stream = stream[: len(samples) * FRAME_LEN_BYTES]
    # Serial reads come in uneven chunks; a fixed seed keeps the split reproducible.
    rng = random.Random(2)
    cuts = list(range(0, len(stream), 37))
    cuts = sorted({min(len(stream), c + rng.randrange(37)) for c in cuts})

    decoder = NoninDf2Decoder()
    driver = NoninDf2Driver("oximeter")
    items: list[NoninDf2Frame | NoninDf2FrameBlock] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        items += decoder.feed(stream[start:cut])
        start = cut
    frames = frames_of(items)
    readings = run_frames(items, driver)

    assert [f.pleth for f in frames] == samples
    assert decoder.stats.checksum_errors == 0
    assert decoder.stats.dropped_bytes == 0
    full = len(samples) // PACKET_LEN_FRAMES
    assert driver.assembler.packets == full
    assert len(readings) == 2 * full
    pulses = by_metric(readings, Metric.PULSE_RATE_BPM)
    saturations = by_metric(readings, Metric.SPO2_PERCENT)
    searching = [r for r in pulses if r.status is ReadingStatus.SEARCHING]
    assert 0 < len(searching) < 30  # the first seconds, before four beats
    ok_pulses = [r.value for r in pulses if r.value is not None]
    assert len(ok_pulses) + len(searching) == full
    assert all(40 <= v <= 140 for v in ok_pulses)
    assert 55 <= float(np.median(ok_pulses)) <= 90
    assert {r.value for r in saturations if r.value is not None} == {97.0, 98.0}


# ---------------------------------------------------------------- blocks


def _session(spans: Sequence[tuple[int, StatusBit, int | None]]) -> bytes:
    """Packets with varying values and states: (count, flags on frame 7, hr)."""
    out = []
    for count, flag, hr_bpm in spans:
        for i in range(count):
            hr = None if hr_bpm is None else hr_bpm + i
            spo2 = None if hr_bpm is None else 90 + i % 8
            out.append(packet(hr, spo2, with_flag(flag, 7, 8) if flag else NO_FLAGS))
    return b"".join(p.encode() for p in out) + NEXT


def _repeat_frames(data: bytes, frames: Iterable[int]) -> bytearray:
    """``data`` with the whole frames at ``frames`` (frame indices) sent twice."""
    stream = bytearray(data)
    for index in sorted(frames, reverse=True):
        at = index * FRAME_LEN_BYTES
        stream[at:at] = data[at : at + FRAME_LEN_BYTES]
    return stream


SESSION = _session(
    [
        (4, StatusBit(0), 70),
        (3, StatusBit.RPRF, 60),
        (5, StatusBit(0), 65),
        (2, StatusBit.SNSD | StatusBit.SNSA, None),
        (3, StatusBit.GPRF, 150),
        (2, StatusBit.OOT, None),
        (3, StatusBit.ARTF, 80),
    ]
)


@given(
    cuts=st.lists(st.integers(0, len(SESSION)), max_size=40),
    damage=st.lists(
        st.tuples(st.integers(0, len(SESSION) - 1), st.integers(1, 0xFF)), max_size=3
    ),
    garbage=st.lists(st.tuples(st.integers(0, len(SESSION)), st.binary(max_size=9))),
    repeats=st.lists(st.integers(0, len(SESSION) // FRAME_LEN_BYTES - 1), max_size=3),
)
def test_blocks_and_single_frames_give_identical_readings(
    cuts: list[int],
    damage: list[tuple[int, int]],
    garbage: list[tuple[int, bytes]],
    repeats: list[int],
) -> None:
    stream = _repeat_frames(SESSION, repeats)
    for index, xor in damage:
        stream[index] ^= xor
    for index, noise in sorted(garbage, reverse=True):
        stream[index:index] = noise
    data = bytes(stream)
    cuts = [c for c in cuts if c <= len(data)]
    by_item, decoder = run_bytes(data, cuts)
    by_frame, assembler = run_bytes_frame_by_frame(data, cuts)
    # Values, statuses and receive times all agree.
    assert by_item == by_frame
    # So do the assembler's counts, with the whole stream fed at once as well.
    driver = NoninDf2Driver("oximeter")
    for item in NoninDf2Decoder().feed(data):
        driver.on_frame(item, 0.0, AT)
    counts = (assembler.packets, assembler.packets_discarded, assembler.frames_skipped)
    whole = driver.assembler
    assert (whole.packets, whole.packets_discarded, whole.frames_skipped) == counts
    assert decoder.stats.frames == len(frames_of(NoninDf2Decoder().feed(data)))


def test_readings_do_not_depend_on_the_chunking() -> None:
    whole, _ = run_bytes(SESSION)
    assert len(whole) == 2 * 22
    rng = random.Random(5)
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(SESSION)), 30))
        split, _ = run_bytes(SESSION, cuts)
        # Only the receive times differ: they are the times of the chunks.
        strip = [(r.metric, r.value, r.status) for r in split]
        assert strip == [(r.metric, r.value, r.status) for r in whole]


def test_a_block_completing_several_packets_yields_their_readings_in_order() -> None:
    packets = [packet(hr_bpm=100 + i) for i in range(3)]
    block = NoninDf2FrameBlock.from_frames(
        [*(f for p in packets for f in p.frames()), NEXT_SYNC]
    )
    driver = NoninDf2Driver("oximeter")
    readings = as_readings(driver.on_frame(block, 7.5, AT))
    assert [r.value for r in by_metric(readings, Metric.PULSE_RATE_BPM)] == [
        100,
        101,
        102,
    ]
    assert {r.received_mono for r in readings} == {7.5}


def _at(mono: float) -> datetime:
    return AT + timedelta(seconds=mono)


@given(
    cuts=st.lists(st.integers(0, len(SESSION)), max_size=60),
    damage=st.lists(
        st.tuples(st.integers(0, len(SESSION) - 1), st.integers(1, 0xFF)), max_size=3
    ),
    lost_at=st.lists(st.integers(0, 60), max_size=2),
    repeats=st.lists(st.integers(0, len(SESSION) // FRAME_LEN_BYTES - 1), max_size=3),
)
def test_frames_of_many_reads_in_one_call_give_the_same_readings(
    cuts: list[int],
    damage: list[tuple[int, int]],
    lost_at: list[int],
    repeats: list[int],
) -> None:
    stream = _repeat_frames(SESSION, repeats)
    for index, xor in damage:
        stream[index] ^= xor
    bounds = [0, *sorted(cuts), len(stream)]
    reads = [bytes(stream[a:b]) for a, b in itertools.pairwise(bounds)]
    times = [float(i) for i in range(len(reads))]
    # Read by read, with the link dropping before the reads in ``lost_at``.
    one_by_one = NoninDf2Driver("oximeter")
    decoder = NoninDf2Decoder()
    expected: dict[int, list[AnyReading]] = {}
    for index, (read, t) in enumerate(zip(reads, times, strict=True)):
        if index in lost_at:
            one_by_one.on_link_lost()
        for item in decoder.feed(read):
            expected.setdefault(index, []).extend(one_by_one.on_frame(item, t, _at(t)))
    expected = {i: readings for i, readings in expected.items() if readings}
    # The same reads in batches that end where the link drops.
    batched = NoninDf2Driver("oximeter")
    decoder = NoninDf2Decoder()
    got: dict[int, list[AnyReading]] = {}
    starts = sorted({0, *(i for i in lost_at if i < len(reads)), len(reads)})
    for start, end in itertools.pairwise(starts):
        if start in lost_at:
            batched.on_link_lost()
        items, counts = decoder.feed_counted(reads[start:end])
        chunked = batched.on_frames_chunked(items, counts, times[start:end], _at)
        got.update({start + i: readings for i, readings in chunked.items()})
    assert got == expected
    assembled = [
        (d.assembler.packets, d.assembler.packets_discarded, d.assembler.frames_skipped)
        for d in (one_by_one, batched)
    ]
    assert assembled[0] == assembled[1]


def test_frames_of_many_reads_take_lone_frames_and_skip_other_objects() -> None:
    frames = packet(hr_bpm=90).frames()
    block = NoninDf2FrameBlock.from_frames(frames)
    driver = NoninDf2Driver("oximeter")
    # Read 0 brings the packet, read 1 nothing, read 2 the next packet's SYNC frame,
    # which lets the packet out.
    readings = driver.on_frames_chunked(
        [block, "not a frame", NEXT_SYNC], [25, 0, 1], [1.0, 2.0, 3.0], _at
    )
    assert list(readings) == [2]
    spo2, pulse = as_readings(readings[2])
    assert (spo2.value, pulse.value) == (97.0, 90.0)
    assert pulse.received_mono == 3.0
    assert pulse.received_at == _at(3.0)

"""Layer 1 and 2 tests of the Nonin DF2 codec: vectors, round trips, chunking, noise.

The decoder hands out runs of consecutive frames as blocks, and where a run is cut
depends on the chunking. So the chunking and noise tests compare frames (blocks
expanded with ``frames_of``), packets and stats, never the blocks themselves.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.codec import MAX_BUFFER_BYTES, DecoderStats
from roomctl.devices.nonin_df2.protocol import (
    FRAME_LEN_BYTES,
    HR_MISSING_BPM,
    PACKET_LEN_FRAMES,
    SPO2_MISSING_PERCENT,
    START_BYTE,
    FrameSlot,
    NoninDf2Decoder,
    NoninDf2Frame,
    NoninDf2FrameBlock,
    NoninDf2Packet,
    NoninDf2PacketAssembler,
    Perfusion,
    StatusBit,
    encode_packet,
    frames_of,
    parse_frame,
)
from roomctl.errors import ChecksumError, FrameError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# ---------------------------------------------------------------- helpers

frames_st = st.builds(
    NoninDf2Frame,
    status=st.integers(0x80, 0xFF),
    pleth=st.integers(0, 0xFF),
    data=st.integers(0, 0x7F),
)
frame_lists = st.lists(frames_st, min_size=1, max_size=40)
hr_values = st.one_of(st.none(), st.integers(0, HR_MISSING_BPM - 1))
spo2_values = st.one_of(st.none(), st.integers(0, SPO2_MISSING_PERCENT - 1))
PLETH = tuple(range(100, 100 + PACKET_LEN_FRAMES))


def wire(frames: Iterable[NoninDf2Frame]) -> bytes:
    return b"".join(frame.encode() for frame in frames)


def on_wire(frames: Iterable[NoninDf2Frame]) -> list[tuple[int, int, int]]:
    """What the wire carries of each frame (``after_gap`` is the decoder's note)."""
    return [(f.status, f.pleth, f.data) for f in frames]


def feed_chunks(
    data: bytes, cuts: Iterable[int]
) -> tuple[list[NoninDf2Frame], NoninDf2Decoder]:
    """Feed ``data`` cut at ``cuts``; return the frames (blocks expanded)."""
    decoder = NoninDf2Decoder()
    frames: list[NoninDf2Frame] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        frames += frames_of(decoder.feed(data[start:cut]))
        start = max(start, cut)
    return frames, decoder


def decode(data: bytes) -> tuple[list[NoninDf2Frame], NoninDf2Decoder]:
    return feed_chunks(data, [])


def steady(
    hr_bpm: int | None = 72,
    spo2_percent: int | None = 97,
    flags: Sequence[StatusBit] = (),
) -> NoninDf2Packet:
    return NoninDf2Packet.uniform(
        hr_bpm=hr_bpm, spo2_percent=spo2_percent, pleth=PLETH, flags=flags
    )


def assemble(frames: Iterable[NoninDf2Frame]) -> list[NoninDf2Packet]:
    assembler = NoninDf2PacketAssembler()
    return [p for p in map(assembler.add, frames) if p is not None]


#: The first frame of a next packet: it lets out the packet held before it.
NEXT_SYNC = steady(hr_bpm=None, spo2_percent=None).frames()[0]
#: ... on the wire.
NEXT = NEXT_SYNC.encode()


# ---------------------------------------------------------------- layer 1: vectors

# Constructed in protocols.md §1.2 from the stated rules.
VECTORS = [
    pytest.param(
        "01 83 7A 00 FE",
        NoninDf2Frame(status=0x83, pleth=0x7A, data=0x00),
        id="first-frame-green-hr-msb-0",
    ),
    pytest.param(
        "01 C8 00 7F 48",
        NoninDf2Frame(status=0xC8, pleth=0x00, data=0x7F),
        id="sensor-disconnected-spo2-127",
    ),
]


@pytest.mark.parametrize(("hex_bytes", "expected"), VECTORS)
def test_decoder_decodes_protocols_md_vectors(
    hex_bytes: str, expected: NoninDf2Frame
) -> None:
    frames, decoder = decode(bytes.fromhex(hex_bytes))
    assert frames == [expected]
    assert parse_frame(bytes.fromhex(hex_bytes)) == expected
    assert expected.encode() == bytes.fromhex(hex_bytes)
    assert decoder.stats == DecoderStats(frames=1, bytes_in=5)


def test_frame_properties_of_first_vector() -> None:
    frame = parse_frame(bytes.fromhex("01 83 7A 00 FE"))
    assert frame.sync
    assert frame.perfusion is Perfusion.GREEN
    assert frame.flags == StatusBit.ALWAYS_SET | StatusBit.GPRF | StatusBit.SYNC
    assert not frame.sensor_alarm
    assert not frame.out_of_track
    assert not frame.artifact
    assert not frame.sensor_disconnected


def test_frame_properties_of_sensor_off_vector() -> None:
    frame = parse_frame(bytes.fromhex("01 C8 00 7F 48"))
    assert frame.sensor_disconnected
    assert frame.sensor_alarm
    assert not frame.sync
    assert not frame.out_of_track
    assert not frame.artifact
    assert frame.perfusion is Perfusion.NONE
    assert frame.data == SPO2_MISSING_PERCENT


@pytest.mark.parametrize(
    ("bit", "attribute"),
    [
        (StatusBit.SYNC, "sync"),
        (StatusBit.SNSA, "sensor_alarm"),
        (StatusBit.OOT, "out_of_track"),
        (StatusBit.ARTF, "artifact"),
        (StatusBit.SNSD, "sensor_disconnected"),
    ],
)
def test_frame_status_bit_maps_to_its_property(bit: StatusBit, attribute: str) -> None:
    frame = NoninDf2Frame(status=0x80 | bit, pleth=0, data=0)
    assert getattr(frame, attribute) is True
    assert getattr(NoninDf2Frame(status=0x80, pleth=0, data=0), attribute) is False


@pytest.mark.parametrize(
    ("status", "perfusion"),
    [
        (0x80, Perfusion.NONE),
        (0x82, Perfusion.GREEN),
        (0x84, Perfusion.RED),
        (0x86, Perfusion.YELLOW),
        (0xFF, Perfusion.YELLOW),
    ],
)
def test_frame_perfusion_bits(status: int, perfusion: Perfusion) -> None:
    assert NoninDf2Frame(status=status, pleth=0, data=0).perfusion is perfusion


@pytest.mark.parametrize(
    ("status", "pleth", "data", "message"),
    [
        (0x7F, 0, 0, "status must be 0x80-0xFF"),
        (0x100, 0, 0, "status must be 0x80-0xFF"),
        (0x80, -1, 0, "pleth must be 0-255"),
        (0x80, 256, 0, "pleth must be 0-255"),
        (0x80, 0, 0x80, "data must be 0-127"),
        (0x80, 0, -1, "data must be 0-127"),
    ],
)
def test_frame_rejects_values_the_wire_cannot_carry(
    status: int, pleth: int, data: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        NoninDf2Frame(status=status, pleth=pleth, data=data)


@pytest.mark.parametrize(
    ("hex_bytes", "error", "message"),
    [
        ("01 83 7A 00", FrameError, "is 5 bytes, got 4"),
        ("01 83 7A 00 FE 00", FrameError, "is 5 bytes, got 6"),
        ("02 83 7A 00 FF", FrameError, "not a Nonin DF2 frame"),
        ("01 03 7A 00 7E", FrameError, "not a Nonin DF2 frame"),
        ("01 83 7A 80 7E", FrameError, "not a Nonin DF2 frame"),
        ("01 83 7A 00 FF", ChecksumError, r"checksum 0xff != 0xfe"),
    ],
)
def test_parse_frame_rejects_bad_bytes(
    hex_bytes: str, error: type[FrameError], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        parse_frame(bytes.fromhex(hex_bytes))
    assert repr(bytes.fromhex(hex_bytes)) in str(caught.value)


@given(frames_st)
def test_frame_round_trips(frame: NoninDf2Frame) -> None:
    data = frame.encode()
    assert len(data) == FRAME_LEN_BYTES
    assert parse_frame(data) == frame
    assert decode(data)[0] == [frame]


def test_frame_encode_ignores_after_gap() -> None:
    frame = NoninDf2Frame(status=0x83, pleth=0x7A, data=0)
    assert dataclasses.replace(frame, after_gap=True).encode() == frame.encode()


# ---------------------------------------------------------------- layer 2: chunking


def _stream() -> bytes:
    packets = [steady(hr_bpm=60 + 40 * i, spo2_percent=90 + i) for i in range(4)]
    return b"".join(p.encode() for p in packets)


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 6, 7, 11, 64, 125, 4096])
def test_decoder_gives_same_frames_for_any_chunk_size(chunk: int) -> None:
    data = b"\x00\x01\x83" + _stream() + b"\xff\x01"
    expected, whole = decode(data)
    frames, decoder = feed_chunks(data, range(chunk, len(data), chunk))
    assert frames == expected
    assert decoder.stats == whole.stats


def test_decoder_one_byte_at_a_time() -> None:
    data = _stream()
    decoder = NoninDf2Decoder()
    items = [f for byte in data for f in decoder.feed(bytes((byte,)))]
    # One byte completes at most one frame, so nothing comes out as a block.
    frames = [f for f in items if isinstance(f, NoninDf2Frame)]
    assert frames == items
    assert frames == decode(data)[0]
    assert len(frames) == 4 * PACKET_LEN_FRAMES
    # The fourth packet is held: no next packet's SYNC frame follows it.
    assert len(assemble(frames)) == 3
    assert len(assemble([*frames, NEXT_SYNC])) == 4


@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=30))
def test_decoder_random_splits_of_arbitrary_bytes_agree(
    data: bytes, cuts: list[int]
) -> None:
    expected, whole = decode(data)
    frames, decoder = feed_chunks(data, [c for c in cuts if c <= len(data)])
    assert frames == expected
    assert decoder.stats == whole.stats


@given(frame_lists, st.lists(st.integers(0, 200), max_size=20))
def test_decoder_random_splits_of_valid_frames(
    frames: list[NoninDf2Frame], cuts: list[int]
) -> None:
    data = wire(frames)
    decoded, decoder = feed_chunks(data, [c for c in cuts if c <= len(data)])
    assert decoded == frames
    assert decoder.stats == DecoderStats(frames=len(frames), bytes_in=len(data))


# ---------------------------------------------------------------- layer 2: noise


@given(st.binary(max_size=300), frame_lists)
def test_decoder_recovers_frames_after_garbage_prefix(
    garbage: bytes, frames: list[NoninDf2Frame]
) -> None:
    decoded, _ = decode(garbage + wire(frames))
    # Garbage can borrow the first true frame's leading bytes to fake a frame, so the
    # first true frame may be lost; inside clean frames no false boundary exists, so
    # every later frame comes back.
    tail = on_wire(frames[1:])
    assert on_wire(decoded)[len(decoded) - len(tail) :] == tail


@given(st.binary(max_size=300).filter(lambda b: START_BYTE not in b), frame_lists)
def test_decoder_recovers_every_frame_after_garbage_without_start_byte(
    garbage: bytes, frames: list[NoninDf2Frame]
) -> None:
    decoded, decoder = decode(garbage + wire(frames))
    assert on_wire(decoded) == on_wire(frames)
    assert decoded[0].after_gap is bool(garbage)
    assert not any(f.after_gap for f in decoded[1:])
    assert decoder.stats.dropped_bytes == len(garbage)
    assert decoder.stats.resyncs == int(bool(garbage))


@given(frame_lists, st.binary(max_size=100), frame_lists)
def test_decoder_recovers_frames_around_garbage_infix(
    before: list[NoninDf2Frame], garbage: bytes, after: list[NoninDf2Frame]
) -> None:
    decoded, _ = decode(wire(before) + garbage + wire(after))
    assert decoded[: len(before)] == before
    tail = on_wire(after[1:])
    assert on_wire(decoded)[len(decoded) - len(tail) :] == tail


@given(frame_lists, st.data())
def test_decoder_truncated_stream_gives_complete_frames_only(
    frames: list[NoninDf2Frame], data: st.DataObject
) -> None:
    stream = wire(frames)
    cut = data.draw(st.integers(0, len(stream)))
    decoded, decoder = decode(stream[:cut])
    assert decoded == frames[: cut // FRAME_LEN_BYTES]
    assert decoder.stats.dropped_bytes == 0
    assert len(decoder._buffer) == cut % FRAME_LEN_BYTES


@given(
    st.lists(st.one_of(st.binary(max_size=12), frames_st.map(lambda f: f.encode()))),
    st.lists(st.integers(0, 400), max_size=10),
)
def test_decoder_never_raises_and_accounts_for_every_byte(
    pieces: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(pieces)
    decoder = NoninDf2Decoder()
    frames: list[NoninDf2Frame] = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        frames += frames_of(decoder.feed(data[start:cut]))
        start = cut
        assert len(decoder._buffer) < FRAME_LEN_BYTES <= MAX_BUFFER_BYTES
    stats = decoder.stats
    assert stats.frames == len(frames)
    assert stats.bytes_in == len(data)
    assert stats.dropped_bytes + FRAME_LEN_BYTES * stats.frames + len(
        decoder._buffer
    ) == len(data)
    assert stats.resyncs == sum(f.after_gap for f in frames)
    assert stats.checksum_errors <= stats.dropped_bytes


@given(frame_lists, st.data())
def test_decoder_drops_a_frame_with_a_flipped_byte(
    frames: list[NoninDf2Frame], data: st.DataObject
) -> None:
    stream = bytearray(wire(frames))
    index = data.draw(st.integers(0, len(stream) - 1))
    stream[index] ^= data.draw(st.integers(1, 0xFF))
    decoded, decoder = decode(bytes(stream))
    hit = index // FRAME_LEN_BYTES
    # Frames before the damaged one are untouched; the damaged one never comes back
    # as a clean frame (any frame decoded from its bytes follows a gap).
    assert decoded[:hit] == frames[:hit]
    assert decoder.stats.dropped_bytes >= 1
    assert all(f.after_gap for f in decoded[hit : hit + 1])


def test_decoder_flood_of_garbage_stays_bounded() -> None:
    decoder = NoninDf2Decoder()
    for _ in range(10):
        assert decoder.feed(bytes(3 * MAX_BUFFER_BYTES)) == []
        assert len(decoder._buffer) == FRAME_LEN_BYTES - 1
    stats = decoder.stats
    assert stats.dropped_bytes == 30 * MAX_BUFFER_BYTES - (FRAME_LEN_BYTES - 1)
    assert stats.checksum_errors == 0
    assert stats.resyncs == 0
    frames = decoder.feed(bytes.fromhex("01 83 7A 00 FE"))
    assert frames == [NoninDf2Frame(status=0x83, pleth=0x7A, data=0, after_gap=True)]
    assert decoder.stats.resyncs == 1


# ---------------------------------------------------------------- stats


def test_decoder_counts_a_checksum_error_and_resyncs() -> None:
    bad = bytes.fromhex("01 83 7A 00 FF")
    good = bytes.fromhex("01 83 7A 00 FE")
    frames, decoder = decode(good + bad + good)
    assert frames == [
        NoninDf2Frame(status=0x83, pleth=0x7A, data=0),
        NoninDf2Frame(status=0x83, pleth=0x7A, data=0, after_gap=True),
    ]
    assert decoder.stats == DecoderStats(
        frames=2, bytes_in=15, dropped_bytes=5, checksum_errors=1, resyncs=1
    )


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("02 83 7A 00 FF", id="start-byte"),
        pytest.param("01 03 7A 00 7E", id="status-bit-7-clear"),
        pytest.param("01 83 7A 80 7E", id="data-bit-7-set"),
    ],
)
def test_decoder_structural_faults_are_not_checksum_errors(bad: str) -> None:
    good = bytes.fromhex("01 83 7A 00 FE")
    frames, decoder = decode(bytes.fromhex(bad) + good)
    assert on_wire(frames) == [(0x83, 0x7A, 0)]
    assert frames[0].after_gap
    assert decoder.stats == DecoderStats(
        frames=1, bytes_in=10, dropped_bytes=5, checksum_errors=0, resyncs=1
    )


def test_decoder_trailing_garbage_is_dropped_without_a_resync() -> None:
    frames, decoder = decode(bytes.fromhex("01 83 7A 00 FE 00 00 00 00 00 00"))
    assert len(frames) == 1
    assert decoder.stats == DecoderStats(
        frames=1, bytes_in=11, dropped_bytes=2, checksum_errors=0, resyncs=0
    )


def test_decoder_stats_is_a_copy() -> None:
    decoder = NoninDf2Decoder()
    decoder.stats.frames = 99
    assert decoder.stats.frames == 0


# ---------------------------------------------------------------- packets


@given(hr_values)
def test_heart_rate_round_trips_through_nine_bits(hr_bpm: int | None) -> None:
    [packet] = assemble(decode(steady(hr_bpm=hr_bpm).encode() + NEXT)[0])
    assert packet.hr_bpm == hr_bpm
    assert packet.ehr_bpm == hr_bpm
    assert packet.hr_d_bpm == hr_bpm
    assert packet.ehr_d_bpm == hr_bpm


@pytest.mark.parametrize("hr_bpm", [127, 128, 129, 150, 200, 255, 256, 300])
def test_heart_rate_of_128_and_above_uses_the_msb_frame(hr_bpm: int) -> None:
    frames = steady(hr_bpm=hr_bpm).frames()
    msb, lsb = frames[FrameSlot.HR_MSB].data, frames[FrameSlot.HR_LSB].data
    # HR bits 8-7 go to bits 1-0 of the MSB frame (a shift by 7, not by 8).
    assert (msb, lsb) == (hr_bpm >> 7, hr_bpm & 0x7F)
    assert NoninDf2Packet.from_frames(frames).hr_bpm == hr_bpm


def test_heart_rate_msb_ignores_undocumented_high_bits() -> None:
    frames = list(steady(hr_bpm=200).frames())
    frames[FrameSlot.HR_MSB] = dataclasses.replace(
        frames[FrameSlot.HR_MSB], data=0x7C | 0x01
    )
    assert NoninDf2Packet.from_frames(frames).hr_bpm == 200


def test_sentinels_decode_to_none() -> None:
    frames = steady(hr_bpm=None, spo2_percent=None).frames()
    assert frames[FrameSlot.SPO2].data == SPO2_MISSING_PERCENT
    assert (frames[FrameSlot.HR_MSB].data, frames[FrameSlot.HR_LSB].data) == (3, 0x7F)
    packet = NoninDf2Packet.from_frames(frames)
    assert packet.hr_bpm is None
    assert packet.spo2_percent is None
    assert packet.spo2_d_percent is None
    assert packet.hr_d_bpm is None


@given(
    hr=st.tuples(hr_values, hr_values, hr_values, hr_values),
    spo2=st.tuples(*(spo2_values,) * 6),
    firmware=st.integers(0, 0x7F),
    pleth=st.lists(
        st.integers(0, 0xFF), min_size=PACKET_LEN_FRAMES, max_size=PACKET_LEN_FRAMES
    ),
    flags=st.lists(
        st.integers(0, 0x7E).map(lambda v: StatusBit(v & ~StatusBit.SYNC)),
        min_size=PACKET_LEN_FRAMES,
        max_size=PACKET_LEN_FRAMES,
    ),
)
def test_packet_round_trips_every_field(
    hr: tuple[int | None, ...],
    spo2: tuple[int | None, ...],
    firmware: int,
    pleth: list[int],
    flags: list[StatusBit],
) -> None:
    base = NoninDf2Packet.uniform(
        hr_bpm=None, spo2_percent=None, pleth=pleth, flags=flags
    )
    packet = dataclasses.replace(
        base,
        hr_bpm=hr[0],
        ehr_bpm=hr[1],
        hr_d_bpm=hr[2],
        ehr_d_bpm=hr[3],
        spo2_percent=spo2[0],
        spo2_d_percent=spo2[1],
        spo2_fast_percent=spo2[2],
        spo2_bb_percent=spo2[3],
        espo2_percent=spo2[4],
        espo2_d_percent=spo2[5],
        firmware_revision=firmware,
    )
    assert assemble(decode(packet.encode() + NEXT)[0]) == [packet]
    # ``from_wire`` sets the fields itself: every one, the derived flags included.
    decoded = NoninDf2Packet.from_wire(packet.encode())
    assert repr(decoded) == repr(packet)
    assert decoded.status_bits == packet.status_bits


def test_packet_slots_follow_protocols_md() -> None:
    packet = dataclasses.replace(
        steady(),
        hr_bpm=1,
        spo2_percent=2,
        firmware_revision=3,
        spo2_d_percent=8,
        spo2_fast_percent=9,
        spo2_bb_percent=10,
        ehr_bpm=13,
        espo2_percent=15,
        espo2_d_percent=16,
        hr_d_bpm=19,
        ehr_d_bpm=21,
    )
    data = [frame.data for frame in packet.frames()]
    assert data == [
        0, 1, 2, 3, 0, 0, 0, 0, 8, 9, 10, 0, 0, 0, 13, 15, 16, 0, 0, 0, 19, 0, 21, 0, 0
    ]  # fmt: skip


def test_encode_packet_builds_a_steady_packet() -> None:
    flags = [StatusBit.GPRF] + [StatusBit(0)] * (PACKET_LEN_FRAMES - 1)
    data = encode_packet(
        hr_bpm=150, spo2_percent=96, pleth=PLETH, flags=flags, firmware_revision=7
    )
    assert len(data) == PACKET_LEN_FRAMES * FRAME_LEN_BYTES
    [packet] = assemble(decode(data + NEXT)[0])
    assert packet == NoninDf2Packet.uniform(
        hr_bpm=150, spo2_percent=96, pleth=PLETH, flags=flags, firmware_revision=7
    )
    assert packet.statuses[0] == 0x83
    assert set(packet.statuses[1:]) == {0x80}
    assert packet.pleth == PLETH


def test_packet_aggregates_status_flags_over_frames() -> None:
    flags = [StatusBit(0)] * PACKET_LEN_FRAMES
    assert not any(
        (
            steady().sensor_disconnected,
            steady().sensor_alarm,
            steady().out_of_track,
            steady().artifact,
        )
    )
    for bit, attribute in [
        (StatusBit.SNSD, "sensor_disconnected"),
        (StatusBit.SNSA, "sensor_alarm"),
        (StatusBit.OOT, "out_of_track"),
        (StatusBit.ARTF, "artifact"),
    ]:
        one = list(flags)
        one[17] = bit
        assert getattr(steady(flags=one), attribute) is True


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ([], Perfusion.NONE),
        ([Perfusion.RED, Perfusion.RED], Perfusion.RED),
        ([Perfusion.GREEN], Perfusion.GREEN),
        ([Perfusion.YELLOW], Perfusion.YELLOW),
        ([Perfusion.RED, Perfusion.GREEN], Perfusion.YELLOW),
        ([Perfusion.GREEN, Perfusion.YELLOW], Perfusion.YELLOW),
    ],
)
def test_packet_perfusion_over_the_frames_that_carry_one(
    shown: list[Perfusion], expected: Perfusion
) -> None:
    flags = [StatusBit(0)] * PACKET_LEN_FRAMES
    for index, perfusion in enumerate(shown):
        flags[3 + 5 * index] = StatusBit(perfusion << 1)
    assert steady(flags=flags).perfusion is expected


def _statuses(index: int = 0, value: int = 0x81) -> tuple[int, ...]:
    statuses = [0x81] + [0x80] * (PACKET_LEN_FRAMES - 1)
    statuses[index] = value
    return tuple(statuses)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"statuses": _statuses()[:-1]}, "25 status bytes and 25 pleth"),
        ({"pleth": (*PLETH, 0)}, "25 status bytes and 25 pleth"),
        ({"statuses": _statuses(4, 0x00)}, "status 4 must have bit 7 set"),
        ({"statuses": _statuses(4, 0x100)}, "status 4 must have bit 7 set"),
        ({"statuses": _statuses(0, 0x80)}, "SYNC must be set on frame 0"),
        ({"statuses": _statuses(9, 0x81)}, "SYNC must be set on frame 0"),
        ({"pleth": (256, *PLETH[1:])}, "pleth samples must be 0-255"),
        ({"pleth": (-1, *PLETH[1:])}, "pleth samples must be 0-255"),
        ({"firmware_revision": 128}, "firmware_revision must be 0-127"),
        ({"firmware_revision": -1}, "firmware_revision must be 0-127"),
        ({"spo2_percent": SPO2_MISSING_PERCENT}, "spo2_percent must be 0-126"),
        ({"espo2_d_percent": -1}, "espo2_d_percent must be 0-126"),
        ({"hr_bpm": HR_MISSING_BPM}, "hr_bpm must be 0-510"),
        ({"ehr_d_bpm": -1}, "ehr_d_bpm must be 0-510"),
    ],
)
def test_packet_rejects_what_the_wire_cannot_carry(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(steady(), **changes)  # type: ignore[arg-type]


def test_uniform_rejects_a_wrong_number_of_flags() -> None:
    with pytest.raises(ValueError, match="flags must be empty or 25 entries"):
        steady(flags=[StatusBit(0)] * 3)


def test_uniform_rejects_sync_on_a_later_frame() -> None:
    flags = [StatusBit(0)] * PACKET_LEN_FRAMES
    flags[5] = StatusBit.SYNC
    with pytest.raises(ValueError, match="SYNC must be set on frame 0"):
        steady(flags=flags)


def test_from_frames_rejects_a_wrong_frame_count() -> None:
    frames = steady().frames()
    with pytest.raises(FrameError, match="a packet is 25 frames, got 24"):
        NoninDf2Packet.from_frames(frames[:-1])


@pytest.mark.parametrize("index", [0, 1, 24])
def test_from_frames_rejects_misplaced_sync(index: int) -> None:
    frames = list(steady().frames())
    frames[index] = dataclasses.replace(
        frames[index], status=frames[index].status ^ StatusBit.SYNC
    )
    with pytest.raises(FrameError, match="SYNC on frame 0 and on no other"):
        NoninDf2Packet.from_frames(frames)


# ---------------------------------------------------------------- assembler


def test_assembler_emits_each_packet_with_the_next_packets_sync_frame() -> None:
    packets = [steady(hr_bpm=100 + i) for i in range(3)]
    assembler = NoninDf2PacketAssembler()
    out = [assembler.add(f) for p in packets for f in p.frames()]
    # A packet is held after its 25th frame and let out by the next SYNC frame: one
    # frame (1/75 s) later. The last one waits for a packet that has not come yet.
    assert [p for p in out if p is not None] == packets[:2]
    assert [i for i, p in enumerate(out) if p is not None] == [25, 50]
    assert assembler.add(NEXT_SYNC) == packets[2]
    assert assembler.packets == 3
    assert assembler.packets_discarded == 0
    assert assembler.frames_skipped == 0


def test_assembler_skips_frames_until_the_first_sync() -> None:
    frames = steady(hr_bpm=80).frames()[10:] + steady(hr_bpm=81).frames()
    assembler = NoninDf2PacketAssembler()
    assert [p.hr_bpm for p in map(assembler.add, [*frames, NEXT_SYNC]) if p] == [81]
    assert assembler.frames_skipped == 15
    assert assembler.packets_discarded == 0


@pytest.mark.parametrize("lost", [1, 12, 24])
def test_assembler_discards_a_packet_missing_a_frame(lost: int) -> None:
    first = list(steady(hr_bpm=80).frames())
    del first[lost]
    assembler = NoninDf2PacketAssembler()
    out = [assembler.add(f) for f in [*first, *steady(hr_bpm=81).frames(), NEXT_SYNC]]
    # The early SYNC of the next packet gives the loss away even without a gap flag.
    assert [p.hr_bpm for p in out if p] == [81]
    assert assembler.packets_discarded == 1


#: Data slots whose byte the driver reads: a shift by one frame changes what they say.
SHIFTED_SLOTS = [FrameSlot.SPO2_D, FrameSlot.HR_D_MSB, FrameSlot.HR_D_LSB]


def _distinct_packet(hr_bpm: int) -> NoninDf2Packet:
    """A packet whose every value differs, so that a shifted slot reads another."""
    return dataclasses.replace(
        steady(hr_bpm=hr_bpm, spo2_percent=70),
        spo2_d_percent=91,
        spo2_fast_percent=92,
        hr_d_bpm=hr_bpm + 1,
        ehr_d_bpm=hr_bpm + 2,
    )


@pytest.mark.parametrize("at", [1, 2, 7, 8, 12, 18, 19, 20, 24])
def test_assembler_discards_a_packet_with_a_frame_repeated(at: int) -> None:
    # Found by the fuzzer (RELIABILITY.md, "Bad input"): frame ``at`` sent twice
    # still leaves 25 valid frames after SYNC, with every later slot shifted by one.
    first = list(_distinct_packet(80).frames())
    first.insert(at, first[at])
    frames = [*first, *_distinct_packet(120).frames(), NEXT_SYNC]
    assembler = NoninDf2PacketAssembler()
    out = [p for p in map(assembler.add, frames) if p is not None]
    assert out == [_distinct_packet(120)]
    assert (assembler.packets, assembler.packets_discarded) == (1, 1)
    # The frame after the held packet's 25th (its old frame 24) is skipped.
    assert assembler.frames_skipped == 1


@pytest.mark.parametrize("at", [1, 8, 19, 20, 24])
@pytest.mark.parametrize("donor", [3, 8, 19, 24])
def test_assembler_discards_a_packet_with_a_frame_spliced_in(
    at: int, donor: int
) -> None:
    # A whole valid frame of another packet, spliced in at a frame boundary.
    first = list(_distinct_packet(80).frames())
    first.insert(at, _distinct_packet(200).frames()[donor])
    frames = [*first, *_distinct_packet(120).frames(), NEXT_SYNC]
    assert assemble(frames) == [_distinct_packet(120)]


def test_the_shift_would_change_the_values_read() -> None:
    # What the hold prevents: the first 25 frames of a packet with frame 3 repeated
    # read, as a packet, other values in the slots the driver uses.
    frames = list(_distinct_packet(80).frames())
    frames.insert(3, frames[3])
    shifted = NoninDf2Packet.from_frames(frames[:PACKET_LEN_FRAMES])
    assert (shifted.spo2_d_percent, shifted.hr_d_bpm) != (91, 81)


def test_assembler_discards_a_held_packet_when_the_sync_frame_follows_a_gap() -> None:
    packets = [steady(hr_bpm=80), steady(hr_bpm=81)]
    second = list(packets[1].frames())
    second[0] = dataclasses.replace(second[0], after_gap=True)
    assembler = NoninDf2PacketAssembler()
    out = [assembler.add(f) for f in [*packets[0].frames(), *second, NEXT_SYNC]]
    # Bytes were lost between the two: the first packet's end is not proven.
    assert [p for p in out if p] == [packets[1]]
    assert _assembled(assembler) == (1, 1, 0)


def test_assembler_discards_a_held_packet_at_a_block_after_a_gap() -> None:
    first, second = steady(hr_bpm=80).frames(), steady(hr_bpm=81).frames()
    assembler = NoninDf2PacketAssembler()
    assert assembler.add_block(NoninDf2FrameBlock.from_frames(first)) == []
    tail = [dataclasses.replace(second[0], after_gap=True), *second[1:], NEXT_SYNC]
    located = assembler.add_block_located(NoninDf2FrameBlock.from_frames(tail))
    assert located == [(PACKET_LEN_FRAMES + 1, steady(hr_bpm=81))]
    assert _assembled(assembler) == (1, 1, 0)


def test_assembler_lets_out_a_held_packet_with_the_first_frame_of_a_block() -> None:
    first = steady(hr_bpm=80).frames()
    assembler = NoninDf2PacketAssembler()
    assert assembler.add_block(NoninDf2FrameBlock.from_frames(first)) == []
    # The confirming frame is the block's first: place 1.
    block = NoninDf2FrameBlock.from_frames([NEXT_SYNC, *steady().frames()[1:5]])
    assert assembler.add_block_located(block) == [(1, steady(hr_bpm=80))]


@pytest.mark.parametrize("at", [1, 12, 24])
def test_assembler_discards_a_packet_at_a_gap(at: int) -> None:
    frames = list(steady(hr_bpm=80).frames())
    frames[at] = dataclasses.replace(frames[at], after_gap=True)
    assembler = NoninDf2PacketAssembler()
    out = [assembler.add(f) for f in [*frames, *steady(hr_bpm=81).frames(), NEXT_SYNC]]
    assert [p.hr_bpm for p in out if p] == [81]
    assert assembler.packets_discarded == 1
    assert assembler.frames_skipped == PACKET_LEN_FRAMES - at


def test_assembler_starts_a_packet_at_a_sync_frame_after_a_gap() -> None:
    first = steady(hr_bpm=80).frames()[:10]
    second = list(steady(hr_bpm=81).frames())
    second[0] = dataclasses.replace(second[0], after_gap=True)
    assembler = NoninDf2PacketAssembler()
    frames = [*first, *second, NEXT_SYNC]
    assert [p.hr_bpm for p in map(assembler.add, frames) if p] == [81]
    assert assembler.packets_discarded == 1


def test_assembler_reset_discards_a_partial_packet() -> None:
    assembler = NoninDf2PacketAssembler()
    assembler.reset()
    assert assembler.packets_discarded == 0
    for frame in steady().frames()[:5]:
        assembler.add(frame)
    assembler.reset()
    assert assembler.packets_discarded == 1
    assert [assembler.add(f) for f in steady().frames()[5:]] == [None] * 20


def test_assembler_open_frames_counts_the_open_packet_up_to_a_held_one() -> None:
    assembler = NoninDf2PacketAssembler()
    frames = steady().frames()
    assert assembler.open_frames == 0
    assembler.add_block(NoninDf2FrameBlock.from_frames(frames[:10]))
    assert assembler.open_frames == 10
    assembler.add_block(NoninDf2FrameBlock.from_frames(frames[10:]))
    assert assembler.open_frames == PACKET_LEN_FRAMES  # held for the next SYNC
    assembler.add(NEXT_SYNC)
    assert assembler.open_frames == 1
    assembler.reset()
    assert assembler.open_frames == 0


def test_assembler_reset_discards_a_held_packet() -> None:
    assembler = NoninDf2PacketAssembler()
    assert [assembler.add(f) for f in steady().frames()] == [None] * PACKET_LEN_FRAMES
    assembler.reset()
    assert assembler.packets_discarded == 1
    # The link came back: the next SYNC frame opens a packet, it lets nothing out.
    assert assembler.add(NEXT_SYNC) is None
    assert assembler.packets == 0


@given(st.data())
def test_a_corrupted_byte_never_reaches_a_packet(data: st.DataObject) -> None:
    packets = [steady(hr_bpm=40 + 20 * i, spo2_percent=80 + i) for i in range(6)]
    stream = bytearray(b"".join(p.encode() for p in packets))
    hit_packet = data.draw(st.integers(0, len(packets) - 1))
    offset = data.draw(st.integers(0, PACKET_LEN_FRAMES * FRAME_LEN_BYTES - 1))
    index = hit_packet * PACKET_LEN_FRAMES * FRAME_LEN_BYTES + offset
    stream[index] ^= data.draw(st.integers(1, 0xFF))
    out = assemble(decode(bytes(stream) + NEXT)[0])
    assert packets[hit_packet] not in out
    survivors = [p for i, p in enumerate(packets) if i != hit_packet]
    if offset < FRAME_LEN_BYTES and hit_packet:
        # A damaged SYNC frame cannot let out the packet held before it.
        survivors.remove(packets[hit_packet - 1])
    last_frame = offset >= (PACKET_LEN_FRAMES - 1) * FRAME_LEN_BYTES
    if last_frame and out != survivors:
        # A damaged last frame can make a false frame that swallows the start byte of
        # the next packet's SYNC frame, so that packet is lost too.
        survivors.remove(packets[hit_packet + 1])
    assert out == survivors


# ---------------------------------------------------------------- blocks


def _packets_stream(count: int) -> bytes:
    return b"".join(
        steady(hr_bpm=50 + 7 * i, spo2_percent=80 + i % 40).encode()
        for i in range(count)
    )


def test_decoder_hands_out_a_run_of_frames_as_one_block() -> None:
    data = _stream()
    items = NoninDf2Decoder().feed(data)
    assert len(items) == 1
    [block] = items
    assert isinstance(block, NoninDf2FrameBlock)
    assert len(block) == 4 * PACKET_LEN_FRAMES
    assert block.encode() == data
    assert not block.after_gap
    assert list(block.frames()) == decode(data)[0]


def test_decoder_hands_out_a_lone_frame_as_a_frame() -> None:
    good = bytes.fromhex("01 83 7A 00 FE")
    decoder = NoninDf2Decoder()
    assert decoder.feed(good + good[:3]) == [
        NoninDf2Frame(status=0x83, pleth=0x7A, data=0)
    ]
    assert decoder.feed(good[3:] + good) == [NoninDf2FrameBlock(raw=good * 2)]


def test_a_corrupted_byte_in_an_aligned_buffer_ends_the_block_and_resyncs() -> None:
    # 200 frames: the vectorised check runs in passes of 64 and 128 frames, and the
    # damage sits in the second pass.
    data = bytearray(_packets_stream(8))
    hit = 150
    data[hit * FRAME_LEN_BYTES + 2] ^= 0x10  # pleth byte: only the checksum fails
    decoder = NoninDf2Decoder()
    items = decoder.feed(bytes(data))
    assert [type(item) for item in items] == [NoninDf2FrameBlock, NoninDf2FrameBlock]
    before, after = items
    assert isinstance(before, NoninDf2FrameBlock)
    assert isinstance(after, NoninDf2FrameBlock)
    assert (len(before), before.after_gap) == (hit, False)
    assert (len(after), after.after_gap) == (200 - hit - 1, True)
    assert decoder.stats == DecoderStats(
        frames=199, bytes_in=1000, dropped_bytes=5, checksum_errors=1, resyncs=1
    )
    packets = assemble([*frames_of(items), NEXT_SYNC])
    # Frame 150 is packet 6's SYNC frame: packet 6 is lost, and so is packet 5, which
    # that frame would have let out (the price of holding a packet for its next SYNC).
    assert [p.hr_bpm for p in packets] == [
        50 + 7 * i for i in range(8) if i not in {5, 6}
    ]


def test_block_from_frames_round_trips() -> None:
    frames = list(steady().frames()[:3])
    frames[0] = dataclasses.replace(frames[0], after_gap=True)
    block = NoninDf2FrameBlock.from_frames(frames)
    assert block.after_gap
    assert len(block) == 3
    assert list(block.frames()) == frames
    assert block.encode() == wire(frames)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "at least one frame"),
        (
            [
                NoninDf2Frame(status=0x81, pleth=0, data=0),
                NoninDf2Frame(status=0x80, pleth=0, data=0, after_gap=True),
            ],
            "only the first frame of a block may follow a gap",
        ),
    ],
)
def test_block_from_frames_rejects_what_a_block_cannot_hold(
    frames: list[NoninDf2Frame], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        NoninDf2FrameBlock.from_frames(frames)


@pytest.mark.parametrize("length", [0, 4, 6, 11])
def test_block_holds_whole_frames_only(length: int) -> None:
    with pytest.raises(ValueError, match="whole 5-byte frames"):
        NoninDf2FrameBlock(raw=bytes(length))


@given(
    st.lists(st.one_of(st.binary(max_size=12), frames_st.map(lambda f: f.encode()))),
    st.lists(st.integers(0, 600), max_size=40),
)
def test_feed_counted_is_feed_per_chunk(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    one_by_one, batched = NoninDf2Decoder(), NoninDf2Decoder()
    # Start both mid-frame, so the kept bytes take part.
    one_by_one.feed(b"\x01\x83")
    batched.feed(b"\x01\x83")
    per_chunk, failed_per_chunk = [], []
    for chunk in chunks:
        before = one_by_one.stats.checksum_errors + one_by_one.stats.resyncs
        per_chunk.append(frames_of(one_by_one.feed(chunk)))
        after = one_by_one.stats.checksum_errors + one_by_one.stats.resyncs
        failed_per_chunk.append(after - before)
    failed: list[int] = []
    items, counts = batched.feed_counted(chunks, failed=failed)
    assert frames_of(items) == [f for frames in per_chunk for f in frames]
    assert counts == [len(frames) for frames in per_chunk]
    assert failed == failed_per_chunk
    assert batched.stats == one_by_one.stats
    assert batched._buffer == one_by_one._buffer


def test_feed_counted_of_nothing() -> None:
    decoder = NoninDf2Decoder()
    assert decoder.feed_counted([]) == ([], [])
    assert decoder.feed_counted([b"", b"\x01\x83"]) == ([], [0, 0])
    assert decoder.stats == DecoderStats(bytes_in=2)


def test_feed_counted_gives_a_frame_to_the_chunk_with_its_last_byte() -> None:
    data = b"\x00" + _stream()
    # Chunk 0 ends inside frame 1 (after the garbage byte), chunk 1 brings the rest of
    # frame 1 and all of frame 2, chunk 2 is empty, chunk 3 brings the rest.
    chunks = [data[:8], data[8:16], b"", data[16:]]
    items, counts = NoninDf2Decoder().feed_counted(chunks)
    assert counts == [1, 2, 0, 97]
    assert frames_of(items) == decode(data)[0]
    assert [type(item) for item in items] == [NoninDf2FrameBlock]


def _as_blocks(
    frames: Sequence[NoninDf2Frame], cuts: Iterable[int]
) -> list[NoninDf2FrameBlock]:
    """The frames as blocks, cut at ``cuts`` and before every frame after a gap."""
    starts = {0, *cuts, *(i for i, f in enumerate(frames) if f.after_gap)}
    bounds = [*sorted(s for s in starts if 0 <= s < len(frames)), len(frames)]
    return [
        NoninDf2FrameBlock.from_frames(frames[a:b])
        for a, b in itertools.pairwise(bounds)
    ]


def _with_a_frame_repeated(hr_bpm: int | None, at: int) -> list[NoninDf2Frame]:
    frames = list(steady(hr_bpm=hr_bpm).frames())
    frames.insert(at, frames[at])
    return frames


def _assembled(assembler: NoninDf2PacketAssembler) -> tuple[int, int, int]:
    return (assembler.packets, assembler.packets_discarded, assembler.frames_skipped)


@given(
    st.lists(
        st.one_of(
            st.builds(steady, hr_values, spo2_values).map(lambda p: list(p.frames())),
            st.lists(frames_st, max_size=30),
            st.builds(_with_a_frame_repeated, hr_values, st.integers(0, 24)),
        ),
        max_size=8,
    ),
    st.sets(st.integers(0, 250)),
    st.sets(st.integers(0, 250), max_size=4),
)
def test_assembler_blocks_and_frames_give_the_same_packets(
    runs: list[list[NoninDf2Frame]], cuts: set[int], gaps: set[int]
) -> None:
    frames = [f for run in runs for f in run]
    frames = [
        dataclasses.replace(f, after_gap=True) if i in gaps else f
        for i, f in enumerate(frames)
    ]
    by_frame = NoninDf2PacketAssembler()
    expected = [p for p in map(by_frame.add, frames) if p is not None]
    by_block = NoninDf2PacketAssembler()
    got = [p for b in _as_blocks(frames, cuts) for p in by_block.add_block(b)]
    assert got == expected
    assert _assembled(by_block) == _assembled(by_frame)


#: A whole frame added to a stream: (packet, place before which it goes, the frame).
#: The frames added carry no SYNC (a repeated frame 1-24 or one of another packet's).
insertions_st = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(0, PACKET_LEN_FRAMES - 1),
        st.one_of(
            st.integers(1, PACKET_LEN_FRAMES - 1),  # repeat this frame of the packet
            frames_st.map(lambda f: dataclasses.replace(f, status=f.status & ~1)),
        ),
    ),
    max_size=4,
)


@given(insertions_st, st.sets(st.integers(0, 200)))
def test_no_packet_with_a_frame_added_is_ever_emitted(
    insertions: list[tuple[int, int, int | NoninDf2Frame]], cuts: set[int]
) -> None:
    # Found by the fuzzer (RELIABILITY.md, "Bad input"): a frame repeated or spliced
    # in shifts the later slots of its packet by one. Six packets, then the next
    # packet's SYNC frame; each insertion goes before frame ``place`` of a packet.
    packets = [_distinct_packet(40 + 30 * i) for i in range(6)]
    streams = [list(p.frames()) for p in packets]
    for index, place, what in sorted(insertions, key=lambda x: -x[1]):
        added = packets[index].frames()[what] if isinstance(what, int) else what
        streams[index].insert(place, added)
    frames = [*(f for stream in streams for f in stream), NEXT_SYNC]
    # A packet survives unless a frame went inside it (places 1-24) or between its
    # end and the next SYNC frame (place 0 of the next packet). A frame before the
    # first packet is only skipped.
    hit = {(i if place else i - 1) for i, place, _ in insertions} - {-1}
    expected = [p for i, p in enumerate(packets) if i not in hit]
    by_frame = NoninDf2PacketAssembler()
    assert [p for p in map(by_frame.add, frames) if p is not None] == expected
    by_block = NoninDf2PacketAssembler()
    got = [p for b in _as_blocks(frames, cuts) for p in by_block.add_block(b)]
    assert got == expected
    assert _assembled(by_block) == _assembled(by_frame)
    assert by_frame.packets_discarded == len(hit)


def test_assembler_block_completes_several_packets_and_keeps_the_rest_open() -> None:
    packets = [steady(hr_bpm=100 + i) for i in range(3)]
    frames = [f for p in packets for f in p.frames()]
    assembler = NoninDf2PacketAssembler()
    # Two packets and 10 frames of the third, then its other 15 frames: the block
    # lets out the first two, the third is held until the next SYNC frame.
    head = NoninDf2FrameBlock.from_frames(frames[:60])
    assert assembler.add_block_located(head) == [(26, packets[0]), (51, packets[1])]
    for frame in frames[60:]:
        assert assembler.add(frame) is None
    assert assembler.add(NEXT_SYNC) == packets[2]
    assert _assembled(assembler) == (3, 0, 0)


def test_assembler_block_after_a_gap_discards_the_open_packet() -> None:
    first = steady(hr_bpm=80).frames()
    second = steady(hr_bpm=81).frames()
    assembler = NoninDf2PacketAssembler()
    assert assembler.add_block(NoninDf2FrameBlock.from_frames(first[:10])) == []
    # The block after the gap starts mid-packet: its frames up to SYNC are skipped.
    tail = [
        dataclasses.replace(first[20], after_gap=True),
        *first[21:],
        *second,
        NEXT_SYNC,
    ]
    assert assembler.add_block(NoninDf2FrameBlock.from_frames(tail)) == [
        NoninDf2Packet.from_frames(second)
    ]
    assert _assembled(assembler) == (1, 1, 5)


def test_packet_from_wire_needs_125_bytes() -> None:
    with pytest.raises(FrameError, match="a packet is 125 bytes, got 120"):
        NoninDf2Packet.from_wire(steady().encode()[:-5])


def test_packet_from_wire_rejects_data_bit_7() -> None:
    raw = bytearray(steady().encode())
    raw[FrameSlot.SPO2 * FRAME_LEN_BYTES + 3] |= 0x80
    with pytest.raises(FrameError, match="data bytes have bit 7 clear"):
        NoninDf2Packet.from_wire(bytes(raw))


def test_packet_flags_are_derived_again_by_replace() -> None:
    quiet = steady()
    noisy = dataclasses.replace(quiet, statuses=(0x81, *([0xE4] * 24)))
    assert (quiet.sensor_disconnected, quiet.artifact) == (False, False)
    assert (noisy.sensor_disconnected, noisy.artifact) == (True, True)
    assert noisy.perfusion is Perfusion.RED
    assert noisy == dataclasses.replace(noisy)


def test_feed_counted_gives_a_checksum_error_to_the_chunk_that_judged_it() -> None:
    # A well-formed window whose sum fails, then good frames: the checksum error is
    # judged when its fifth byte arrives (chunk 1), the resync at the next frame.
    bad = bytearray(_stream()[:5])
    bad[4] ^= 0x01
    data = bytes(bad) + _stream()
    chunks = [data[:4], data[4:6], data[6:9], data[9:]]
    failed: list[int] = []
    decoder = NoninDf2Decoder()
    decoder.feed_counted(chunks, failed=failed)
    assert (decoder.stats.checksum_errors, decoder.stats.resyncs) == (1, 1)
    assert failed == [0, 1, 0, 1]


def test_feed_counted_gives_a_failure_to_the_chunk_that_judged_it() -> None:
    # The garbage byte is a resync, counted when the window of the frame after it
    # is complete: at byte 6, which chunk 1 brings.
    data = b"\x00" + _stream()
    chunks = [data[:5], data[5:16], b"", data[16:]]
    failed: list[int] = []
    NoninDf2Decoder().feed_counted(chunks, failed=failed)
    assert failed == [0, 1, 0, 0]

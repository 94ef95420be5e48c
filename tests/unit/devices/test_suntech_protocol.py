"""SunTech Advantage codec: vectors, round trips, chunking and noise (layers 1-2)."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.codec import MAX_BUFFER_BYTES
from roomctl.devices.suntech_nibp.protocol import (
    ERROR_MEANINGS,
    HOST_START,
    MAX_COMMAND_BYTES,
    MAX_RESPONSE_BYTES,
    MODULE_START,
    AbortBp,
    AckCode,
    BpData,
    ControlPneumatics,
    CuffPressure,
    GetBpData,
    GetCuffPressure,
    GetModuleStatus,
    GetReturnString,
    HostCommand,
    PatientMode,
    Reset,
    ReturnString,
    SetInitialInflate,
    StartBp,
    SuntechAck,
    SuntechCommandDecoder,
    SuntechDecoder,
    SuntechResponse,
    UnknownCommand,
    UnknownResponse,
    error_text,
    parse_command,
    parse_response,
)
from roomctl.errors import ChecksumError, FrameError

if TYPE_CHECKING:
    from collections.abc import Callable

# 120/80 mmHg, MAP 93, HR 72, 9 beats: built by hand from the §2.1 layout
# (3E 18, sys u16 LE, dia u16 LE, beats, status, 8 test codes, HR, spare, MAP u16
# LE, error, 2 spare, checksum); 0x3E+0x18+0x78+0x50+0x09+0x48+0x5D = 0x1CC -> 0x34.
BP_120_80 = bytes.fromhex(
    "3e 18 78 00 50 00 09 00 00 00 00 00 00 00 00 00 48 00 5d 00 00 00 00 34"
)
# The same layout with error code 87 (cuff leak) and no numbers.
BP_ERROR_87 = bytes.fromhex(
    "3e 18 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 57 00 00 53"
)

COMMAND_VECTORS: list[tuple[HostCommand, str]] = [
    (StartBp(), "3a 20 a6"),
    (StartBp(mode=PatientMode.ADULT), "3a 20 a6"),
    (StartBp(mode=PatientMode.PEDIATRIC), "3a 87 3f"),
    (StartBp(mode=PatientMode.NEONATE), "3a 28 9e"),
    (AbortBp(), "3a 79 01 00 4c"),
    (GetCuffPressure(), "3a 79 05 00 48"),
    (GetBpData(), "3a 79 03 00 4a"),
    (GetReturnString(), "3a 79 02 40 0b"),
    (GetModuleStatus(), "3a 79 10 03 3a"),
    (SetInitialInflate(pressure_mmhg=160), "3a 17 a0 00 0f"),
    (SetInitialInflate(pressure_mmhg=300), "3a 17 2c 01 82"),
    (ControlPneumatics(pump=0, valve=1, dump=1), "3a 0c 00 01 01 b8"),
    (Reset(), "3a 8a 3c"),
    (UnknownCommand(data=bytes.fromhex("79 11 00")), "3a 79 11 00 3c"),
]

RESPONSE_VECTORS: list[tuple[SuntechResponse, bytes]] = [
    (SuntechAck(code=AckCode.RECEIVED), bytes.fromhex("3e 04 4f 6f")),
    (SuntechAck(code=AckCode.COMPLETE), bytes.fromhex("3e 04 4b 73")),
    (CuffPressure(mmhg=258), bytes.fromhex("3e 05 02 01 ba")),
    (CuffPressure(mmhg=None), bytes.fromhex("3e 05 ff ff bf")),
    (
        BpData(
            systolic_mmhg=120,
            diastolic_mmhg=80,
            map_mmhg=93,
            heart_rate_bpm=72,
            beats=9,
        ),
        BP_120_80,
    ),
    (
        BpData(
            systolic_mmhg=0,
            diastolic_mmhg=0,
            map_mmhg=0,
            heart_rate_bpm=0,
            error_code=87,
        ),
        BP_ERROR_87,
    ),
    (ReturnString(text="LX01.00"), bytes.fromhex("3e 0a 4c 58 30 31 2e 30 30 25")),
]


def frame(start: int, body: bytes) -> bytes:
    """A frame with a correct zero-sum checksum."""
    head = bytes([start]) + body
    return head + bytes([(-sum(head)) & 0xFF])


def module_frame(data: bytes) -> bytes:
    return frame(MODULE_START, bytes([len(data) + 3]) + data)


# ------------------------------------------------------------------ vectors


@pytest.mark.parametrize(("command", "wire"), COMMAND_VECTORS)
def test_command_encodes_byte_exact(command: HostCommand, wire: str) -> None:
    assert command.encode() == bytes.fromhex(wire)
    assert sum(command.encode()) & 0xFF == 0


@pytest.mark.parametrize(("command", "wire"), COMMAND_VECTORS)
def test_command_decodes_from_vector(command: HostCommand, wire: str) -> None:
    assert parse_command(bytes.fromhex(wire)) == command
    assert SuntechCommandDecoder().feed(bytes.fromhex(wire)) == [command]


@pytest.mark.parametrize(("response", "wire"), RESPONSE_VECTORS)
def test_response_vectors_encode_and_decode(
    response: SuntechResponse, wire: bytes
) -> None:
    assert response.encode() == wire
    assert parse_response(wire) == response
    assert SuntechDecoder().feed(wire) == [response]


def test_bp_data_fields_sit_where_the_layout_says() -> None:
    decoded = parse_response(BP_120_80)
    assert isinstance(decoded, BpData)
    assert (decoded.systolic_mmhg, decoded.diastolic_mmhg) == (120, 80)
    assert (decoded.map_mmhg, decoded.heart_rate_bpm, decoded.beats) == (93, 72, 9)
    assert decoded.error_code == 0
    assert len(BP_120_80) == 24


def test_bp_data_keeps_status_and_test_codes() -> None:
    data = BpData(
        systolic_mmhg=300,
        diastolic_mmhg=260,
        map_mmhg=273,
        heart_rate_bpm=200,
        beats=40,
        bp_status=0x81,
        test_codes=bytes(range(1, 9)),
        error_code=3,
    )
    wire = data.encode()
    assert wire[6:16] == bytes([40, 0x81, *range(1, 9)])
    assert parse_response(wire) == data


def test_bp_data_ignores_spare_bytes() -> None:
    wire = bytearray(BP_120_80)
    wire[17] = 0x11  # spare after heart rate
    wire[21] = 0x22  # spare after error code
    wire[-1] = (-sum(wire[:-1])) & 0xFF
    decoded = parse_response(bytes(wire))
    assert isinstance(decoded, BpData)
    assert decoded.heart_rate_bpm == 72
    assert decoded.error_code == 0


@pytest.mark.parametrize("code", list(AckCode))
def test_every_ack_round_trips(code: AckCode) -> None:
    ack = SuntechAck(code=code)
    wire = ack.encode()
    assert wire[:3] == bytes([0x3E, 0x04, code])
    assert parse_response(wire) == ack


def test_ack_characters_are_the_documented_letters() -> None:
    assert {chr(code) for code in AckCode} == set("OKABENDST")


def test_negative_cuff_pressure_is_a_value() -> None:
    # Only -1 means "not available"; a slightly negative autozero reading is a value.
    assert parse_response(module_frame(b"\xfe\xff")) == CuffPressure(mmhg=-2)


def test_unknown_ack_character_is_an_unknown_response() -> None:
    wire = module_frame(b"X")
    assert parse_response(wire) == UnknownResponse(data=b"X")
    assert UnknownResponse(data=b"X").encode() == wire


def test_binary_reply_of_other_length_is_an_unknown_response() -> None:
    wire = module_frame(b"\x01\x02\x03\x00")
    assert SuntechDecoder().feed(wire) == [UnknownResponse(data=b"\x01\x02\x03\x00")]


def test_printable_reply_is_a_return_string() -> None:
    assert parse_response(module_frame(b"SB 2.3")) == ReturnString(text="SB 2.3")


# ------------------------------------------------------------ one-shot errors


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"", "starts with 0x3E"),
        (b"\x3a\x04\x4f\x6f", "starts with 0x3E"),
        (b"\x3e\x03\xbf", "length out of range"),
        (module_frame(bytes(65)), "length out of range"),
        (b"\x3e\x05\x4f\x6f", "length byte 5 but 4 bytes"),
    ],
)
def test_parse_response_rejects_malformed_frames(wire: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        parse_response(wire)


def test_parse_response_raises_checksum_error_naming_the_bytes() -> None:
    with pytest.raises(ChecksumError, match=re.escape(r"b'>\x04Op'")):
        parse_response(b"\x3e\x04\x4f\x70")


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"", "starts with 0x3A"),
        (b"\x3e\x20\xa6", "starts with 0x3A"),
        (b"\x3a", "unknown host command byte"),
        (b"\x3a\x55\x71", "unknown host command byte"),
        (b"\x3a\x20\xa6\x00", "needs 3 bytes, got 4"),
    ],
)
def test_parse_command_rejects_malformed_frames(wire: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        parse_command(wire)


def test_parse_command_raises_checksum_error() -> None:
    with pytest.raises(ChecksumError):
        parse_command(b"\x3a\x20\xa7")


# ------------------------------------------------------------ value checks


@pytest.mark.parametrize(
    "make",
    [
        lambda: CuffPressure(mmhg=-1),
        lambda: CuffPressure(mmhg=0x8000),
        lambda: CuffPressure(mmhg=-0x8001),
        lambda: BpData(
            systolic_mmhg=0x10000, diastolic_mmhg=0, map_mmhg=0, heart_rate_bpm=0
        ),
        lambda: BpData(
            systolic_mmhg=120, diastolic_mmhg=80, map_mmhg=93, heart_rate_bpm=256
        ),
        lambda: BpData(
            systolic_mmhg=120,
            diastolic_mmhg=80,
            map_mmhg=93,
            heart_rate_bpm=72,
            test_codes=b"\x00",
        ),
        lambda: ReturnString(text=""),
        lambda: ReturnString(text="x" * 65),
        lambda: ReturnString(text="LX é"),
        lambda: ReturnString(text="LX\n01"),
        lambda: ReturnString(text="LX"),
        lambda: ReturnString(text="L"),
        lambda: ReturnString(text="x" * 21),
        lambda: UnknownResponse(data=b""),
        lambda: UnknownResponse(data=bytes(65)),
        lambda: UnknownResponse(data=b"K"),
        lambda: UnknownResponse(data=b"LX01.00"),
        lambda: SetInitialInflate(pressure_mmhg=-1),
        lambda: SetInitialInflate(pressure_mmhg=0x10000),
        lambda: ControlPneumatics(pump=256, valve=1, dump=1),
        lambda: ControlPneumatics(pump=0, valve=-1, dump=1),
        lambda: UnknownCommand(data=b""),
        lambda: UnknownCommand(data=b"\x55"),
        lambda: UnknownCommand(data=b"\x79\x11"),
        lambda: UnknownCommand(data=b"\x79\x01\x00"),
        lambda: UnknownCommand(data=b"\x20"),
    ],
)
def test_invalid_values_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        make()


# ------------------------------------------------------------ error codes


def test_error_meanings_cover_the_documented_codes() -> None:
    assert set(ERROR_MEANINGS) == {0, 1, 2, 3, 4, 85, 86, 87, 88, 89, 90, 91, 97, 99}
    for code, text in ERROR_MEANINGS.items():
        if code:
            assert text.endswith(f"(device error {code})")
            assert error_text(code) == text


def test_error_text_names_the_cuff_leak_for_a_nurse() -> None:
    assert "cuff leak or loose cuff" in error_text(87)
    assert error_text(200) == "unknown NIBP module error (device error 200)"


# ------------------------------------------------------------ stream decoder


def test_decoder_counts_a_bad_checksum_and_recovers() -> None:
    decoder = SuntechDecoder()
    bad = b"\x3e\x04\x4f\x70"
    assert decoder.feed(bad + RESPONSE_VECTORS[1][1]) == [
        SuntechAck(code=AckCode.COMPLETE)
    ]
    stats = decoder.stats
    assert stats.checksum_errors == 1
    assert stats.dropped_bytes == len(bad)
    assert stats.resyncs == 1
    assert stats.frames == 1
    assert stats.bytes_in == len(bad) + 4


@pytest.mark.parametrize("length_byte", [0x00, 0x03, 0x44, 0xFF])
def test_decoder_slides_past_an_impossible_length(length_byte: int) -> None:
    decoder = SuntechDecoder()
    ack = SuntechAck(code=AckCode.BUSY).encode()
    assert decoder.feed(bytes([0x3E, length_byte]) + ack) == [
        SuntechAck(code=AckCode.BUSY)
    ]
    assert decoder.stats.dropped_bytes == 2
    assert decoder.stats.checksum_errors == 0


def test_decoder_recovers_a_frame_that_starts_inside_a_false_candidate() -> None:
    # '>' 0x0A promises ten bytes; the real ack starts one byte later. Sliding one
    # byte (not skipping the candidate) finds it.
    ack = SuntechAck(code=AckCode.RECEIVED).encode()
    stream = b"\x3e\x0a" + ack + b"\x00\x00\x00\x00"
    assert SuntechDecoder().feed(stream) == [SuntechAck(code=AckCode.RECEIVED)]


def test_decoder_waits_for_the_length_byte_and_the_rest() -> None:
    decoder = SuntechDecoder()
    assert decoder.feed(b"\x3e") == []
    assert decoder.pending_bytes == 1
    assert decoder.feed(b"\x05\x02") == []
    assert decoder.pending_bytes == 3
    assert decoder.feed(b"\x01\xba") == [CuffPressure(mmhg=258)]
    assert decoder.pending_bytes == 0


def test_decoder_drops_garbage_without_a_start_byte_at_once() -> None:
    decoder = SuntechDecoder()
    assert decoder.feed(bytes(1000)) == []
    assert decoder.pending_bytes == 0
    assert decoder.stats.dropped_bytes == 1000
    assert decoder.stats.resyncs == 0  # no frame regained yet


def test_decoder_stats_is_a_snapshot() -> None:
    decoder = SuntechDecoder()
    before = decoder.stats
    decoder.feed(RESPONSE_VECTORS[0][1])
    assert before.frames == 0
    assert decoder.stats.frames == 1


ALL_RESPONSE_BYTES = b"".join(wire for _, wire in RESPONSE_VECTORS)
ALL_RESPONSES = [response for response, _ in RESPONSE_VECTORS]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 23, 24, 25, 64, 1000])
def test_decoder_chunking_gives_identical_frames(size: int) -> None:
    decoder = SuntechDecoder()
    out: list[SuntechResponse] = []
    for index in range(0, len(ALL_RESPONSE_BYTES), size):
        out += decoder.feed(ALL_RESPONSE_BYTES[index : index + size])
        assert decoder.pending_bytes < MAX_RESPONSE_BYTES
    assert out == ALL_RESPONSES
    assert decoder.stats.frames == len(ALL_RESPONSES)
    assert decoder.stats.dropped_bytes == 0


# ------------------------------------------------------------ command decoder


def test_command_decoder_frames_commands_only_known_by_length() -> None:
    calibrate = frame(HOST_START, b"\x04\x01")
    sleep = frame(HOST_START, b"\x81\x01\x02\x03\x04")
    stasis = frame(HOST_START, b"\x86\x01\x02\x03")
    decoder = SuntechCommandDecoder()
    assert decoder.feed(calibrate + sleep + stasis + Reset().encode()) == [
        UnknownCommand(data=b"\x04\x01"),
        UnknownCommand(data=b"\x81\x01\x02\x03\x04"),
        UnknownCommand(data=b"\x86\x01\x02\x03"),
        Reset(),
    ]


def test_command_decoder_slides_past_an_unknown_command_byte() -> None:
    decoder = SuntechCommandDecoder()
    assert decoder.feed(b"\x3a\x55\x71" + StartBp().encode()) == [StartBp()]
    stats = decoder.stats
    assert (stats.dropped_bytes, stats.checksum_errors, stats.resyncs) == (3, 0, 1)


def test_command_decoder_counts_a_bad_checksum() -> None:
    decoder = SuntechCommandDecoder()
    assert decoder.feed(b"\x3a\x79\x05\x00\x49" + AbortBp().encode()) == [AbortBp()]
    assert decoder.stats.checksum_errors == 1
    assert decoder.stats.dropped_bytes == 5


ALL_COMMAND_BYTES = b"".join(bytes.fromhex(wire) for _, wire in COMMAND_VECTORS)
ALL_COMMANDS = [command for command, _ in COMMAND_VECTORS]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6, 7, 64])
def test_command_decoder_chunking_gives_identical_commands(size: int) -> None:
    decoder = SuntechCommandDecoder()
    out: list[HostCommand] = []
    for index in range(0, len(ALL_COMMAND_BYTES), size):
        out += decoder.feed(ALL_COMMAND_BYTES[index : index + size])
        assert decoder.pending_bytes < MAX_COMMAND_BYTES
    assert out == ALL_COMMANDS


# ------------------------------------------------------------------ Hypothesis


def _unknown_response(data: bytes) -> UnknownResponse | None:
    try:
        return UnknownResponse(data=data)
    except ValueError:
        return None


def _unknown_command(data: bytes) -> UnknownCommand | None:
    try:
        return UnknownCommand(data=data)
    except ValueError:
        return None


_PRINTABLE_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    min_size=3,
    max_size=64,
).filter(lambda text: len(text) != 21)

responses: st.SearchStrategy[SuntechResponse] = st.one_of(
    st.sampled_from(list(AckCode)).map(lambda code: SuntechAck(code=code)),
    st.one_of(st.none(), st.integers(-0x8000, 0x7FFF).filter(lambda v: v != -1)).map(
        lambda mmhg: CuffPressure(mmhg=mmhg)
    ),
    st.builds(
        BpData,
        systolic_mmhg=st.integers(0, 0xFFFF),
        diastolic_mmhg=st.integers(0, 0xFFFF),
        map_mmhg=st.integers(0, 0xFFFF),
        heart_rate_bpm=st.integers(0, 0xFF),
        beats=st.integers(0, 0xFF),
        bp_status=st.integers(0, 0xFF),
        test_codes=st.binary(min_size=8, max_size=8),
        error_code=st.integers(0, 0xFF),
    ),
    _PRINTABLE_TEXT.map(lambda text: ReturnString(text=text)),
    st.binary(min_size=1, max_size=64)
    .filter(lambda data: _unknown_response(data) is not None)
    .map(lambda data: UnknownResponse(data=data)),
)

commands: st.SearchStrategy[HostCommand] = st.one_of(
    st.sampled_from([command for command, _ in COMMAND_VECTORS]),
    st.sampled_from(list(PatientMode)).map(lambda mode: StartBp(mode=mode)),
    st.integers(0, 0xFFFF).map(lambda p: SetInitialInflate(pressure_mmhg=p)),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
        lambda t: ControlPneumatics(pump=t[0], valve=t[1], dump=t[2])
    ),
    st.one_of(
        st.binary(min_size=2, max_size=2).map(lambda b: b"\x79" + b),
        st.binary(min_size=1, max_size=1).map(lambda b: b"\x04" + b),
        st.binary(min_size=4, max_size=4).map(lambda b: b"\x81" + b),
        st.binary(min_size=3, max_size=3).map(lambda b: b"\x86" + b),
    )
    .filter(lambda data: _unknown_command(data) is not None)
    .map(lambda data: UnknownCommand(data=data)),
)


def _feed_split(
    decoder: SuntechDecoder | SuntechCommandDecoder, stream: bytes, cuts: list[int]
) -> list[object]:
    out: list[object] = []
    points = [0, *sorted({cut % (len(stream) + 1) for cut in cuts}), len(stream)]
    for begin, end in itertools.pairwise(points):
        out += decoder.feed(stream[begin:end])
        assert decoder.pending_bytes < max(MAX_RESPONSE_BYTES, MAX_COMMAND_BYTES)
    return out


@given(responses)
def test_every_response_round_trips(response: SuntechResponse) -> None:
    wire = response.encode()
    assert wire[0] == MODULE_START
    assert wire[1] == len(wire) <= MAX_RESPONSE_BYTES
    assert sum(wire) & 0xFF == 0
    assert parse_response(wire) == response
    assert SuntechDecoder().feed(wire) == [response]


@given(commands)
def test_every_command_round_trips(command: HostCommand) -> None:
    wire = command.encode()
    assert parse_command(wire) == command
    assert SuntechCommandDecoder().feed(wire) == [command]


@given(st.lists(responses, max_size=12), st.lists(st.integers(0, 10_000)))
def test_random_splits_give_identical_responses(
    frames: list[SuntechResponse], cuts: list[int]
) -> None:
    stream = b"".join(response.encode() for response in frames)
    assert _feed_split(SuntechDecoder(), stream, cuts) == frames


@given(st.lists(commands, max_size=12), st.lists(st.integers(0, 10_000)))
def test_random_splits_give_identical_commands(
    frames: list[HostCommand], cuts: list[int]
) -> None:
    stream = b"".join(command.encode() for command in frames)
    assert _feed_split(SuntechCommandDecoder(), stream, cuts) == frames


def _garbage_without(start: int) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=80).map(lambda b: b.replace(bytes([start]), b"\x00"))


@given(
    st.lists(st.tuples(_garbage_without(MODULE_START), responses), max_size=8),
    _garbage_without(MODULE_START),
    st.lists(st.integers(0, 10_000)),
)
def test_garbage_prefix_and_infix_are_dropped_and_counted(
    pieces: list[tuple[bytes, SuntechResponse]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(garbage + r.encode() for garbage, r in pieces) + tail
    decoder = SuntechDecoder()
    assert _feed_split(decoder, stream, cuts) == [r for _, r in pieces]
    garbage_bytes = sum(len(garbage) for garbage, _ in pieces) + len(tail)
    assert decoder.stats.dropped_bytes == garbage_bytes
    assert decoder.stats.checksum_errors == 0


@given(
    st.lists(st.tuples(_garbage_without(HOST_START), commands), max_size=8),
    st.lists(st.integers(0, 10_000)),
)
def test_command_garbage_is_dropped_and_counted(
    pieces: list[tuple[bytes, HostCommand]], cuts: list[int]
) -> None:
    stream = b"".join(garbage + c.encode() for garbage, c in pieces)
    decoder = SuntechCommandDecoder()
    assert _feed_split(decoder, stream, cuts) == [c for _, c in pieces]
    assert decoder.stats.dropped_bytes == sum(len(garbage) for garbage, _ in pieces)


# Enough bytes without a start byte to end any false candidate (longest 0x43).
FILLER = bytes(MAX_RESPONSE_BYTES)


@given(
    st.lists(responses, min_size=1, max_size=6),
    st.lists(responses, max_size=6),
    st.data(),
)
def test_decoder_recovers_after_a_truncated_frame(
    before: list[SuntechResponse], after: list[SuntechResponse], data: st.DataObject
) -> None:
    *whole, damaged = before
    wire = damaged.encode()
    keep = data.draw(st.integers(1, len(wire) - 1), label="keep")
    stream = b"".join(r.encode() for r in whole) + wire[:keep] + FILLER
    stream += b"".join(r.encode() for r in after)
    cuts = data.draw(st.lists(st.integers(0, 10_000)), label="cuts")
    decoder = SuntechDecoder()
    out = _feed_split(decoder, stream, cuts)
    assert out[: len(whole)] == whole
    assert out[len(out) - len(after) :] == after


@given(st.lists(responses, min_size=1, max_size=6), st.data())
def test_a_bit_flip_never_passes_as_the_original_frame(
    frames: list[SuntechResponse], data: st.DataObject
) -> None:
    *whole, damaged = frames
    wire = bytearray(damaged.encode())
    index = data.draw(st.integers(0, len(wire) - 1), label="byte")
    wire[index] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    tail = data.draw(st.lists(responses, max_size=4), label="tail")
    stream = b"".join(r.encode() for r in whole) + bytes(wire) + FILLER
    stream += b"".join(r.encode() for r in tail)
    decoder = SuntechDecoder()
    out = decoder.feed(stream)
    assert out[: len(whole)] == whole
    assert out[len(out) - len(tail) :] == tail
    if index >= 2:
        # A one-bit change in data or checksum always breaks the zero sum.
        assert decoder.stats.checksum_errors >= 1
        assert decoder.stats.dropped_bytes >= 1


@given(st.binary(max_size=600), st.lists(st.integers(0, 10_000)))
def test_any_bytes_never_raise_and_chunking_does_not_matter(
    stream: bytes, cuts: list[int]
) -> None:
    whole = SuntechDecoder()
    expected = whole.feed(stream)
    assert whole.pending_bytes < MAX_RESPONSE_BYTES < MAX_BUFFER_BYTES
    split = SuntechDecoder()
    assert _feed_split(split, stream, cuts) == expected
    assert split.stats == whole.stats
    commands_whole = SuntechCommandDecoder()
    expected_commands = commands_whole.feed(stream)
    assert commands_whole.pending_bytes < MAX_COMMAND_BYTES
    commands_split = SuntechCommandDecoder()
    assert _feed_split(commands_split, stream, cuts) == expected_commands
    assert commands_split.stats == commands_whole.stats


@given(st.binary(min_size=1, max_size=600))
def test_every_byte_is_a_frame_byte_dropped_or_pending(stream: bytes) -> None:
    decoder = SuntechDecoder()
    frames = decoder.feed(stream)
    framed = sum(len(f.encode()) for f in frames)
    stats = decoder.stats
    assert framed + stats.dropped_bytes + decoder.pending_bytes == len(stream)
    assert stats.bytes_in == len(stream)

"""Masimo ASCII 1 codec: vectors, round trips, chunking and noise invariance.

Every line here is constructed by us in the shapes protocols.md §1.1 describes; none
is copied from a capture (captures/README.md: no redistributable capture exists).
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.codec import MAX_BUFFER_BYTES
from roomctl.devices.masimo_ascii1.driver import DRIVER_SPEC, line_to_readings
from roomctl.devices.masimo_ascii1.protocol import (
    LINE_END,
    MAX_LINE_BYTES,
    MasimoAlarm,
    MasimoAscii1Decoder,
    MasimoException,
    MasimoLine,
    parse_line,
)
from roomctl.errors import FrameError
from roomctl.readings import ReadingStatus

# ------------------------------------------------------------------ constructed lines

RAD8 = (
    b"11/02/25 08:15:31 SN=0000204817 SPO2=096% BPM=064 PI=03.45% SPCO=--.-% "
    b"SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n"
)
RAD8_SENSOR_OFF = (
    b"11/02/25 08:15:32 SN=0000204817 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% "
    b"SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000820\r\n"
)
RADICAL7 = (
    b"07/19/25 22:40:03 SN=0000330991 SPO2=099% BPM=118 PI=01.07 SPCO=--.-% "
    b"SPMET=--.-% SPHB=--.- PVI=017 DESAT=-- PIDELTA=+-- ALARM=000030 EXC=0000C00 "
    b"EXC1=00000000\r\n"
)
RADICAL5 = b"03/08/25 14:27:50 SPO2=095% BPM=081 PI=06.30% ALARM=20 EXC=800\r\n"

SET = MasimoException.SET_MODE
AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Expected:
    device_time: str
    spo2_percent: int | None
    pulse_rate_bpm: int | None
    perfusion_index: float | None
    alarm: MasimoAlarm
    exc: MasimoException
    keys: str


RAD8_KEYS = "SN SPO2 BPM PI SPCO SPMET DESAT PIDELTA ALARM EXC"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            RAD8,
            Expected(
                device_time="11/02/25 08:15:31",
                spo2_percent=96,
                pulse_rate_bpm=64,
                perfusion_index=3.45,
                alarm=MasimoAlarm(0),
                exc=SET,
                keys=RAD8_KEYS,
            ),
            id="rad8",
        ),
        pytest.param(
            RAD8_SENSOR_OFF,
            Expected(
                device_time="11/02/25 08:15:32",
                spo2_percent=None,
                pulse_rate_bpm=None,
                perfusion_index=None,
                alarm=MasimoAlarm(0),
                exc=SET | MasimoException.SENSOR_OFF,
                keys=RAD8_KEYS,
            ),
            id="rad8-sensor-off-dashes",
        ),
        pytest.param(
            RADICAL7,
            Expected(
                device_time="07/19/25 22:40:03",
                spo2_percent=99,
                pulse_rate_bpm=118,
                # Radical-7 colour firmware sends PI without '%'.
                perfusion_index=1.07,
                alarm=MasimoAlarm.ACTIVE | MasimoAlarm.SILENCED,
                # Seven hex digits: SET mode plus low signal IQ.
                exc=SET | MasimoException.LOW_SIGNAL_IQ,
                keys="SN SPO2 BPM PI SPCO SPMET SPHB PVI DESAT PIDELTA ALARM EXC EXC1",
            ),
            id="radical7-colour",
        ),
        pytest.param(
            RADICAL5,
            Expected(
                device_time="03/08/25 14:27:50",
                spo2_percent=95,
                pulse_rate_bpm=81,
                perfusion_index=6.3,
                alarm=MasimoAlarm.SILENCED,
                exc=SET,
                keys="SPO2 BPM PI ALARM EXC",
            ),
            id="radical5-short-hex",
        ),
    ],
)
def test_decoder_decodes_each_variant_shape(raw: bytes, expected: Expected) -> None:
    decoder = MasimoAscii1Decoder()
    [line] = decoder.feed(raw)
    assert line.device_time == expected.device_time
    assert line.spo2_percent == expected.spo2_percent
    assert line.pulse_rate_bpm == expected.pulse_rate_bpm
    assert line.perfusion_index == expected.perfusion_index
    assert line.alarm == expected.alarm
    assert line.exc == expected.exc
    assert [key for key, _ in line.fields] == expected.keys.split()
    assert line.encode() == raw
    assert decoder.stats.frames == 1
    assert decoder.stats.dropped_bytes == 0
    assert decoder.malformed_lines == 0


def test_exc_set_mode_alone_is_the_normal_state() -> None:
    line = parse_line(RAD8)
    assert line.exc == MasimoException.SET_MODE
    assert int(line.exc) == 0x000800


def test_fields_keep_every_token_verbatim_in_order() -> None:
    line = parse_line(RAD8)
    assert line.fields[0] == ("SN", "0000204817")
    assert line.fields[-3:] == (
        ("PIDELTA", "+--"),
        ("ALARM", "0000"),
        ("EXC", "000800"),
    )
    assert line.value_of("SPCO") == "--.-%"
    assert line.value_of("PVI") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("---%", None), ("---", None), ("-", None), ("--.--%", None), ("000%", 0)],
)
def test_dash_runs_of_any_width_decode_to_none(
    value: str, expected: int | None
) -> None:
    line = parse_line(f"01/01/25 00:00:01 SPO2={value} BPM={value} PI={value}".encode())
    assert line.spo2_percent == expected
    assert line.pulse_rate_bpm == expected
    assert line.perfusion_index == expected


@pytest.mark.parametrize(
    ("raw", "alarm", "exc"),
    [
        # Lower-case hex, as in the 3-digit code table of yahnatan/pulseox.
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 ALARM=0a EXC=03a", 0x0A, 0x03A),
        # No ALARM or EXC at all: both words read as 0.
        (b"01/01/25 00:00:01 SPO2=097% BPM=072", 0, 0),
        # Unknown high bits are kept, not rejected.
        (
            b"01/01/25 00:00:01 SPO2=097% BPM=072 ALARM=FFFFFF EXC=0800800",
            0xFFFFFF,
            0x800800,
        ),
    ],
)
def test_hex_words_in_every_width(raw: bytes, alarm: int, exc: int) -> None:
    line = parse_line(raw)
    assert int(line.alarm) == alarm
    assert int(line.exc) == exc
    assert line.perfusion_index is None


def test_padding_spaces_and_a_stray_percent_are_tolerated() -> None:
    line = parse_line(b"01/01/25 00:00:01  SPO2=97%   BPM=72% PI=2.1 \r\n")
    assert (line.spo2_percent, line.pulse_rate_bpm, line.perfusion_index) == (
        97,
        72,
        2.1,
    )
    # Re-encoding normalises the spacing; the values survive.
    assert parse_line(line.encode()) == line


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"SPO2=097% BPM=072", "does not start with MM/DD/YY"),
        (b"1/01/25 00:00:01 SPO2=097% BPM=072", "does not start with MM/DD/YY"),
        (b"01-01-25 00:00:01 SPO2=097% BPM=072", "does not start with MM/DD/YY"),
        (b"01/01/25 00:00:01SPO2=097% BPM=072", "no space after the device clock"),
        (b"01/01/25 00:00:01", "needs SPO2 and BPM"),
        (b"01/01/25 00:00:01 SPO2=097% PI=01.00%", "needs SPO2 and BPM"),
        (b"01/01/25 00:00:01 BPM=072", "needs SPO2 and BPM"),
        (b"01/01/25 00:00:01 SPO2=9x7% BPM=072", "neither digits nor dashes"),
        (b"01/01/25 00:00:01 SPO2=0097% BPM=072", "neither digits nor dashes"),
        (b"01/01/25 00:00:01 SPO2=-97% BPM=072", "neither digits nor dashes"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=07.2", "neither digits nor dashes"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 PI=2.105%", "neither a decimal"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 PI=+-.--", "neither a decimal"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 ALARM=00G0", "ALARM='00G0' is not hex"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 EXC=000000800", "is not hex"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 EXC1=zz", "EXC1='zz' is not hex"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 EXC=", "not KEY=VALUE"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 junk", "not KEY=VALUE"),
        (b"01/01/25 00:00:01 spo2=097% BPM=072", "not KEY=VALUE"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 SN=1=2", "not KEY=VALUE"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 SN=00\xe9", "not KEY=VALUE"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072\tPI=01.00%", "not KEY=VALUE"),
        (b"01/01/25 00:00:01 SPO2=097% BPM=072 SPO2=050%", "appears twice"),
    ],
)
def test_malformed_lines_are_rejected_and_counted(raw: bytes, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        parse_line(raw)
    decoder = MasimoAscii1Decoder()
    assert decoder.feed(raw + LINE_END) == []
    assert decoder.malformed_lines == 1
    assert decoder.stats.dropped_bytes == len(raw) + len(LINE_END)
    assert decoder.stats.frames == 0
    assert decoder.stats.checksum_errors == 0


def test_frame_error_message_holds_the_bytes() -> None:
    with pytest.raises(FrameError, match="SPO2=9x7%"):
        parse_line(b"01/01/25 00:00:01 SPO2=9x7% BPM=072\r\n")


# ------------------------------------------------------------------ the value type


def test_line_constructor_checks_the_clock_text() -> None:
    line = parse_line(RADICAL5)
    with pytest.raises(ValueError, match="not MM/DD/YY HH:MM:SS"):
        dataclasses.replace(line, device_time="3/8/25 14:27:50")


def test_line_constructor_checks_typed_values_against_fields() -> None:
    line = parse_line(RADICAL5)
    with pytest.raises(ValueError, match="disagree with fields"):
        dataclasses.replace(line, spo2_percent=50)
    with pytest.raises(ValueError, match="disagree with fields"):
        dataclasses.replace(line, exc=MasimoException(0))


def test_line_constructor_checks_the_fields() -> None:
    line = parse_line(RADICAL5)
    with pytest.raises(ValueError, match="needs SPO2 and BPM"):
        dataclasses.replace(line, fields=(("SPO2", "095%"),))
    with pytest.raises(ValueError, match="not KEY=VALUE"):
        MasimoLine.from_fields("03/08/25 14:27:50", [("SPO2", "0 95%"), ("BPM", "081")])


def test_from_fields_derives_typed_values_and_encodes() -> None:
    line = MasimoLine.from_fields(
        "12/31/24 23:59:59", [("SPO2", "100%"), ("BPM", "240"), ("PI", "20.00%")]
    )
    assert (line.spo2_percent, line.pulse_rate_bpm, line.perfusion_index) == (
        100,
        240,
        20.0,
    )
    assert line.encode() == b"12/31/24 23:59:59 SPO2=100% BPM=240 PI=20.00%\r\n"


@pytest.mark.parametrize("raw", [RAD8, RAD8_SENSOR_OFF, RADICAL7, RADICAL5])
def test_round_trip_through_bytes(raw: bytes) -> None:
    line = parse_line(raw)
    assert parse_line(line.encode()) == line
    assert MasimoAscii1Decoder().feed(line.encode()) == [line]


# ------------------------------------------------------------------ strategies


def _clock_text() -> st.SearchStrategy[str]:
    parts = st.tuples(
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 99),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
    )
    return parts.map(lambda p: "{:02d}/{:02d}/{:02d} {:02d}:{:02d}:{:02d}".format(*p))


@st.composite
def masimo_lines(draw: st.DrawFn) -> MasimoLine:
    """Lines of any of the three variant shapes, with numbers in the wire's range."""
    variant = draw(st.sampled_from(["rad8", "radical7", "radical5"]))
    spo2 = draw(st.none() | st.integers(0, 999))
    pulse = draw(st.none() | st.integers(0, 999))
    pi = draw(st.none() | st.integers(0, 99_99))
    exc = draw(st.integers(0, 0x7FFFFF))
    alarm_width, exc_width = {"rad8": (4, 6), "radical7": (6, 7), "radical5": (2, 3)}[
        variant
    ]
    alarm = draw(st.integers(0, 16**alarm_width - 1))
    fields = [
        ("SPO2", "---%" if spo2 is None else f"{spo2:03d}%"),
        ("BPM", "---" if pulse is None else f"{pulse:03d}"),
        ("PI", "--.--%" if pi is None else f"{pi / 100:05.2f}%"),
    ]
    if variant != "radical5":
        serial = draw(st.integers(0, 10**10 - 1))
        fields.insert(0, ("SN", f"{serial:010d}"))
        fields += [("SPCO", "--.-%"), ("SPMET", "--.-%")]
        if variant == "radical7":
            fields += [("SPHB", "--.-"), ("PVI", "---")]
        fields += [("DESAT", "--"), ("PIDELTA", "+--")]
    fields += [
        ("ALARM", f"{alarm:0{alarm_width}X}"),
        ("EXC", f"{exc & (16**exc_width - 1):0{exc_width}X}"),
    ]
    if variant == "radical7":
        fields.append(("EXC1", "00000000"))
    return MasimoLine.from_fields(draw(_clock_text()), fields)


_GARBAGE = st.binary(max_size=120)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _feed_all(decoder: MasimoAscii1Decoder, chunks: list[bytes]) -> list[MasimoLine]:
    out: list[MasimoLine] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
        # The buffer holds at most one partial line, far under the shared bound.
        assert len(decoder._buffer) <= MAX_LINE_BYTES <= MAX_BUFFER_BYTES
    return out


def _is_subsequence(wanted: list[MasimoLine], got: list[MasimoLine]) -> bool:
    remaining = iter(got)
    return all(any(item == line for item in remaining) for line in wanted)


def _assert_in_driver_ranges(lines: list[MasimoLine]) -> None:
    ranges = {m.metric: (m.minimum, m.maximum) for m in DRIVER_SPEC.metrics}
    for line in lines:
        for reading in line_to_readings(
            line, device="ox", received_mono=0.0, received_at=AT
        ):
            if reading.status is ReadingStatus.OK:
                assert reading.value is not None
                low, high = ranges[reading.metric]
                assert low <= reading.value <= high


# ------------------------------------------------------------------ framing


def test_lf_alone_and_blank_lines_are_accepted() -> None:
    lf_only = RAD8.replace(b"\r\n", b"\n")
    stream = b"\r\n" + RAD8 + b"\r\n" + lf_only + b"\n\n" + RADICAL5 + b"\r\r\n"
    decoder = MasimoAscii1Decoder()
    lines = decoder.feed(stream)
    assert lines == [parse_line(RAD8), parse_line(RAD8), parse_line(RADICAL5)]
    # Blank lines are framing, not garbage.
    assert decoder.stats.dropped_bytes == 0
    assert decoder.malformed_lines == 0
    assert decoder.stats.bytes_in == len(stream)


def test_partial_line_waits_for_its_newline() -> None:
    decoder = MasimoAscii1Decoder()
    assert decoder.feed(RAD8[:-2]) == []
    assert decoder.feed(b"\r") == []
    assert decoder.feed(b"\n") == [parse_line(RAD8)]


def test_garbage_before_the_clock_is_dropped_and_counted_as_a_resync() -> None:
    decoder = MasimoAscii1Decoder()
    garbage = b"\x00\xff\x7fSPO2=097% 12/3"
    assert decoder.feed(garbage + RAD8) == [parse_line(RAD8)]
    stats = decoder.stats
    assert stats.dropped_bytes == len(garbage)
    assert stats.resyncs == 1
    assert decoder.malformed_lines == 0


def test_a_truncated_line_glued_to_the_next_loses_only_itself() -> None:
    decoder = MasimoAscii1Decoder()
    truncated = RAD8_SENSOR_OFF[:60]
    assert decoder.feed(truncated + RADICAL7) == [parse_line(RADICAL7)]
    assert decoder.stats.dropped_bytes == len(truncated)
    assert decoder.stats.resyncs == 1


def test_last_of_overlapping_clock_candidates_starts_the_record() -> None:
    # Two clock patterns can share two digits; the later one is the record's.
    raw = b"12/12/12 12:12:12/12/12 12:12:12 SPO2=097% BPM=072\r\n"
    decoder = MasimoAscii1Decoder()
    [line] = decoder.feed(raw)
    assert line.device_time == "12/12/12 12:12:12"
    assert decoder.stats.dropped_bytes == 15


def test_a_line_of_exactly_max_bytes_is_judged_on_its_merits() -> None:
    body = b"01/01/25 00:00:01 SPO2=097% BPM=072 SN="
    line = body + b"9" * (MAX_LINE_BYTES - len(body))
    assert len(line) == MAX_LINE_BYTES
    decoder = MasimoAscii1Decoder()
    [decoded] = decoder.feed(line + b"\n")
    assert decoded.value_of("SN") == "9" * (MAX_LINE_BYTES - len(body))


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 513, 10_000])
def test_overlong_line_is_dropped_whatever_the_chunking(chunk_size: int) -> None:
    overlong = b"01/01/25 00:00:01 SPO2=097% BPM=072 SN=" + b"1" * 600 + b"\r\n"
    stream = RAD8 + overlong + b"x" * 2000 + b"\n" + RADICAL5
    decoder = MasimoAscii1Decoder()
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    assert _feed_all(decoder, chunks) == [parse_line(RAD8), parse_line(RADICAL5)]
    assert decoder.malformed_lines == 2
    assert decoder.stats.dropped_bytes == len(overlong) + 2001
    assert decoder.stats.frames == 2


def test_stats_are_a_snapshot() -> None:
    decoder = MasimoAscii1Decoder()
    decoder.feed(RAD8)
    stats = decoder.stats
    stats.frames = 99
    assert decoder.stats.frames == 1


STREAM = (
    RAD8
    + b"\xfe\xff garbage\r\n"
    + RADICAL7.replace(b"\r\n", b"\n")
    + b"\r\n"
    + RAD8_SENSOR_OFF[:40]
    + RADICAL5
    + b"01/01/25 00:00:01 SPO2=9x7% BPM=072\r\n"
    + RAD8_SENSOR_OFF
)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 17, 64, 128, len(STREAM)])
def test_chunk_size_does_not_change_lines_or_stats(chunk_size: int) -> None:
    whole = MasimoAscii1Decoder()
    expected = whole.feed(STREAM)
    assert len(expected) == 4
    decoder = MasimoAscii1Decoder()
    chunks = [STREAM[i : i + chunk_size] for i in range(0, len(STREAM), chunk_size)]
    assert _feed_all(decoder, chunks) == expected
    assert decoder.stats == whole.stats
    assert decoder.malformed_lines == whole.malformed_lines == 2


# ------------------------------------------------------------------ property tests


@given(
    lines=st.lists(masimo_lines(), min_size=1, max_size=6),
    garbage=st.lists(_GARBAGE, min_size=7, max_size=7),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
)
def test_random_splits_give_identical_lines_and_stats(
    lines: list[MasimoLine], garbage: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(
        noise + line.encode() for noise, line in zip(garbage, lines, strict=False)
    )
    stream += garbage[-1]
    whole = MasimoAscii1Decoder()
    expected = whole.feed(stream)
    split = MasimoAscii1Decoder()
    assert _feed_all(split, _split(stream, cuts)) == expected
    assert split.stats == whole.stats
    assert split.malformed_lines == whole.malformed_lines
    assert split.stats.bytes_in == len(stream)


@given(lines=st.lists(masimo_lines(), min_size=1, max_size=5), prefix=_GARBAGE)
def test_valid_lines_after_garbage_are_recovered(
    lines: list[MasimoLine], prefix: bytes
) -> None:
    stream = prefix + b"".join(line.encode() for line in lines)
    decoded = MasimoAscii1Decoder().feed(stream)
    # Garbage glued before the first clock is a prefix of the first line; whatever
    # it holds (even a clock of its own), the last clock on the line wins.
    assert decoded == lines


@given(
    lines=st.lists(masimo_lines(), min_size=2, max_size=5),
    data=st.data(),
    infix=st.binary(min_size=1, max_size=40),
)
def test_garbage_inside_a_line_costs_at_most_that_line(
    lines: list[MasimoLine], data: st.DataObject, infix: bytes
) -> None:
    victim = data.draw(st.integers(0, len(lines) - 1))
    raw = lines[victim].encode()
    at = data.draw(st.integers(0, len(raw) - 2))
    encoded = [line.encode() for line in lines]
    encoded[victim] = raw[:at] + infix + raw[at:]
    decoded = MasimoAscii1Decoder().feed(b"".join(encoded))
    intact = [line for index, line in enumerate(lines) if index != victim]
    assert _is_subsequence(intact, decoded)
    _assert_in_driver_ranges(decoded)


@given(lines=st.lists(masimo_lines(), min_size=2, max_size=5), data=st.data())
def test_truncated_line_costs_only_itself(
    lines: list[MasimoLine], data: st.DataObject
) -> None:
    victim = data.draw(st.integers(0, len(lines) - 1))
    raw = lines[victim].encode()
    keep_head = data.draw(st.booleans())
    cut = data.draw(st.integers(0, len(raw) - 2))
    # Either the line's tail is lost (so it glues to the next) or its head is.
    encoded = [line.encode() for line in lines]
    encoded[victim] = raw[:cut] if keep_head else raw[cut + 1 :]
    decoded = MasimoAscii1Decoder().feed(b"".join(encoded))
    assert decoded == [line for index, line in enumerate(lines) if index != victim]


@given(
    lines=st.lists(masimo_lines(), min_size=1, max_size=6),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 7)), max_size=4),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_bit_flips_never_raise_and_spare_untouched_lines(
    lines: list[MasimoLine], flips: list[tuple[int, int]], cuts: list[int]
) -> None:
    encoded = [line.encode() for line in lines]
    stream = bytearray(b"".join(encoded))
    hit: set[int] = set()
    for position, bit in flips:
        index = position % len(stream)
        stream[index] ^= 1 << bit
        hit.add(index)
    decoder = MasimoAscii1Decoder()
    decoded = _feed_all(decoder, _split(bytes(stream), cuts))
    # A line survives when its own bytes and the LF before it are untouched: the
    # decoder sees exactly that line, whatever happened around it.
    spared: list[MasimoLine] = []
    start = 0
    for line, raw in zip(lines, encoded, strict=True):
        span = range(max(start - 1, 0), start + len(raw))
        if hit.isdisjoint(span):
            spared.append(line)
        start += len(raw)
    assert _is_subsequence(spared, decoded)
    _assert_in_driver_ranges(decoded)


@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0)))
def test_arbitrary_bytes_never_raise_and_stay_bounded(
    data: bytes, cuts: list[int]
) -> None:
    decoder = MasimoAscii1Decoder()
    decoded = _feed_all(decoder, _split(data, cuts))
    assert decoder.stats.bytes_in == len(data)
    assert decoder.stats.frames == len(decoded)
    assert decoder.stats.checksum_errors == 0
    assert decoder.stats.dropped_bytes <= len(data)


@given(line=masimo_lines())
def test_every_line_round_trips(line: MasimoLine) -> None:
    assert parse_line(line.encode()) == line
    assert MasimoAscii1Decoder().feed(line.encode()) == [line]


@given(line=masimo_lines(), data=st.data())
def test_a_corrupted_digit_is_caught_or_changes_its_field(
    line: MasimoLine, data: st.DataObject
) -> None:
    """ASCII 1 has no checksum, so a digit swapped for another digit cannot be seen.

    What the codec guarantees: a corrupted digit either makes the line fail
    validation (non-digit in a number, broken clock or token, split line) or the line
    decodes with the changed field different from what was sent: it never silently
    turns into the original. A garbled number that gets through still has to pass
    the driver's physiological ranges (SpO2 <= 100 %, pulse <= 300 bpm, PI <= 20 %),
    so 097 -> 997 becomes "unavailable"; 097 -> 087 is undetectable on this wire.
    """
    raw = line.encode()
    text = raw.decode("ascii")
    # Digits of the clock and of values; a digit inside a key (SPO2, EXC1) is not a
    # value and would simply drop the key.
    digits = [
        index
        for index, char in enumerate(text)
        if char.isdigit()
        and (index < len(line.device_time) or "=" in text[:index].rsplit(" ", 1)[-1])
    ]
    position = data.draw(st.sampled_from(digits))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    garbled = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    decoded = MasimoAscii1Decoder().feed(garbled)
    _assert_in_driver_ranges(decoded)
    if not decoded:
        return
    first = decoded[0]
    if position < len(line.device_time):
        assert first.device_time != line.device_time
        return
    key = text[:position].rsplit(" ", 1)[-1].split("=", 1)[0]
    assert first.value_of(key) != line.value_of(key)
    assert first != line

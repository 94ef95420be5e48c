"""A seeded mutational fuzzer for the three device decoders (issue 8, bad input).

Each input is a valid stream built with the codecs' own encoders (Nonin packets with
the real pleth waveform of ``../shared/captures/nonin`` when that folder is there,
SunTech responses, Masimo ASCII 1 lines), then mutated 1-8 times: bit flips, bytes
replaced, inserted, deleted, duplicated, swapped, protocol-significant bytes
(start bytes, CR, LF, digits, ``=``) inserted, pieces of another stream spliced in,
the head or tail cut. The result is fed to the decoder in random chunks, and what
comes out goes through the protocol's driver to readings.

What is asserted, for every input:

- nothing raises: not the decoder, not the Nonin packet assembler, not the driver;
- **no frame whose check fails as received is ever used** (Nonin DF2 and SunTech).
  A *reference framer* written here from the protocol's rules (protocols.md §1.2,
  §2.1) scans the received bytes: a frame is a window that has the structure and
  whose 8-bit sum holds, exactly where it sits in the stream, and the hunt slides one
  byte after a failure. The decoder must produce exactly the frames the reference
  finds: none of a window that fails its checksum or structure, none stitched
  from bytes that are not contiguous, none lost. For Nonin DF2 the same holds
  one level up: a packet is 25 contiguous valid frames starting at a SYNC frame and
  followed, with no gap, by the next SYNC frame, so a packet with any frame broken,
  missing, repeated or spliced in never becomes a reading;
- **Masimo ASCII 1 has no checksum**, so a mutation that leaves a line grammatical
  (a digit changed to another digit) decodes, legitimately, to different numbers.
  What is asserted there: a *reference parser* of the line grammar (protocols.md
  §1.1), written here independently of the codec, accepts exactly the lines the
  decoder accepts, with the same fields and values; every line with a byte
  outside printable ASCII, a broken token, a key twice, SPO2 or BPM missing or a
  non-numeric value is dropped whole and gives no reading;
- every reading keeps the ``Reading`` invariant (a value exactly when the status is
  ``ok``); no ``ok`` value lies outside the device's advertised range
  (``DriverSpec.metrics``) or the driver's own bounds: the drivers mark such values
  ``questionable``.

Counted and reported, not asserted (``FuzzStats``): units decoded that are not an
untouched original (corruption the protocol cannot detect: an 8-bit sum collision,
two changes that cancel, a still-grammatical Masimo line, a Nonin frame replaced by
another valid one), untouched originals recovered, readings the drivers marked
``questionable``.

Run it: ``python -m tests.fuzz`` (``make fuzz``); ``tests/fuzz/test_decoders.py`` runs
a short version in the default suite.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from roomctl.devices.masimo_ascii1.protocol import (
    LINE_END,
    MAX_LINE_BYTES,
    MasimoAlarm,
    MasimoAscii1Decoder,
    MasimoException,
    MasimoLine,
)
from roomctl.devices.nonin_df2.protocol import (
    NoninDf2Decoder,
    NoninDf2Frame,
    NoninDf2FrameBlock,
    NoninDf2Packet,
    NoninDf2PacketAssembler,
    StatusBit,
    encode_packet,
)
from roomctl.devices.registry import DRIVERS
from roomctl.devices.suntech_nibp.protocol import (
    AckCode,
    BpData,
    CuffPressure,
    ReturnString,
    SuntechAck,
    SuntechDecoder,
    SuntechResponse,
    UnknownResponse,
    parse_response,
)
from roomctl.readings import Metric, NibpReading, ProtocolId, Reading, ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from roomctl.readings import AnyReading

ROOT = Path(__file__).resolve().parents[2]
#: The real Nonin pleth waveform (GPL-3.0 data, kept outside this repository).
PLETH_CAPTURE = ROOT.parent / "shared" / "captures" / "nonin" / "systole_ppg.npy"
#: The driver's own bounds (roomctl/devices/*/driver.py): SpO2 and pulse rate
#: values above these are never passed on as ``ok``.
DRIVER_BOUNDS = {Metric.SPO2_PERCENT: 100.0, Metric.PULSE_RATE_BPM: 300.0}
#: A Nonin DF2 packet on the wire: 25 frames of 5 bytes.
PACKET_BYTES = 125
#: Corpus streams kept per protocol (each input picks one and mutates it).
CORPUS_SIZE = 400
#: Most mutations applied to one input.
MAX_MUTATIONS = 8
RECEIVED_AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class FuzzFailure(AssertionError):
    """An input broke an invariant; the message has everything to replay it."""


@dataclass(frozen=True, slots=True)
class Sample:
    """A valid stream and where its units (packets, frames, lines) lie in it."""

    data: bytes
    #: ``(start, end)`` of each unit in ``data``.
    units: tuple[tuple[int, int], ...]


@dataclass
class FuzzStats:
    """What one protocol's run did."""

    protocol: str
    inputs: int = 0
    bytes_in: int = 0
    seconds: float = 0.0
    #: Units (Nonin packets, SunTech frames, Masimo lines) the decoder produced.
    units_out: int = 0
    #: ... of which byte-for-byte an original unit left untouched by the mutations.
    units_out_intact: int = 0
    #: ... of which a whole valid unit repeated, moved or spliced in from another
    #: stream (a valid unit as received: nothing to detect).
    units_out_repeated: int = 0
    #: ... of which (Nonin DF2) a packet of valid original frames, not an original
    #: packet: a frame replaced by another valid one (one lost and one added inside
    #: the packet). Each frame passes its check, and Format #2 has no frame counter
    #: to tell. (A frame only added or only lost is caught: see the reference.)
    units_out_reassembled: int = 0
    #: ... and the rest: bytes changed yet the check still holds (an 8-bit sum
    #: collision, two changes that cancel) or, for Masimo, a mutated line that is
    #: still grammatical.
    units_out_undetectable: int = 0
    #: Original units left untouched by the mutations, and how many came out.
    units_untouched: int = 0
    readings: int = 0
    #: Readings the driver marked ``questionable``: a value outside the range.
    readings_questionable: int = 0
    examples_questionable: list[str] = field(default_factory=list)

    @property
    def inputs_per_s(self) -> float:
        """Inputs fuzzed per second."""
        return self.inputs / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        """One line of figures for the report."""
        recovered = (
            f"{self.units_out_intact / self.units_untouched:.2%}"
            if self.units_untouched
            else "-"
        )
        return (
            f"{self.protocol:18s} {self.inputs:>10,} inputs "
            f"{self.bytes_in / 1e6:8.1f} MB {self.seconds:7.1f} s "
            f"{self.inputs_per_s:8,.0f}/s | units out {self.units_out:,}: "
            f"untouched {self.units_out_intact:,}, whole units repeated "
            f"{self.units_out_repeated:,}, frames reassembled "
            f"{self.units_out_reassembled:,}, changed but undetectable "
            f"{self.units_out_undetectable:,}; untouched recovered {recovered}; "
            f"readings {self.readings:,}, questionable "
            f"{self.readings_questionable:,}"
        )


# ------------------------------------------------------------------ mutation


@dataclass
class _Work:
    """A stream being mutated: its bytes, each byte's original index (-1: new)."""

    data: bytearray
    origin: list[int]
    rng: random.Random
    splice: bytes
    significant: bytes

    def put(self, at: int, piece: bytes) -> None:
        self.data[at:at] = piece
        self.origin[at:at] = [-1] * len(piece)

    def cut(self, start: int, end: int) -> None:
        del self.data[start:end]
        del self.origin[start:end]

    def change(self, at: int, value: int) -> None:
        if value != self.data[at]:
            self.data[at] = value
            self.origin[at] = -1


def _insert_random(work: _Work, at: int) -> None:
    work.put(at, bytes(work.rng.randrange(256) for _ in range(work.rng.randint(1, 8))))


def _flip_bit(work: _Work, at: int) -> None:
    work.change(at, work.data[at] ^ (1 << work.rng.randrange(8)))


def _replace_byte(work: _Work, at: int) -> None:
    work.change(at, work.rng.randrange(256))


def _delete_run(work: _Work, at: int) -> None:
    work.cut(at, at + work.rng.randint(1, 8))


def _duplicate_run(work: _Work, at: int) -> None:
    work.put(at, bytes(work.data[at : at + work.rng.randint(1, 16)]))


def _swap_neighbours(work: _Work, at: int) -> None:
    if at + 1 < len(work.data):
        first, second = work.data[at], work.data[at + 1]
        work.change(at, second)
        work.change(at + 1, first)


def _insert_significant(work: _Work, at: int) -> None:
    work.put(at, bytes([work.rng.choice(work.significant)]))


def _splice(work: _Work, at: int) -> None:
    start = work.rng.randrange(max(1, len(work.splice)))
    work.put(at, work.splice[start : start + work.rng.randint(1, 40)])


def _cut_head_or_tail(work: _Work, at: int) -> None:
    if work.rng.random() < 0.5:
        work.cut(0, at)
    else:
        work.cut(at, len(work.data))


def _overwrite_run(work: _Work, at: int) -> None:
    for index in range(at, min(len(work.data), at + work.rng.randint(1, 6))):
        work.change(index, work.rng.randrange(256))


_MUTATIONS = (
    _flip_bit,
    _replace_byte,
    _delete_run,
    _duplicate_run,
    _swap_neighbours,
    _insert_significant,
    _splice,
    _cut_head_or_tail,
    _overwrite_run,
)


def mutate(
    sample: Sample, rng: random.Random, *, splice: bytes, significant: bytes
) -> tuple[bytes, list[int]]:
    """Mutate ``sample``; return the bytes and each byte's original index (-1: new).

    Args:
        sample: the stream to mutate.
        rng: the input's random source.
        splice: another stream to take pieces from.
        significant: bytes that mean something to the protocol (start bytes, CR LF).
    """
    work = _Work(
        bytearray(sample.data), list(range(len(sample.data))), rng, splice, significant
    )
    rounds = rng.randint(1, MAX_MUTATIONS) if rng.random() < 0.5 else 1
    for _ in range(rounds):
        size = len(work.data)
        if size == 0 or rng.random() < 0.1:
            _insert_random(work, rng.randrange(size + 1))
        else:
            rng.choice(_MUTATIONS)(work, rng.randrange(size))
    return bytes(work.data), work.origin


def chunks(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` cut at random places (sometimes one byte at a time)."""
    if not data:
        return [b""]
    if rng.random() < 0.05:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = sorted(
        rng.sample(range(1, len(data) + 1), min(len(data), rng.randint(1, 6)))
    )
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return pieces


def untouched(
    origin: Sequence[int], units: Sequence[tuple[int, int]]
) -> dict[int, int]:
    """Units the mutations left whole: their position in the mutated bytes, by start.

    A unit is untouched when its original bytes all survive, unchanged, in order and
    next to each other (another unit's bytes may have gone around it).
    """
    where = {index: position for position, index in enumerate(origin) if index >= 0}
    found: dict[int, int] = {}
    for start, end in units:
        position = where.get(start)
        if position is None or position + end - start > len(origin):
            continue
        if origin[position : position + end - start] == list(range(start, end)):
            found[position] = end - start
    return found


# ------------------------------------------------------------------ Nonin DF2


def _pleth_source(rng: random.Random) -> list[int]:
    if PLETH_CAPTURE.is_file():
        return [int(v) for v in np.load(PLETH_CAPTURE, allow_pickle=False)]
    # No shared folder: a synthetic pulse at 72 bpm (75 samples a second).
    return [
        int(128 + 100 * np.sin(2 * np.pi * 1.2 * n / 75) + rng.randint(-3, 3))
        for n in range(75 * 60)
    ]


def nonin_corpus(rng: random.Random) -> list[Sample]:
    """Streams of 1-4 packets: real pleth, varied values and signal states."""
    pleth = _pleth_source(rng)
    flag_sets: list[tuple[StatusBit, ...]] = [
        (),
        (StatusBit.GPRF,),
        (StatusBit.RPRF,),
        (StatusBit.SNSA, StatusBit.SNSD),
        (StatusBit.OOT,),
        (StatusBit.ARTF,),
    ]
    packets = []
    for _ in range(CORPUS_SIZE):
        start = rng.randrange(len(pleth) - 25)
        flags = rng.choice(flag_sets)
        packets.append(
            encode_packet(
                hr_bpm=rng.choice([None, rng.randint(20, 320)]),
                spo2_percent=rng.choice([None, rng.randint(60, 100), 120]),
                pleth=pleth[start : start + 25],
                flags=[StatusBit(sum(flags))] * 25 if flags else (),
                firmware_revision=rng.randint(0, 127),
            )
        )
    samples = []
    for _ in range(CORPUS_SIZE):
        chosen = rng.sample(packets, rng.randint(1, 4))
        # The first frame of one more packet ends the stream: it lets out the last
        # packet (the assembler holds each until the next SYNC frame). A unit is a
        # packet and that frame: 130 bytes, overlapping the next unit by 5.
        units = tuple(
            (PACKET_BYTES * i, PACKET_BYTES * (i + 1) + 5) for i in range(len(chosen))
        )
        tail = rng.choice(packets)[:5]
        samples.append(Sample(b"".join(chosen) + tail, units))
    return samples


def reference_nonin_frames(data: bytes) -> list[int]:
    """Where valid frames start: 01, status bit 7 set, data bit 7 clear, sum holds.

    The hunt of protocols.md §1.2: judge the five bytes here; a valid window is a
    frame and the next is judged right after it; otherwise slide one byte.
    """
    frames = []
    position, last = 0, len(data) - 5
    while position <= last:
        start, status, pleth, value, check = data[position : position + 5]
        if (
            start == 0x01
            and status & 0x80
            and not value & 0x80
            and (start + status + pleth + value) & 0xFF == check
        ):
            frames.append(position)
            position += 5
        else:
            position += 1
    return frames


def reference_nonin_packets(data: bytes) -> list[tuple[int, bytes]]:
    """Packets: 25 valid frames in a row, SYNC on the first only, then a SYNC frame.

    The frame after the 25th must follow it with no gap and carry SYNC (it is the
    next packet's first); a packet with a frame added fails exactly that.
    """
    packets = []
    open_at: int | None = None
    count = 0
    previous_end = -1
    for position in reference_nonin_frames(data):
        sync = data[position + 1] & 0x01
        follows = position == previous_end
        if open_at is not None and count == 25:
            # A whole packet: the frame after it must be the next SYNC, no gap.
            if follows and sync:
                packets.append((open_at, data[open_at : open_at + 125]))
            open_at = None
        elif open_at is not None and (not follows or sync):
            open_at = None  # a gap, or a SYNC too early: the partial packet goes
        previous_end = position + 5
        if open_at is None:
            if sync:
                open_at, count = position, 1
        else:
            count += 1
    return packets


def run_nonin(data: bytes, pieces: Sequence[bytes]) -> Outcome:
    """Decode, check against the reference, return the readings."""
    decoder = NoninDf2Decoder()
    assembler = NoninDf2PacketAssembler()
    driver = DRIVERS[ProtocolId.NONIN_DF2].driver_factory("oximeter")
    packets: list[NoninDf2Packet] = []
    readings: list[AnyReading] = []
    for piece in pieces:
        for item in decoder.feed(piece):
            if isinstance(item, NoninDf2FrameBlock):
                packets += assembler.add_block(item)
            else:
                assert isinstance(item, NoninDf2Frame)
                packet = assembler.add(item)
                if packet is not None:
                    packets.append(packet)
            readings += driver.on_frame(item, 1.0, RECEIVED_AT)
    expected = reference_nonin_packets(data)
    if packets != [NoninDf2Packet.from_wire(raw) for _, raw in expected]:
        raise FuzzFailure("packets differ from the reference framer's")
    if decoder.stats.frames != len(reference_nonin_frames(data)):
        raise FuzzFailure("frame count differs from the reference framer's")
    if len(readings) != 2 * len(packets):
        raise FuzzFailure(f"{len(readings)} readings from {len(packets)} packets")
    # A unit is a packet and the SYNC frame that let it out (see ``nonin_corpus``).
    return readings, [(p, PACKET_BYTES + 5) for p, _ in expected]


# ------------------------------------------------------------------ SunTech


def suntech_corpus(rng: random.Random) -> list[Sample]:
    """Streams of 1-8 module responses of every kind, sometimes with noise between."""
    responses: list[bytes] = []
    for _ in range(CORPUS_SIZE):
        kind = rng.randrange(5)
        response: SuntechResponse
        if kind == 0:
            response = SuntechAck(code=rng.choice(list(AckCode)))
        elif kind == 1:
            response = CuffPressure(mmhg=rng.choice([None, rng.randint(0, 300)]))
        elif kind == 2:
            systolic = rng.randint(70, 220)
            response = BpData(
                systolic_mmhg=systolic,
                diastolic_mmhg=rng.randint(40, systolic - 10),
                map_mmhg=rng.randint(50, systolic),
                heart_rate_bpm=rng.randint(40, 180),
                beats=rng.randint(0, 60),
                error_code=rng.choice([0, 0, 0, 86, 87, 90]),
            )
        elif kind == 3:
            response = ReturnString(text=rng.choice(["LX 3.4.5", "SB 1.2.31", "V3.1"]))
        else:
            response = UnknownResponse(data=bytes([0x90, rng.randrange(256), 0]))
        responses.append(response.encode())
    samples = []
    for _ in range(CORPUS_SIZE):
        stream = bytearray()
        units = []
        for wire in rng.sample(responses, rng.randint(1, 8)):
            if rng.random() < 0.1:
                stream += bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            units.append((len(stream), len(stream) + len(wire)))
            stream += wire
        samples.append(Sample(bytes(stream), tuple(units)))
    return samples


def reference_suntech_frames(data: bytes) -> list[tuple[int, int]]:
    """Where valid responses lie: ``>``, a length 4-67, a zero 8-bit sum (§2.1).

    The hunt: at a ``>`` read the length; wait (stop) when the stream ends before
    the candidate does; keep the candidate if its sum is zero, else slide one byte.
    """
    frames = []
    position, end = 0, len(data)
    while position < end:
        if data[position] != 0x3E:
            position += 1
            continue
        if position + 1 >= end:
            break
        length = data[position + 1]
        if not 4 <= length <= 0x43:
            position += 1
            continue
        if position + length > end:
            break
        if sum(data[position : position + length]) & 0xFF:
            position += 1
            continue
        frames.append((position, length))
        position += length
    return frames


def run_suntech(data: bytes, pieces: Sequence[bytes]) -> Outcome:
    """Decode, check against the reference, return the readings."""
    decoder = SuntechDecoder()
    driver = DRIVERS[ProtocolId.SUNTECH_ADVANTAGE].driver_factory("nibp")
    frames: list[SuntechResponse] = []
    readings: list[AnyReading] = []
    for piece in pieces:
        for frame in decoder.feed(piece):
            frames.append(frame)
            readings += driver.on_frame(frame, 1.0, RECEIVED_AT)
    expected = reference_suntech_frames(data)
    if frames != [parse_response(data[p : p + n]) for p, n in expected]:
        raise FuzzFailure("responses differ from the reference framer's")
    return readings, expected


# ------------------------------------------------------------------ Masimo


def masimo_corpus(rng: random.Random) -> list[Sample]:
    """Streams of 1-5 lines in the Rad-8, Radical-7 and Radical-5 shapes."""
    lines = []
    for n in range(CORPUS_SIZE):
        clock = f"05/14/24 10:{n // 60 % 60:02d}:{n % 60:02d}"
        dashed = rng.random() < 0.2
        spo2 = "---%" if dashed else f"{rng.randint(70, 100):03d}%"
        bpm = "---" if dashed else f"{rng.randint(30, 200):03d}"
        pi = (
            "--.--%"
            if dashed
            else f"{rng.randint(0, 20):02d}.{rng.randint(0, 99):02d}%"
        )
        exc = MasimoException.SET_MODE | rng.choice(
            [0, MasimoException.SENSOR_OFF, MasimoException.LOW_PERFUSION]
        )
        shape = rng.randrange(3)
        if shape == 0:
            fields = [("SN", "0000012345"), ("SPO2", spo2), ("BPM", bpm), ("PI", pi)]
            fields += [("SPCO", "--.-%"), ("SPMET", "--.-%"), ("DESAT", "--")]
            fields += [("PIDELTA", "+--"), ("ALARM", "0000"), ("EXC", f"{exc:06X}")]
        elif shape == 1:
            fields = [("SN", "----------"), ("SPO2", spo2), ("BPM", bpm), ("PI", pi)]
            fields += [("SPHB", "--.-"), ("PVI", "014"), ("ALARM", "000000")]
            fields += [("EXC", f"{exc:07X}"), ("EXC1", "00000000")]
        else:
            fields = [("SPO2", spo2), ("BPM", bpm), ("PI", pi), ("ALARM", "20")]
            fields += [("EXC", f"{exc & 0xFFF:03X}")]
        lines.append(MasimoLine.from_fields(clock, fields).encode())
    samples = []
    for _ in range(CORPUS_SIZE):
        stream = bytearray()
        units = []
        for line in rng.sample(lines, rng.randint(1, 5)):
            units.append((len(stream), len(stream) + len(line) - len(LINE_END)))
            stream += line
        samples.append(Sample(bytes(stream), tuple(units)))
    return samples


_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789ABCDEFabcdef")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_KEY_REST = _UPPER | _DIGITS
#: A value's characters: printable ASCII without space and ``=`` (0x21-0x7E).
_VALUE_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"="}
_CLOCK_SHAPE = "dd/dd/dd dd:dd:dd"


def _is_clock(text: str, at: int) -> bool:
    if at + len(_CLOCK_SHAPE) > len(text):
        return False
    for offset, shape in enumerate(_CLOCK_SHAPE):
        char = text[at + offset]
        if char not in (_DIGITS if shape == "d" else shape):
            return False
    return True


def _number(value: str, *, decimals: bool) -> float | None:
    """Digits (1-3, with up to 2 decimals if allowed) and an optional ``%``."""
    body = value.removesuffix("%")
    if value.startswith("-") and set(body) <= {"-", "."}:
        return None  # dashes (and dots) keep the field width: no value
    whole, dot, fraction = body.partition(".")
    if not (1 <= len(whole) <= 3 and set(whole) <= _DIGITS):
        raise ValueError(value)
    if dot and not (decimals and 1 <= len(fraction) <= 2 and set(fraction) <= _DIGITS):
        raise ValueError(value)
    return float(body)


def _hex_word(value: str) -> int:
    if not (1 <= len(value) <= 8 and set(value) <= _HEX):
        raise ValueError(value)
    return int(value, 16)


def reference_masimo_record(text: str) -> tuple[object, ...]:
    """A record (from its clock, no terminator) by the grammar; ValueError if bad."""
    clock, rest = text[:17], text[17:]
    if rest and not rest.startswith(" "):
        raise ValueError(text)
    fields = []
    for token in rest.split(" "):
        if not token:
            continue
        key, equals, value = token.partition("=")
        if not (
            equals
            and key
            and key[0] in _UPPER
            and set(key[1:]) <= _KEY_REST
            and value
            and set(value) <= _VALUE_CHARS
        ):
            raise ValueError(token)
        fields.append((key, value))
    seen = dict(fields)
    if len(seen) != len(fields) or "SPO2" not in seen or "BPM" not in seen:
        raise ValueError(text)
    if "EXC1" in seen:
        _hex_word(seen["EXC1"])
    spo2 = _number(seen["SPO2"], decimals=False)
    bpm = _number(seen["BPM"], decimals=False)
    pi = None if "PI" not in seen else _number(seen["PI"], decimals=True)
    alarm = _hex_word(seen.get("ALARM", "0"))
    exc = _hex_word(seen.get("EXC", "0"))
    return (clock, tuple(fields), spo2, bpm, pi, alarm, exc)


def reference_masimo_lines(data: bytes) -> list[tuple[int, int, tuple[object, ...]]]:
    """Lines by the grammar: LF-terminated, at most 512 bytes, from the last clock.

    Returns:
        Each line's record: where it starts, its length (CR LF excluded), values.
    """
    lines = []
    offset = 0
    *complete, _tail = data.split(b"\n")
    for raw in complete:
        start, offset = offset, offset + len(raw) + 1
        if len(raw) > MAX_LINE_BYTES:
            continue
        text = raw.rstrip(b"\r").decode("latin-1")
        clocks = [at for at in range(len(text)) if _is_clock(text, at)]
        if not clocks:
            continue
        record = text[clocks[-1] :]
        try:
            lines.append(
                (start + clocks[-1], len(record), reference_masimo_record(record))
            )
        except ValueError:
            continue
    return lines


def _masimo_tuple(line: MasimoLine) -> tuple[object, ...]:
    return (
        line.device_time,
        line.fields,
        None if line.spo2_percent is None else float(line.spo2_percent),
        None if line.pulse_rate_bpm is None else float(line.pulse_rate_bpm),
        line.perfusion_index,
        int(MasimoAlarm(line.alarm)),
        int(MasimoException(line.exc)),
    )


def run_masimo(data: bytes, pieces: Sequence[bytes]) -> Outcome:
    """Decode, check against the reference parser, return the readings."""
    decoder = MasimoAscii1Decoder()
    driver = DRIVERS[ProtocolId.MASIMO_ASCII1].driver_factory("oximeter")
    lines: list[MasimoLine] = []
    readings: list[AnyReading] = []
    for piece in pieces:
        for line in decoder.feed(piece):
            lines.append(line)
            readings += driver.on_frame(line, 1.0, RECEIVED_AT)
    expected = reference_masimo_lines(data)
    if [_masimo_tuple(line) for line in lines] != [value for _, _, value in expected]:
        raise FuzzFailure("lines differ from the reference parser's")
    return readings, [(p, size) for p, size, _ in expected]


# ------------------------------------------------------------------ the run


def count_units(
    stats: FuzzStats,
    found: Sequence[tuple[int, int]],
    *,
    data: bytes,
    at: dict[int, int],
    sources: Sequence[Sample],
    frame_bytes: int | None,
) -> None:
    """Sort the units decoded by where their bytes came from (see ``FuzzStats``)."""
    stats.units_out += len(found)
    stats.units_untouched += len(at)
    originals: set[bytes] | None = None
    frames: set[bytes] | None = None
    for position, size in found:
        if at.get(position) == size:
            stats.units_out_intact += 1
            continue
        unit = data[position : position + size]
        if originals is None:
            originals = {s.data[a:b] for s in sources for a, b in s.units}
        if unit in originals:
            stats.units_out_repeated += 1
            continue
        if frame_bytes is not None:
            if frames is None:
                frames = {
                    s.data[i : i + frame_bytes]
                    for s in sources
                    for a, b in s.units
                    for i in range(a, b, frame_bytes)
                }
            if all(
                unit[i : i + frame_bytes] in frames for i in range(0, size, frame_bytes)
            ):
                stats.units_out_reassembled += 1
                continue
        stats.units_out_undetectable += 1


def check_readings(
    readings: Sequence[AnyReading],
    stats: FuzzStats,
    ranges: dict[Metric, tuple[float, float]],
) -> None:
    """The reading invariants: no ``ok`` value outside the advertised range."""
    for reading in readings:
        stats.readings += 1
        if isinstance(reading, NibpReading):
            ok = reading.status is ReadingStatus.OK
            if ok != (reading.systolic_mmhg is not None):
                raise FuzzFailure(f"NIBP value/status mismatch: {reading}")
            values: dict[Metric, float | None] = {
                Metric.SYSTOLIC_MMHG: reading.systolic_mmhg,
                Metric.DIASTOLIC_MMHG: reading.diastolic_mmhg,
                Metric.MAP_MMHG: reading.map_mmhg,
                Metric.NIBP_PULSE_RATE_BPM: reading.pulse_rate_bpm,
            }
        else:
            assert isinstance(reading, Reading)
            if (reading.value is None) == (reading.status is ReadingStatus.OK):
                raise FuzzFailure(f"value/status mismatch: {reading}")
            bound = DRIVER_BOUNDS.get(reading.metric)
            if (
                reading.value is not None
                and bound is not None
                and reading.value > bound
            ):
                raise FuzzFailure(f"an ok value beyond the driver's bound: {reading}")
            values = {reading.metric: reading.value}
        for metric, value in values.items():
            low, high = ranges.get(metric, (float("-inf"), float("inf")))
            if value is not None and not low <= value <= high:
                raise FuzzFailure(
                    f"an ok {metric.value} of {value} outside the advertised range "
                    f"{low:g}-{high:g}: {reading}"
                )
        if reading.status is ReadingStatus.QUESTIONABLE:
            stats.readings_questionable += 1
            if len(stats.examples_questionable) < 5:
                what = (
                    reading.error_text
                    if isinstance(reading, NibpReading)
                    else reading.metric.value
                )
                stats.examples_questionable.append(what)


#: What a run gives: the readings, and where each decoded unit lies (and its size).
Outcome: TypeAlias = tuple[list["AnyReading"], list[tuple[int, int]]]


@dataclass(frozen=True)
class Protocol:
    """How to fuzz one protocol."""

    protocol: ProtocolId
    corpus: Callable[[random.Random], list[Sample]]
    run: Callable[[bytes, Sequence[bytes]], Outcome]
    #: Bytes the protocol gives meaning to (inserted by one mutation).
    significant: bytes
    #: The frame size inside a unit, when units are made of fixed-size frames.
    frame_bytes: int | None = None


PROTOCOLS: dict[str, Protocol] = {
    "nonin-df2": Protocol(
        ProtocolId.NONIN_DF2,
        nonin_corpus,
        run_nonin,
        significant=bytes([0x01, 0x81, 0x80, 0x7F, 0xFF]),
        frame_bytes=5,
    ),
    "suntech-advantage": Protocol(
        ProtocolId.SUNTECH_ADVANTAGE,
        suntech_corpus,
        run_suntech,
        significant=bytes([0x3E, 0x04, 0x05, 0x18, 0x43, 0x4B, 0x4F]),
    ),
    "masimo-ascii1": Protocol(
        ProtocolId.MASIMO_ASCII1,
        masimo_corpus,
        run_masimo,
        significant=b"\r\n\n 0123456789=-%./:ABSP\xff",
    ),
}


def fuzz(name: str, inputs: int, *, seed: int = 8) -> FuzzStats:
    """Fuzz one protocol's decoder with ``inputs`` mutated inputs.

    Raises:
        FuzzFailure: an input broke an invariant (the message names the seed, the
            input's number and its bytes, and the chunking).
    """
    spec = PROTOCOLS[name]
    rng = random.Random(f"{seed}-{name}")
    corpus = spec.corpus(rng)
    ranges = {
        m.metric: (float(m.minimum), float(m.maximum))
        for m in DRIVERS[spec.protocol].metrics
    }
    stats = FuzzStats(protocol=name)
    started = time.perf_counter()
    for index in range(inputs):
        sample, other = rng.choice(corpus), rng.choice(corpus)
        data, origin = mutate(
            sample, rng, splice=other.data, significant=spec.significant
        )
        pieces = chunks(data, rng)
        try:
            readings, found = spec.run(data, pieces)
            check_readings(readings, stats, ranges)
            count_units(
                stats,
                found,
                data=data,
                at=untouched(origin, sample.units),
                sources=(sample, other),
                frame_bytes=spec.frame_bytes,
            )
        except Exception as exc:
            cuts = [len(piece) for piece in pieces]
            msg = (
                f"{name} input {index} (seed {seed}): {exc!r}\n"
                f"bytes: {data.hex()}\nchunk sizes: {cuts}"
            )
            raise FuzzFailure(msg) from exc
        stats.inputs += 1
        stats.bytes_in += len(data)
    stats.seconds = time.perf_counter() - started
    return stats

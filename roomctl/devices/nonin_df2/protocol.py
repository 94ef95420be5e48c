"""Pure codec for Nonin Serial Data Format #2 (OEM III module, Xpod 3012LP USB).

Layer: device protocol, the sans-I/O core (style.md §2.0, §2.3). No asyncio, no
serial port, no clock, no logging: bytes in, typed frames and packets out, plus the
encoders that the simulator and the tests use to build the device's side of the wire.

Wire format (protocols.md §1.2): 75 frames a second of five bytes each,
``01 STATUS PLETH DATA SUM8``. Twenty-five frames make a packet (1/3 s). The status
bit SYNC marks frame 0. The meaning of each frame's DATA byte depends on its position
in the packet (HR, SpO2, firmware, display and extended averages).

Three pure stages:

1. ``NoninDf2Decoder.feed(bytes) -> list[NoninDf2Frame | NoninDf2FrameBlock]``. It
   accepts a five-byte window only if the start byte is 0x01, status bit 7 is set, data
   bit 7 is clear and the 8-bit sum matches. Otherwise it slides one byte and counts
   it. It never raises. A run of two or more valid frames in a row comes out as one
   ``NoninDf2FrameBlock``, a lone frame as a ``NoninDf2Frame``; ``frames_of`` expands
   both into frames.
2. ``NoninDf2PacketAssembler.add(frame)`` and ``add_block(block)`` emit a packet only
   for 25 contiguous frames that start at a SYNC frame and are followed, with no gap,
   by the next packet's SYNC frame.
3. ``NoninDf2Packet`` holds the values, with the device's "no data" sentinels
   (SpO2 127, HR 511) as ``None``.

**Why blocks.** The device sends 75 frames a second, so a 4-hour capture holds about
a million frames. One Python object and one assembler call per frame made
``roomctl replay`` spend most of its time here (issue 3; bench/README.md has the
figures). The data flow does not change: a block is only a run of frames kept as their
wire bytes. Once the decoder has found a frame boundary, it judges every complete
window after it in one numpy pass and hands out the run of valid frames as one block.
It goes back to the byte-by-byte hunt at the first window that fails. The assembler
takes a block whole: it finds the SYNC frames with ``bytes.find`` and slices each
packet out of the wire bytes. So Python objects are made per packet (3 a second), not
per frame. Frames, packets and stats are the same however the bytes are chunked and
whichever way the frames travel (layer-2 tests).

**How the assembler learns about lost frames.** The decoder drops every invalid window,
so the assembler could not otherwise tell that a frame was lost in the middle of a
packet. Each frame therefore carries ``after_gap``: the decoder sets it on the first
valid frame after one or more dropped bytes. ``after_gap`` is not a wire field;
``encode()`` ignores it. A frame with ``after_gap`` set never continues a partial
packet: the partial packet is discarded. If the frame carries SYNC, it may start a new
packet. A whole frame lost without a trace (for example, five bytes dropped by the link)
is still caught: the next SYNC frame then arrives early, and an early SYNC discards the
partial packet too. The flag travels with the frame, so the driver, which sees only
frames, needs no reference to the decoder.

**How the assembler learns about added frames.** Format #2 has no frame counter. A
frame repeated, or one from elsewhere spliced in at a frame boundary, leaves 25 valid
contiguous frames after the SYNC frame, with the later slots shifted by one: HR-D or
SpO2-D would then read another slot's byte. So a packet of 25 frames is only held, and
emitted when the next frame is the next packet's SYNC frame, with no gap before it. An
added frame makes that 26th frame a non-SYNC one, and the held packet is discarded
(found by the fuzzer, RELIABILITY.md "Bad input"). The price is one frame, 13 ms, of
latency per packet.

Limit, inherent in the protocol: a single corrupted byte always breaks the 8-bit sum.
Two corrupted bytes in the same frame can cancel in the sum (+1 on one byte, -1 on
another) and then pass. Nothing in Format #2 can catch that.

The two frames constructed in protocols.md §1.2:

>>> decoder = NoninDf2Decoder()
>>> [first] = decoder.feed(bytes.fromhex("01 83 7A 00 FE"))
>>> first.sync, first.perfusion.name, first.pleth, first.data
(True, 'GREEN', 122, 0)
>>> [off] = decoder.feed(bytes.fromhex("01 C8 00 7F 48"))
>>> off.sensor_disconnected, off.sensor_alarm, off.data == SPO2_MISSING_PERCENT
(True, True, True)
>>> off.encode().hex(" ")
'01 c8 00 7f 48'
>>> decoder.stats
DecoderStats(frames=2, bytes_in=10, dropped_bytes=0, checksum_errors=0, resyncs=0)
"""

from __future__ import annotations

import enum
import functools
import itertools
import operator
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from roomctl.devices.codec import DecoderStats, sum8
from roomctl.errors import ChecksumError, FrameError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

# ---------------------------------------------------------------- wire constants

#: First byte of every frame (protocols.md §1.2, after Pufferfish ``FrameReceiver.cpp``,
#: systole ``recording.py`` and agricolab/app-nonin).
START_BYTE = 0x01

#: Start, status, pleth, data, checksum (protocols.md §1.2 frame table).
FRAME_LEN_BYTES = 5

#: Frames per packet; frame 0 carries SYNC (protocols.md §1.2, Pufferfish ``Types.h``,
#: mdpnp ``Packet.java``).
PACKET_LEN_FRAMES = 25

#: Frame rate (protocols.md §1.2: 75 frames/s, so 3 packets/s).
FRAME_RATE_HZ = 75

#: One packet's duration: 25 frames at 75 Hz is 1/3 s (protocols.md §1.2).
PACKET_PERIOD_S = PACKET_LEN_FRAMES / FRAME_RATE_HZ

#: Line speed, 8N1 (protocols.md §1.2, agricolab/app-nonin on the Xpod's FTDI bridge).
SERIAL_BAUD = 9600

#: Bit 7 of the data byte is always 0 (protocols.md §1.2 frame table, byte 4).
DATA_RESERVED_MASK = 0x80

#: Largest value a data byte can carry: its seven low bits.
DATA_MAX = 0x7F

#: SpO2 byte meaning "no data" (protocols.md §1.2, after the pastebin DF1 text and
#: Pufferfish ``Sensor.cpp``, which maps 127 to NaN).
SPO2_MISSING_PERCENT = 127

#: Heart-rate value meaning "no data": all nine bits set (protocols.md §1.2).
HR_MISSING_BPM = 511

#: The MSB frame carries HR bits 8-7 in its bits 1-0 (protocols.md §1.2, after the
#: pastebin "Nonin Serial Protocol 1" for the same packing in DF1). The other bits of
#: that byte are not documented in our sources, so the decoder masks them out.
HR_MSB_MASK = 0x03

#: The LSB frame carries HR bits 6-0.
HR_LSB_BITS = 7

#: The perfusion bits are only meaningful for about 160 ms during a pulse
#: (protocols.md §1.2 status table; Pufferfish ``PacketReceiver.cpp`` comments).
PERFUSION_INDICATION_S = 0.160


class StatusBit(enum.IntFlag):
    """Bits of the status byte (protocols.md §1.2; mdpnp ``Status.java``)."""

    #: 1 on the first frame of each 25-frame packet.
    SYNC = 0x01
    #: Green perfusion (high amplitude); with RPRF set too, yellow (marginal).
    GPRF = 0x02
    #: Red perfusion (low amplitude); with GPRF set too, yellow (marginal).
    RPRF = 0x04
    #: Sensor alarm: the device is giving unusable data (finger removed).
    SNSA = 0x08
    #: Out of track: no consecutive good pulses.
    OOT = 0x10
    #: Artifact: a detected beat did not match the current pulse interval.
    ARTF = 0x20
    #: Sensor disconnected or inoperable.
    SNSD = 0x40
    #: Always 1 on the wire; the decoder uses it to find frame boundaries.
    ALWAYS_SET = 0x80


class Perfusion(enum.IntEnum):
    """The perfusion indication: status bits 2-1 read as a two-bit number."""

    NONE = 0
    #: Bit 1 only: high pulse amplitude.
    GREEN = 1
    #: Bit 2 only: low pulse amplitude.
    RED = 2
    #: Both bits: marginal pulse amplitude.
    YELLOW = 3


class FrameSlot(enum.IntEnum):
    """What a frame's data byte carries, by 0-based frame index in the packet.

    The indices come from protocols.md §1.2 (Pufferfish ``Types.h``; mdpnp
    ``Packet.java`` agrees). The slots not listed (4-7, 11-12, 17-18, 23-24) are
    reserved in Format #2.
    """

    HR_MSB = 0
    HR_LSB = 1
    SPO2 = 2
    FIRMWARE = 3
    SPO2_D = 8
    SPO2_FAST = 9
    SPO2_BB = 10
    EHR_MSB = 13
    EHR_LSB = 14
    ESPO2 = 15
    ESPO2_D = 16
    HR_D_MSB = 19
    HR_D_LSB = 20
    EHR_D_MSB = 21
    EHR_D_LSB = 22


_PERFUSION_SHIFT = 1

# Plain-int copies of the status bits for the per-frame and per-packet paths. Each
# operator on an ``IntFlag`` builds a new enum member (about 1 µs a time, measured in
# issue 3's profile); on an ``int`` it is one machine operation. ``StatusBit`` stays the
# named meaning and what ``flags`` shows.
_SYNC = StatusBit.SYNC.value
_SNSA = StatusBit.SNSA.value
_OOT = StatusBit.OOT.value
_ARTF = StatusBit.ARTF.value
_SNSD = StatusBit.SNSD.value
_ALWAYS_SET = StatusBit.ALWAYS_SET.value

#: ``Perfusion`` by its two-bit value, without an enum call.
_PERFUSION_BY_BITS = tuple(Perfusion)

#: ``bytes.translate`` table from a status byte to its SYNC bit (0 or 1).
_SYNC_OF_STATUS = bytes(status & _SYNC for status in range(256))

#: A packet's statuses mapped by ``_SYNC_OF_STATUS``: SYNC on frame 0 only.
_SYNC_ON_FRAME_0 = bytes((1,)) + bytes(PACKET_LEN_FRAMES - 1)

#: The data bytes of a packet's named slots, in ``FrameSlot`` order, in one C call.
_NAMED_SLOTS = operator.itemgetter(*(slot.value for slot in FrameSlot))

#: A packet on the wire: 25 frames of 5 bytes.
_PACKET_LEN_BYTES = PACKET_LEN_FRAMES * FRAME_LEN_BYTES

#: Frames judged by the decoder's first vectorised pass after a boundary; each further
#: pass judges twice as many. A long run costs a few passes, and a frame boundary found
#: in noise costs one small pass, not one over the whole buffer.
_FIRST_PASS_FRAMES = 64


# ---------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True, kw_only=True)
class NoninDf2Frame:
    """One five-byte frame: status, pleth sample and one packet data byte.

    >>> frame = NoninDf2Frame(status=0x83, pleth=0x7A, data=0)
    >>> frame.encode().hex(" ")
    '01 83 7a 00 fe'
    """

    #: The status byte; bit 7 is always set (see ``StatusBit``).
    status: int
    #: Plethysmogram sample, 0-255, unsigned.
    pleth: int
    #: The packet data byte for this frame's slot, 0-127 (see ``FrameSlot``).
    data: int
    #: Set by the decoder when it dropped bytes just before this frame, so this frame
    #: does not provably follow the previous one. Not on the wire.
    after_gap: bool = False

    def __post_init__(self) -> None:
        if not _ALWAYS_SET <= self.status <= 0xFF:
            raise ValueError(f"status must be 0x80-0xFF (bit 7 set), got {self.status}")
        if not 0 <= self.pleth <= 0xFF:
            raise ValueError(f"pleth must be 0-255, got {self.pleth}")
        if not 0 <= self.data <= DATA_MAX:
            raise ValueError(f"data must be 0-127 (bit 7 clear), got {self.data}")

    @property
    def flags(self) -> StatusBit:
        """The status byte as flags."""
        return StatusBit(self.status)

    @property
    def sync(self) -> bool:
        """Whether this is frame 0 of a packet (SYNC)."""
        return bool(self.status & _SYNC)

    @property
    def perfusion(self) -> Perfusion:
        """The perfusion indication (only meaningful during a pulse)."""
        return _PERFUSION_BY_BITS[(self.status >> _PERFUSION_SHIFT) & 0b11]

    @property
    def sensor_alarm(self) -> bool:
        """SNSA: the device is giving unusable data."""
        return bool(self.status & _SNSA)

    @property
    def out_of_track(self) -> bool:
        """OOT: no consecutive good pulses."""
        return bool(self.status & _OOT)

    @property
    def artifact(self) -> bool:
        """ARTF: a beat did not match the current pulse interval."""
        return bool(self.status & _ARTF)

    @property
    def sensor_disconnected(self) -> bool:
        """SNSD: the sensor is disconnected or inoperable."""
        return bool(self.status & _SNSD)

    def encode(self) -> bytes:
        """The five wire bytes, checksum included (``after_gap`` is not sent)."""
        head = bytes((START_BYTE, self.status, self.pleth, self.data))
        return head + bytes((sum8(head),))


@dataclass(frozen=True, slots=True, kw_only=True)
class NoninDf2FrameBlock:
    """Consecutive valid frames, kept as their wire bytes: one object for the run.

    The decoder hands out every run of two or more valid frames as a block (see the
    module docstring). Inside a block each frame directly follows the one before it
    on the wire; ``after_gap`` applies to the first frame only.

    A block trusts its bytes: ``__post_init__`` checks only that they are whole frames.
    The decoder makes blocks only from windows it has judged valid, and ``from_frames``
    from frames that are valid by construction. Judging the bytes again here would cost
    more than the block saves.

    >>> wire = encode_packet(hr_bpm=72, spo2_percent=97, pleth=[128] * 25)
    >>> [block] = NoninDf2Decoder().feed(wire)
    >>> len(block), block.frames()[0].sync, block.encode() == wire
    (25, True, True)
    """

    #: The frames' wire bytes, five per frame, start byte and checksum included.
    raw: bytes
    #: As ``NoninDf2Frame.after_gap``, for the block's first frame.
    after_gap: bool = False

    def __post_init__(self) -> None:
        if not self.raw or len(self.raw) % FRAME_LEN_BYTES:
            raise ValueError(
                f"a block holds whole 5-byte frames, got {len(self.raw)} bytes"
            )

    @classmethod
    def from_frames(cls, frames: Sequence[NoninDf2Frame]) -> NoninDf2FrameBlock:
        """The block carrying ``frames`` (for simulators and tests).

        Raises:
            ValueError: no frames, or ``after_gap`` on a frame other than the first (a
                block has no gap inside).
        """
        if not frames:
            raise ValueError("a block holds at least one frame")
        if any(frame.after_gap for frame in frames[1:]):
            raise ValueError("only the first frame of a block may follow a gap")
        return cls(
            raw=b"".join(frame.encode() for frame in frames),
            after_gap=frames[0].after_gap,
        )

    def __len__(self) -> int:
        """The number of frames."""
        return len(self.raw) // FRAME_LEN_BYTES

    def frames(self) -> tuple[NoninDf2Frame, ...]:
        """The block as separate frames (the first carries ``after_gap``)."""
        raw = self.raw
        return tuple(
            NoninDf2Frame(
                status=status,
                pleth=pleth,
                data=data,
                after_gap=self.after_gap and index == 0,
            )
            for index, (status, pleth, data) in enumerate(
                zip(
                    raw[1::FRAME_LEN_BYTES],
                    raw[2::FRAME_LEN_BYTES],
                    raw[3::FRAME_LEN_BYTES],
                    strict=True,
                )
            )
        )

    def encode(self) -> bytes:
        """The wire bytes of every frame in the block."""
        return self.raw


def frames_of(
    items: Iterable[NoninDf2Frame | NoninDf2FrameBlock],
) -> list[NoninDf2Frame]:
    """What the decoder returned, as one frame per frame (blocks expanded).

    >>> decoder = NoninDf2Decoder()
    >>> wire = encode_packet(hr_bpm=72, spo2_percent=97, pleth=[128] * 25)
    >>> len(frames_of(decoder.feed(wire[:12]) + decoder.feed(wire[12:])))
    25
    """
    frames: list[NoninDf2Frame] = []
    for item in items:
        if isinstance(item, NoninDf2FrameBlock):
            frames += item.frames()
        else:
            frames.append(item)
    return frames


class _Verdict(enum.Enum):
    VALID = enum.auto()
    #: Start byte, status bit 7 or data bit 7 wrong: not a frame boundary.
    BAD_STRUCTURE = enum.auto()
    #: Shaped like a frame, but the sum does not match.
    BAD_CHECKSUM = enum.auto()


def _judge(window: bytes) -> _Verdict:
    """Classify five bytes as a frame candidate."""
    start, status, _pleth, data, checksum = window
    if start != START_BYTE or not status & _ALWAYS_SET or data & DATA_RESERVED_MASK:
        return _Verdict.BAD_STRUCTURE
    if sum8(window[:4]) != checksum:
        return _Verdict.BAD_CHECKSUM
    return _Verdict.VALID


def _count_valid_frames(buffer: bytes, start: int) -> int:
    """How many valid frames follow one another in ``buffer`` from ``start``.

    The same test as ``_judge``, on whole arrays of five-byte windows: numpy's
    ``uint8`` sum wraps at 256, which is exactly the 8-bit checksum.
    """
    available = (len(buffer) - start) // FRAME_LEN_BYTES
    counted = 0
    size = _FIRST_PASS_FRAMES
    while counted < available:
        size = min(size, available - counted)
        frames = np.frombuffer(
            buffer,
            dtype=np.uint8,
            count=size * FRAME_LEN_BYTES,
            offset=start + counted * FRAME_LEN_BYTES,
        ).reshape(size, FRAME_LEN_BYTES)
        valid = (
            (frames[:, 0] == START_BYTE)
            & (frames[:, 1] >= _ALWAYS_SET)
            & (frames[:, 3] <= DATA_MAX)
            & (frames[:, :4].sum(axis=1, dtype=np.uint8) == frames[:, 4])
        )
        if not valid.all():
            return counted + int(valid.argmin())
        counted += size
        size *= 2
    return counted


def _run_item(raw: bytes, *, after_gap: bool) -> NoninDf2Frame | NoninDf2FrameBlock:
    """A run of valid frames as the decoder hands it out: a lone frame stays a frame."""
    if len(raw) == FRAME_LEN_BYTES:
        return NoninDf2Frame(
            status=raw[1], pleth=raw[2], data=raw[3], after_gap=after_gap
        )
    return NoninDf2FrameBlock(raw=raw, after_gap=after_gap)


def _frame_count(item: NoninDf2Frame | NoninDf2FrameBlock) -> int:
    return 1 if isinstance(item, NoninDf2Frame) else len(item)


def parse_frame(data: bytes) -> NoninDf2Frame:
    """Parse exactly one frame (one-shot; the streaming decoder never raises).

    Args:
        data: five bytes.

    Returns:
        The frame, with ``after_gap`` false.

    Raises:
        FrameError: wrong length, start byte, status bit 7 or data bit 7.
        ChecksumError: well-formed, but the 8-bit sum does not match.

    >>> parse_frame(bytes.fromhex("01 C8 00 7F 48")).sensor_disconnected
    True
    """
    if len(data) != FRAME_LEN_BYTES:
        raise FrameError(f"a Nonin DF2 frame is 5 bytes, got {len(data)}: {data!r}")
    verdict = _judge(data)
    if verdict is _Verdict.BAD_STRUCTURE:
        raise FrameError(
            f"not a Nonin DF2 frame (start 0x01, status bit 7 set, data bit 7 "
            f"clear): {data!r}"
        )
    if verdict is _Verdict.BAD_CHECKSUM:
        raise ChecksumError(
            f"Nonin DF2 checksum 0x{data[4]:02x} != 0x{sum8(data[:4]):02x}: {data!r}"
        )
    return NoninDf2Frame(status=data[1], pleth=data[2], data=data[3])


class NoninDf2Decoder:
    """Streaming decoder: arbitrary byte chunks in, valid frames out.

    It implements ``roomctl.devices.codec.Decoder``. Each window is judged only once
    all five of its bytes are present, so any chunking of the same bytes gives the same
    frames and the same stats; only the cut between blocks can differ. Between calls the
    decoder keeps at most four bytes (a frame's worth minus one). Bytes that can never
    start a frame are dropped and counted as soon as they are seen. The buffer therefore
    stays far below ``codec.MAX_BUFFER_BYTES`` even when a peer floods the line with
    garbage.

    Stats: ``frames`` counts frames, not blocks. ``dropped_bytes`` counts every byte
    slid over. ``checksum_errors`` counts windows that had the right shape but the wrong
    sum. ``resyncs`` counts each time the decoder regained the boundary after dropping
    bytes ("lost and regained", ``codec.DecoderStats``). That is also the number of
    frames and blocks flagged ``after_gap``.
    """

    def __init__(self) -> None:
        # The bytes of an incomplete window, kept for the next feed (at most four).
        self._buffer = b""
        self._stats = DecoderStats()
        # True while bytes have been dropped since the last valid frame; carried
        # across feed() calls so that chunking cannot change after_gap or resyncs.
        self._hunting = False

    @property
    def stats(self) -> DecoderStats:
        """Counts since the decoder was made (a copy; the decoder keeps its own)."""
        return replace(self._stats)

    def feed(self, data: bytes) -> list[NoninDf2Frame | NoninDf2FrameBlock]:
        """Take a chunk of bytes and return the frames it completed. Never raises."""
        return [item for _, item in self._scan(data)]

    def feed_counted(
        self, chunks: Sequence[bytes], *, failed: list[int] | None = None
    ) -> tuple[list[NoninDf2Frame | NoninDf2FrameBlock], list[int]]:
        """Take several chunks in one pass; also say how many frames each completed.

        Returns what ``feed(b"".join(chunks))`` returns, and per chunk the number of
        those frames whose last byte it brought: ``len(frames_of(self.feed(chunk)))``
        had the chunks been fed one by one. Frames, stats and kept bytes are the same
        either way. This is for ``roomctl replay``, which reads many chunks ahead: one
        vectorised pass over all of them costs far less than one per chunk (numpy's
        per-call overhead outweighs a 0.1 s chunk of 7 or 8 frames).

        With ``failed``, it also receives per chunk the failed frames (checksum errors
        plus resyncs) that chunk-by-chunk feeding would have counted on it, so replay
        can follow the parse-error share read by read as the live supervisor does.

        >>> wire = encode_packet(hr_bpm=72, spo2_percent=97, pleth=[128] * 25)
        >>> items, counts = NoninDf2Decoder().feed_counted([wire[:12], b"", wire[12:]])
        >>> len(frames_of(items)), counts
        (25, [2, 0, 23])
        """
        kept = len(self._buffer)
        failures: list[int] | None = None if failed is None else []
        found = self._scan(b"".join(chunks), failures)
        # Where each frame ends and each chunk ends, in the scanned buffer (the kept
        # bytes come first); a chunk completed the frames that end inside it.
        frame_ends = np.concatenate(
            [
                np.empty(0, dtype=np.int64),
                *(
                    np.arange(
                        start + FRAME_LEN_BYTES,
                        start + (_frame_count(item) + 1) * FRAME_LEN_BYTES,
                        FRAME_LEN_BYTES,
                        dtype=np.int64,
                    )
                    for start, item in found
                ),
            ]
        )
        chunk_ends = np.fromiter(
            itertools.accumulate(map(len, chunks), initial=kept),
            dtype=np.int64,
            count=len(chunks) + 1,
        )[1:]
        completed = np.searchsorted(frame_ends, chunk_ends, side="right")
        counts: list[int] = np.diff(completed, prepend=0).tolist()
        if failed is not None and failures is not None:
            # A failure is judged when the byte that ends its window arrives.
            judged = np.searchsorted(
                np.asarray(failures, dtype=np.int64), chunk_ends, side="right"
            )
            failed.extend(np.diff(judged, prepend=0).tolist())
        return [item for _, item in found], counts

    def _scan(
        self, data: bytes, failures: list[int] | None = None
    ) -> list[tuple[int, NoninDf2Frame | NoninDf2FrameBlock]]:
        """Decode the kept bytes plus ``data``; return each run with its offset.

        ``failures`` receives, for each failed frame counted, the offset just past
        the window whose judgement counted it.
        """
        stats = self._stats
        stats.bytes_in += len(data)
        buffer = self._buffer + data
        found: list[tuple[int, NoninDf2Frame | NoninDf2FrameBlock]] = []
        pos = 0
        last_start = len(buffer) - FRAME_LEN_BYTES
        while pos <= last_start:
            verdict = _judge(buffer[pos : pos + FRAME_LEN_BYTES])
            if verdict is _Verdict.VALID:
                # A frame boundary: judge every complete window after it at once.
                count = 1 + _count_valid_frames(buffer, pos + FRAME_LEN_BYTES)
                end = pos + count * FRAME_LEN_BYTES
                found.append((pos, _run_item(buffer[pos:end], after_gap=self._hunting)))
                stats.frames += count
                if self._hunting:
                    stats.resyncs += 1
                    self._hunting = False
                    if failures is not None:
                        failures.append(pos + FRAME_LEN_BYTES)
                pos = end
                continue
            # Slide one byte, never a whole frame: a valid frame may start inside
            # the rejected window (protocols.md §3, "Resync after garbage").
            if verdict is _Verdict.BAD_CHECKSUM:
                stats.checksum_errors += 1
                if failures is not None:
                    failures.append(pos + FRAME_LEN_BYTES)
            stats.dropped_bytes += 1
            self._hunting = True
            pos += 1
        self._buffer = buffer[pos:]
        return found


# ---------------------------------------------------------------- packets


def _split_hr(hr_bpm: int | None) -> tuple[int, int]:
    """The (MSB, LSB) data bytes for a 9-bit heart rate; ``None`` sends 511."""
    value = HR_MISSING_BPM if hr_bpm is None else hr_bpm
    return value >> HR_LSB_BITS, value & DATA_MAX


def _join_hr(msb: int, lsb: int) -> int | None:
    """A 9-bit heart rate from its MSB and LSB data bytes; 511 becomes ``None``.

    The MSB byte holds bits 8-7, so it shifts by 7, not by 8. protocols.md §1.2 notes
    that two open implementations get this wrong for HR >= 128.
    """
    value = ((msb & HR_MSB_MASK) << HR_LSB_BITS) | (lsb & DATA_MAX)
    return None if value == HR_MISSING_BPM else value


def _spo2_byte(spo2_percent: int | None) -> int:
    return SPO2_MISSING_PERCENT if spo2_percent is None else spo2_percent


def _spo2_value(byte: int) -> int | None:
    return None if byte == SPO2_MISSING_PERCENT else byte


#: SpO2 by data byte, the sentinel 127 as ``None``: ``from_wire`` looks up six a packet.
_SPO2_BY_BYTE = tuple(_spo2_value(byte) for byte in range(DATA_MAX + 1))

#: Heart rate by ``(msb & HR_MSB_MASK) << HR_LSB_BITS | lsb`` (``_join_hr`` of every
#: MSB and LSB pair, 511 as ``None``): ``from_wire`` looks up four a packet.
_HR_BY_BITS = tuple(
    _join_hr(bits >> HR_LSB_BITS, bits & DATA_MAX) for bits in range(HR_MISSING_BPM + 1)
)

#: Every value a SpO2 field may hold, and every value an HR field may hold: one
#: subset test accepts a packet's fields; ``_check_*`` then only name a fault.
_SPO2_FIELD_VALUES = frozenset((None, *range(SPO2_MISSING_PERCENT)))
_HR_FIELD_VALUES = frozenset((None, *range(HR_MISSING_BPM)))


def _check_spo2(name: str, value: int | None) -> None:
    # 127 is the sentinel and must be given as None; the byte has seven bits.
    if value is not None and not 0 <= value < SPO2_MISSING_PERCENT:
        raise ValueError(f"{name} must be 0-126 or None (missing), got {value}")


def _check_hr(name: str, value: int | None) -> None:
    # 511 is the sentinel and must be given as None; the value has nine bits.
    if value is not None and not 0 <= value < HR_MISSING_BPM:
        raise ValueError(f"{name} must be 0-510 or None (missing), got {value}")


def _checked_status_union(statuses: Sequence[int]) -> int:
    """Check a packet's status bytes; return their bitwise OR.

    Raises:
        ValueError: a status without bit 7 or above 0xFF, or SYNC missing from frame 0
            or present on another frame; the message names the first bad frame.
    """
    # Whole-sequence tests in C first; the per-frame search runs only to name a fault.
    # A packet has one to three distinct status values, so the fold is short.
    try:
        wire = bytes(statuses)
    except ValueError:
        wire = b""
    distinct = set(wire)
    if (
        distinct
        and min(distinct) >= _ALWAYS_SET
        and wire.translate(_SYNC_OF_STATUS) == _SYNC_ON_FRAME_0
    ):
        union = 0
        for status in distinct:
            union |= status
        return union
    index, status = next(
        (index, status)
        for index, status in enumerate(statuses)
        if not _ALWAYS_SET <= status <= 0xFF or bool(status & _SYNC) != (index == 0)
    )
    if not _ALWAYS_SET <= status <= 0xFF:
        raise ValueError(f"status {index} must have bit 7 set, got {status}")
    raise ValueError("SYNC must be set on frame 0 and on no other frame")


@functools.lru_cache(maxsize=1024)
def _wire_status_union(statuses: bytes) -> int:
    """``_checked_status_union`` of a packet's status bytes as received, remembered.

    A device repeats a handful of status patterns (SYNC on frame 0, the perfusion
    bits of a pulse at a few places, a flag on every frame), so ``from_wire`` looks
    most of them up. A faulty pattern raises every time (exceptions are not cached).
    """
    return _checked_status_union(statuses)


def _pleth_in_range(pleth: Sequence[int]) -> bool:
    try:
        bytes(pleth)  # every sample an int in 0-255: the common case, in C
    except (TypeError, ValueError):
        return min(pleth) >= 0 and max(pleth) <= 0xFF
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class NoninDf2Packet:
    """One 25-frame packet: the device's values plus per-frame status and pleth.

    The values are raw device numbers. The only change is that a "no data" sentinel
    becomes ``None``. The packet does not judge plausibility (SpO2 above 100, say);
    that is the driver's job. The aggregated status flags are true when any frame in
    the packet carries the bit.
    """

    #: Heart rate, 4-beat average, bpm (frames 0-1).
    hr_bpm: int | None
    #: SpO2, 4-beat average, % (frame 2).
    spo2_percent: int | None
    #: Firmware revision (frame 3).
    firmware_revision: int
    #: SpO2 formatted for display, % (frame 8).
    spo2_d_percent: int | None
    #: SpO2 fast average, % (frame 9).
    spo2_fast_percent: int | None
    #: SpO2 beat to beat, % (frame 10).
    spo2_bb_percent: int | None
    #: Extended heart rate, 8-beat average, bpm (frames 13-14).
    ehr_bpm: int | None
    #: Extended SpO2, 8-beat average, % (frame 15).
    espo2_percent: int | None
    #: Extended SpO2 formatted for display, % (frame 16).
    espo2_d_percent: int | None
    #: Heart rate formatted for display, bpm (frames 19-20).
    hr_d_bpm: int | None
    #: Extended heart rate formatted for display, bpm (frames 21-22).
    ehr_d_bpm: int | None
    #: The 25 status bytes as received; frame 0 has SYNC, no other frame does.
    statuses: tuple[int, ...]
    #: The 25 pleth samples, 0-255.
    pleth: tuple[int, ...]
    # The bitwise OR of the statuses, derived once in __post_init__ (or from_wire):
    # the driver reads the flags of every packet, and folding 25 bytes per property
    # read was a hot spot (issue 3). Not part of equality or repr;
    # ``dataclasses.replace`` derives it again.
    _status_union: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.statuses) != PACKET_LEN_FRAMES or len(self.pleth) != (
            PACKET_LEN_FRAMES
        ):
            raise ValueError("a packet has 25 status bytes and 25 pleth samples")
        union = _checked_status_union(self.statuses)
        if not _pleth_in_range(self.pleth):
            raise ValueError("pleth samples must be 0-255")
        if not 0 <= self.firmware_revision <= DATA_MAX:
            raise ValueError(
                f"firmware_revision must be 0-127, got {self.firmware_revision}"
            )
        spo2 = {
            self.spo2_percent,
            self.spo2_d_percent,
            self.spo2_fast_percent,
            self.spo2_bb_percent,
            self.espo2_percent,
            self.espo2_d_percent,
        }
        if not spo2 <= _SPO2_FIELD_VALUES:
            _check_spo2("spo2_percent", self.spo2_percent)
            _check_spo2("spo2_d_percent", self.spo2_d_percent)
            _check_spo2("spo2_fast_percent", self.spo2_fast_percent)
            _check_spo2("spo2_bb_percent", self.spo2_bb_percent)
            _check_spo2("espo2_percent", self.espo2_percent)
            _check_spo2("espo2_d_percent", self.espo2_d_percent)
        hr = {self.hr_bpm, self.ehr_bpm, self.hr_d_bpm, self.ehr_d_bpm}
        if not hr <= _HR_FIELD_VALUES:
            _check_hr("hr_bpm", self.hr_bpm)
            _check_hr("ehr_bpm", self.ehr_bpm)
            _check_hr("hr_d_bpm", self.hr_d_bpm)
            _check_hr("ehr_d_bpm", self.ehr_d_bpm)
        object.__setattr__(self, "_status_union", union)

    @classmethod
    def from_frames(cls, frames: Sequence[NoninDf2Frame]) -> NoninDf2Packet:
        """Decode 25 frames in order, SYNC on frame 0 only.

        Raises:
            FrameError: not 25 frames, or SYNC is missing from frame 0 or present on
                another frame.
        """
        if len(frames) != PACKET_LEN_FRAMES:
            raise FrameError(f"a packet is 25 frames, got {len(frames)}")
        if any(frame.sync != (index == 0) for index, frame in enumerate(frames)):
            raise FrameError("a packet has SYNC on frame 0 and on no other frame")
        return cls.from_wire(b"".join(frame.encode() for frame in frames))

    @classmethod
    def from_wire(cls, raw: bytes) -> NoninDf2Packet:
        """Decode the 125 wire bytes of 25 valid frames, SYNC on frame 0 only.

        The frames' start bytes and checksums are not judged again (the decoder did
        that); the data bytes and the statuses are, with the same tests and messages
        as ``__post_init__``, which the other fields cannot fail.

        Raises:
            FrameError: not 125 bytes, or a data byte with bit 7 set.
            ValueError: SYNC misplaced, or a status without bit 7.

        >>> wire = encode_packet(hr_bpm=150, spo2_percent=97, pleth=[128] * 25)
        >>> NoninDf2Packet.from_wire(wire).hr_d_bpm
        150
        """
        if len(raw) != _PACKET_LEN_BYTES:
            raise FrameError(f"a packet is 125 bytes, got {len(raw)}")
        data = raw[3::FRAME_LEN_BYTES]
        if not data.isascii():  # every byte below 0x80: data bit 7 clear
            raise FrameError(f"a packet's data bytes have bit 7 clear, got {data!r}")
        statuses = raw[1::FRAME_LEN_BYTES]
        union = _wire_status_union(bytes(statuses))
        (
            hr_msb,
            hr_lsb,
            spo2,
            firmware,
            spo2_d,
            spo2_fast,
            spo2_bb,
            ehr_msb,
            ehr_lsb,
            espo2,
            espo2_d,
            hr_d_msb,
            hr_d_lsb,
            ehr_d_msb,
            ehr_d_lsb,
        ) = _NAMED_SLOTS(data)
        # Every field is valid by construction here: 25 statuses (just checked) and
        # 25 pleth bytes, seven-bit data bytes, so a firmware revision of 0-127,
        # SpO2 values of 0-126 or ``None`` and heart rates of 0-510 or ``None``. So
        # the fields are set directly: the frozen dataclass's ``__init__`` and the
        # checks of ``__post_init__`` would cost more than the rest of this method
        # (3 packets a second live, 43,200 in a 4-hour replay; issue 3).
        (
            set_hr,
            set_spo2,
            set_firmware,
            set_spo2_d,
            set_spo2_fast,
            set_spo2_bb,
            set_ehr,
            set_espo2,
            set_espo2_d,
            set_hr_d,
            set_ehr_d,
            set_statuses,
            set_pleth,
            set_union,
        ) = _PACKET_FIELD_SETTERS
        packet = object.__new__(cls)
        set_hr(packet, _HR_BY_BITS[(hr_msb & HR_MSB_MASK) << HR_LSB_BITS | hr_lsb])
        set_spo2(packet, _SPO2_BY_BYTE[spo2])
        set_firmware(packet, firmware)
        set_spo2_d(packet, _SPO2_BY_BYTE[spo2_d])
        set_spo2_fast(packet, _SPO2_BY_BYTE[spo2_fast])
        set_spo2_bb(packet, _SPO2_BY_BYTE[spo2_bb])
        set_ehr(packet, _HR_BY_BITS[(ehr_msb & HR_MSB_MASK) << HR_LSB_BITS | ehr_lsb])
        set_espo2(packet, _SPO2_BY_BYTE[espo2])
        set_espo2_d(packet, _SPO2_BY_BYTE[espo2_d])
        set_hr_d(
            packet, _HR_BY_BITS[(hr_d_msb & HR_MSB_MASK) << HR_LSB_BITS | hr_d_lsb]
        )
        set_ehr_d(
            packet, _HR_BY_BITS[(ehr_d_msb & HR_MSB_MASK) << HR_LSB_BITS | ehr_d_lsb]
        )
        set_statuses(packet, tuple(statuses))
        set_pleth(packet, tuple(raw[2::FRAME_LEN_BYTES]))
        set_union(packet, union)
        return packet

    @classmethod
    def uniform(
        cls,
        *,
        hr_bpm: int | None,
        spo2_percent: int | None,
        pleth: Sequence[int],
        flags: Sequence[StatusBit] = (),
        firmware_revision: int = 0,
    ) -> NoninDf2Packet:
        """A steady-state packet: all HR fields equal, all SpO2 fields equal.

        Args:
            hr_bpm: heart rate, 0-510, or ``None`` for "no data" (511).
            spo2_percent: SpO2, 0-126, or ``None`` for "no data" (127).
            pleth: the 25 pleth samples.
            flags: per-frame status flags (empty, or 25 entries). ``SYNC`` on frame 0
                and bit 7 everywhere are added here.
            firmware_revision: the frame 3 byte.

        Raises:
            ValueError: a value out of range, the wrong number of samples or flags, or
                SYNC given on a frame other than 0.
        """
        if flags and len(flags) != PACKET_LEN_FRAMES:
            raise ValueError(f"flags must be empty or 25 entries, got {len(flags)}")
        per_frame = flags or (0,) * PACKET_LEN_FRAMES
        statuses = tuple(
            int(flag) | _ALWAYS_SET | (_SYNC if index == 0 else 0)
            for index, flag in enumerate(per_frame)
        )
        return cls(
            hr_bpm=hr_bpm,
            spo2_percent=spo2_percent,
            firmware_revision=firmware_revision,
            spo2_d_percent=spo2_percent,
            spo2_fast_percent=spo2_percent,
            spo2_bb_percent=spo2_percent,
            ehr_bpm=hr_bpm,
            espo2_percent=spo2_percent,
            espo2_d_percent=spo2_percent,
            hr_d_bpm=hr_bpm,
            ehr_d_bpm=hr_bpm,
            statuses=statuses,
            pleth=tuple(pleth),
        )

    @property
    def status_bits(self) -> int:
        """The bitwise OR of the 25 statuses: a bit is set if any frame carries it.

        >>> packet = NoninDf2Packet.uniform(
        ...     hr_bpm=72,
        ...     spo2_percent=97,
        ...     pleth=[128] * 25,
        ...     flags=[StatusBit.ARTF] * 25,
        ... )
        >>> StatusBit(packet.status_bits)
        <StatusBit.SYNC|ARTF|ALWAYS_SET: 161>
        """
        return self._status_union

    @property
    def sensor_disconnected(self) -> bool:
        """SNSD on any frame."""
        return bool(self._status_union & _SNSD)

    @property
    def sensor_alarm(self) -> bool:
        """SNSA on any frame."""
        return bool(self._status_union & _SNSA)

    @property
    def out_of_track(self) -> bool:
        """OOT on any frame."""
        return bool(self._status_union & _OOT)

    @property
    def artifact(self) -> bool:
        """ARTF on any frame."""
        return bool(self._status_union & _ARTF)

    @property
    def perfusion(self) -> Perfusion:
        """The perfusion indication over the frames that carry one.

        ``NONE`` when no frame carries one, and the common value when all agree.
        When they disagree the result is ``YELLOW`` (marginal): a packet is only
        "red" when every indication in it is red. This aggregation is our own
        choice, not a Nonin rule.
        """
        # The OR of the statuses decides it: no perfusion bit anywhere is NONE, GPRF
        # bits only are GREEN, RPRF only RED; both bits somewhere mean a yellow frame
        # or frames that disagree, and either is YELLOW.
        return _PERFUSION_BY_BITS[(self._status_union >> _PERFUSION_SHIFT) & 0b11]

    def frames(self) -> tuple[NoninDf2Frame, ...]:
        """The 25 frames that carry this packet."""
        data = [0] * PACKET_LEN_FRAMES
        data[FrameSlot.HR_MSB], data[FrameSlot.HR_LSB] = _split_hr(self.hr_bpm)
        data[FrameSlot.SPO2] = _spo2_byte(self.spo2_percent)
        data[FrameSlot.FIRMWARE] = self.firmware_revision
        data[FrameSlot.SPO2_D] = _spo2_byte(self.spo2_d_percent)
        data[FrameSlot.SPO2_FAST] = _spo2_byte(self.spo2_fast_percent)
        data[FrameSlot.SPO2_BB] = _spo2_byte(self.spo2_bb_percent)
        data[FrameSlot.EHR_MSB], data[FrameSlot.EHR_LSB] = _split_hr(self.ehr_bpm)
        data[FrameSlot.ESPO2] = _spo2_byte(self.espo2_percent)
        data[FrameSlot.ESPO2_D] = _spo2_byte(self.espo2_d_percent)
        data[FrameSlot.HR_D_MSB], data[FrameSlot.HR_D_LSB] = _split_hr(self.hr_d_bpm)
        data[FrameSlot.EHR_D_MSB], data[FrameSlot.EHR_D_LSB] = _split_hr(self.ehr_d_bpm)
        return tuple(
            NoninDf2Frame(status=status, pleth=pleth, data=byte)
            for status, pleth, byte in zip(self.statuses, self.pleth, data, strict=True)
        )

    def encode(self) -> bytes:
        """The 125 wire bytes of the packet's 25 frames."""
        return b"".join(frame.encode() for frame in self.frames())


#: Setters of every slot of a packet, in field order (``_status_union`` last), for
#: ``from_wire``: a slot's own descriptor, as ``object.__setattr__`` would find it.
_PACKET_FIELD_SETTERS: tuple[Callable[[NoninDf2Packet, object], None], ...] = tuple(
    vars(NoninDf2Packet)[item.name].__set__ for item in fields(NoninDf2Packet)
)


def encode_packet(
    *,
    hr_bpm: int | None,
    spo2_percent: int | None,
    pleth: Sequence[int],
    flags: Sequence[StatusBit] = (),
    firmware_revision: int = 0,
) -> bytes:
    """Encode one steady-state packet (25 frames, 125 bytes) for a simulator or test.

    Every HR field carries ``hr_bpm`` and every SpO2 field carries ``spo2_percent``
    (see ``NoninDf2Packet.uniform``). To give the display or extended values their
    own numbers, build a ``NoninDf2Packet`` and call ``encode()``.

    Args:
        hr_bpm: heart rate, 0-510, or ``None`` for "no data" (511).
        spo2_percent: SpO2, 0-126, or ``None`` for "no data" (127).
        pleth: the 25 pleth samples, 0-255.
        flags: per-frame status flags (empty, or 25 entries); SYNC and bit 7 are
            added here.
        firmware_revision: the frame 3 byte.

    Returns:
        The 125 wire bytes.

    Raises:
        ValueError: see ``NoninDf2Packet.uniform``.

    >>> wire = encode_packet(hr_bpm=150, spo2_percent=97, pleth=[128] * 25)
    >>> frames = frames_of(NoninDf2Decoder().feed(wire))
    >>> NoninDf2Packet.from_frames(frames).hr_d_bpm
    150
    """
    return NoninDf2Packet.uniform(
        hr_bpm=hr_bpm,
        spo2_percent=spo2_percent,
        pleth=pleth,
        flags=flags,
        firmware_revision=firmware_revision,
    ).encode()


class NoninDf2PacketAssembler:
    """Groups frames, fed in order, into packets.

    A packet is 25 contiguous frames that start at a SYNC frame. When its 25th frame
    arrives, the packet is complete but only *held*: it is emitted when the next frame
    arrives, and only if that frame carries SYNC and has no gap before it (it is the
    first frame of the next packet, which it opens). A frame repeated or spliced into
    the packet would otherwise go unseen (see the module docstring, "added frames").

    **Cost: one frame of latency.** A packet comes out with the next packet's first
    frame, 1/75 s (13 ms) after its own last frame, and the last packet of a stream that
    stops is never emitted. ``add_block_located`` and the driver therefore stamp a
    packet with the arrival of that confirming frame. A damaged SYNC frame now costs
    two packets: its own, and the held one it would have let out.

    What the hold cannot see: a frame *replaced* by another valid one (one lost and
    one added inside the same packet, so that 25 frames still lie between two SYNC
    frames). Format #2 has no frame counter; nothing on the wire tells.

    A partial or held packet is discarded, and counted in ``packets_discarded``, when:

    - a frame arrives with ``after_gap`` set (the decoder dropped bytes before it, so a
      frame may be missing),
    - a SYNC frame arrives early (a frame was lost without leaving dropped bytes),
    - a frame without SYNC follows a held packet (a frame was added), or
    - ``reset()`` is called (the link dropped).

    Frames that arrive while no packet is open and that lack SYNC are skipped and
    counted in ``frames_skipped``. This happens at start-up, mid-packet, and after a
    discard (including the non-SYNC frame that discards a held packet).

    Frames come one at a time (``add``) or as a block (``add_block``); the two may be
    mixed and give the same packets and counts.

    >>> assembler = NoninDf2PacketAssembler()
    >>> wire = encode_packet(hr_bpm=200, spo2_percent=95, pleth=range(25))
    >>> frames = frames_of(NoninDf2Decoder().feed(wire + wire[:5]))
    >>> packets = [assembler.add(f) for f in frames]
    >>> packets[-1].hr_bpm, packets.count(None)
    (200, 25)
    """

    def __init__(self) -> None:
        # The wire bytes of the open packet's frames so far; empty when none is open.
        # 25 frames' worth (125 bytes): a complete packet held for its confirming frame.
        self._partial = b""
        self._packets = 0
        self._packets_discarded = 0
        self._frames_skipped = 0

    @property
    def packets(self) -> int:
        """Packets emitted."""
        return self._packets

    @property
    def packets_discarded(self) -> int:
        """Partial or held packets dropped: gap, early SYNC, frame added, reset."""
        return self._packets_discarded

    @property
    def frames_skipped(self) -> int:
        """Frames that arrived with no packet open and no SYNC."""
        return self._frames_skipped

    @property
    def open_frames(self) -> int:
        """Frames of the open packet so far (0: none open).

        25 is a complete packet held for its confirming frame: a packet comes out
        with the frame after its 25th, so ``PACKET_LEN_FRAMES + 1 - open_frames``
        more frames let the next one out.

        >>> assembler = NoninDf2PacketAssembler()
        >>> wire = encode_packet(hr_bpm=72, spo2_percent=97, pleth=[128] * 25)
        >>> _ = assembler.add_block(NoninDf2Decoder().feed(wire[:40])[0])
        >>> assembler.open_frames
        8
        """
        return len(self._partial) // FRAME_LEN_BYTES

    def add(self, frame: NoninDf2Frame) -> NoninDf2Packet | None:
        """Take the next frame; return the held packet it confirms, if any."""
        located = self._take(frame.encode(), after_gap=frame.after_gap)
        return located[0][1] if located else None

    def add_block(self, block: NoninDf2FrameBlock) -> list[NoninDf2Packet]:
        """Take the next run of frames; return the packets it confirms, in order."""
        return [
            packet for _, packet in self._take(block.raw, after_gap=block.after_gap)
        ]

    def add_block_located(
        self, block: NoninDf2FrameBlock
    ) -> list[tuple[int, NoninDf2Packet]]:
        """As ``add_block``; each packet comes with where in the block it completed.

        That place is the number of the block's frames taken up to and including the
        frame that confirmed the packet (the next packet's SYNC frame, one after the
        packet's last frame), so a caller that knows when each frame arrived can stamp
        the packet with the arrival of the frame that let it out. A packet held over
        from an earlier call and confirmed by the block's first frame is at place 1.
        """
        return self._take(block.raw, after_gap=block.after_gap)

    def reset(self) -> None:
        """Forget any partial or held packet (the link dropped); it is counted."""
        if self._partial:
            self._partial = b""
            self._packets_discarded += 1

    def _take(self, raw: bytes, *, after_gap: bool) -> list[tuple[int, NoninDf2Packet]]:
        """Assemble a run of consecutive valid frames given as their wire bytes.

        Returns each confirmed packet with the number of frames taken when it was
        confirmed (see ``add_block_located``).

        The per-frame rules of the class docstring, applied a stretch at a time: the
        SYNC frames are found with ``bytes.find`` on a one-byte-per-frame SYNC map, and
        the frames between them join the open packet as one slice. Only the frame after
        a complete packet is judged on its own.
        """
        syncs = raw[1::FRAME_LEN_BYTES].translate(_SYNC_OF_STATUS)
        count = len(syncs)
        partial = self._partial
        if partial and after_gap:
            partial = b""
            self._packets_discarded += 1
        packets: list[tuple[int, NoninDf2Packet]] = []
        pos = 0
        while pos < count:
            if not partial:
                # No packet open: skip to the next SYNC frame, which opens one.
                start = syncs.find(1, pos)
                if start < 0:
                    self._frames_skipped += count - pos
                    break
                self._frames_skipped += start - pos
                confirm = start + PACKET_LEN_FRAMES
                if confirm < count and syncs.find(1, start + 1, confirm + 1) == confirm:
                    # The steady state, in one step: 24 frames without SYNC, then
                    # the next packet's SYNC frame, which lets this one out and
                    # opens the next (the steps below would give the same).
                    packets.append(
                        (
                            confirm + 1,
                            NoninDf2Packet.from_wire(
                                raw[start * FRAME_LEN_BYTES : confirm * FRAME_LEN_BYTES]
                            ),
                        )
                    )
                    self._packets += 1
                    pos = confirm
                    continue
                partial = raw[start * FRAME_LEN_BYTES : (start + 1) * FRAME_LEN_BYTES]
                pos = start + 1
                continue
            if len(partial) == _PACKET_LEN_BYTES:
                # A complete packet is held: the frame at ``pos`` (no gap before it,
                # inside a run) lets it out if it is the next packet's SYNC frame, which
                # then opens that packet. Any other frame means one was added: discard.
                if syncs[pos]:
                    packets.append((pos + 1, NoninDf2Packet.from_wire(partial)))
                    self._packets += 1
                else:
                    self._packets_discarded += 1
                partial = b""
                continue
            # A packet is open: the frames up to its 25th join it, unless a SYNC
            # frame comes first (a frame was lost), which discards it.
            end = min(count, pos + PACKET_LEN_FRAMES - len(partial) // FRAME_LEN_BYTES)
            early = syncs.find(1, pos, end)
            if early >= 0:
                partial = b""
                self._packets_discarded += 1
                pos = early
                continue
            partial += raw[pos * FRAME_LEN_BYTES : end * FRAME_LEN_BYTES]
            pos = end
        self._partial = partial
        return packets

r"""Pure codec for Masimo "ASCII 1" serial output (Rad-8, Rad-87, Radical-7, Radical-5).

Layer: pure core. No asyncio, no serial, no clock: bytes in, ``MasimoLine`` out, and
``MasimoLine.encode()`` back to bytes for the simulator and round-trip tests. The
decoder is fed arbitrary chunks and never raises.

The wire format (protocols.md §1.1): one text line per second at 9600 8N1, ending
CR LF. A line is the device clock ``MM/DD/YY HH:MM:SS`` followed by space-separated
``KEY=VALUE`` tokens whose set depends on model and firmware. There is **no
checksum**: a corrupted digit that still looks like a digit cannot be detected here,
so the driver's range checks are the only guard against garbled numbers. A value the
device cannot give is a run of dashes that keeps the field width (``SPO2=---%``,
``PI=--.--%``) and decodes to ``None``.

Validity rules (the MD PnP ``poxrad_discrete.h`` check, made stricter):

- the line holds the date-time pattern; bytes before it on the same line are garbage
  from a partial line or line noise: they are dropped and counted as a resync;
- every token after it is ``KEY=VALUE`` (upper-case key, printable ASCII value), no
  key twice, and ``SPO2`` and ``BPM`` are present;
- ``SPO2`` and ``BPM`` are 1-3 digits, ``PI`` digits with up to two decimals, each
  optionally followed by ``%``, or dashes; ``ALARM``, ``EXC`` and ``EXC1`` are hex.

A line breaking any rule is dropped whole and counted in ``malformed_lines``; other
fields (``SN``, ``SPCO``, ``PVI``, ...) are kept verbatim in ``fields``.

>>> decoder = MasimoAscii1Decoder()
>>> [line] = decoder.feed(
...     b"05/14/24 10:02:07 SN=0000012345 SPO2=097% BPM=072 PI=02.10% "
...     b"SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n"
... )
>>> line.spo2_percent, line.pulse_rate_bpm, line.perfusion_index
(97, 72, 2.1)
>>> line.exc
<MasimoException.SET_MODE: 2048>
>>> line.value_of("SPCO"), line.value_of("PVI")
('--.-%', None)
>>> [dashed] = decoder.feed(b"\r\n\xffnoise 05/14/24 10:02:08 SPO2=---% BPM=---\r\n")
>>> dashed.spo2_percent is None, dashed.device_time
(True, '05/14/24 10:02:08')
>>> decoder.stats.frames, decoder.stats.resyncs, decoder.malformed_lines
(2, 1, 0)
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl.devices.codec import DecoderStats
from roomctl.errors import FrameError

if TYPE_CHECKING:
    from collections.abc import Iterable

_LOGGER = logging.getLogger(__name__)

#: Line terminator the device sends (``poxrad_discrete.h`` example strings end in
#: 0x0D 0x0A); the decoder splits on LF alone and strips the CR.
LINE_END = b"\r\n"

#: Longest line accepted, bytes before the LF. Real lines are 80-200 characters
#: (Radical-7 colour firmware is the longest); a peer that sends more without a
#: newline is not speaking ASCII 1.
MAX_LINE_BYTES = 512

#: Length of the device clock text ``MM/DD/YY HH:MM:SS``.
DEVICE_TIME_CHARS = 17

#: Keys whose values this codec interprets (the rest are kept as text).
KEY_SPO2 = "SPO2"
KEY_PULSE_RATE = "BPM"
KEY_PERFUSION_INDEX = "PI"
KEY_ALARM = "ALARM"
KEY_EXCEPTION = "EXC"
KEY_EXCEPTION_1 = "EXC1"

# Device clock: positions 2 and 5 '/', 8 space, 11 and 14 ':', digits elsewhere
# (poxrad_discrete.h validity check; mdpnp masimo-radical-7.spec). The lookahead
# finds overlapping candidates, so the last one on a line is never missed.
_DEVICE_TIME = re.compile(r"[0-9]{2}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_DEVICE_TIME_CANDIDATE = re.compile(f"(?=({_DEVICE_TIME.pattern}))")
# Keys are upper-case mnemonics (SN, SPO2, EXC1); values are printable ASCII without
# '=' or space, so a token boundary is never ambiguous.
_TOKEN = re.compile(r"([A-Z][A-Z0-9]*)=([!-<>-~]+)")
# Numbers keep their field width with leading zeros (SPO2=097%, PI=02.10%); the '%'
# is optional because Radical-7 colour firmware sends PI=00.55 without it.
_INTEGER_VALUE = re.compile(r"([0-9]{1,3})%?")
_DECIMAL_VALUE = re.compile(r"([0-9]{1,3}(?:\.[0-9]{1,2})?)%?")
# "Unavailable" is dashes keeping the width, with the decimal point kept (--.--%).
# poxrad_discrete.h tests only the second character because signed fields start
# with '+' or '-'; the three numbers read here are unsigned, so all dashes it is.
_DASHED_VALUE = re.compile(r"-[-.]*%?")
# ALARM: 2 (Radical-5), 4 (Rad-8) or 6 (Radical-7) hex digits; EXC: 3, 6 or 7;
# EXC1: 8. Eight is the longest seen; more is not a Masimo word.
_HEX_VALUE = re.compile(r"[0-9A-Fa-f]{1,8}")


class MasimoAlarm(enum.IntFlag):
    """The device's own alarm word (``ALARM``), for the record only.

    Bits 0-5 were confirmed on a Rad-8 (remkolems/masimo-datacapture); the rest come
    from one source (``poxrad_discrete.h``). Masimo calls the decode proprietary.
    Unknown bits are kept (``IntFlag`` keeps them), never rejected.
    """

    SPO2_HIGH = 0x0001
    SPO2_LOW = 0x0002
    PULSE_RATE_HIGH = 0x0004
    PULSE_RATE_LOW = 0x0008
    ACTIVE = 0x0010
    SILENCED = 0x0020
    LOW_BATTERY = 0x0040
    SPCO_HIGH = 0x0100
    SPCO_LOW = 0x0200
    SPMET_HIGH = 0x0400
    SPMET_LOW = 0x0800
    DESAT_INDEX = 0x1000
    PI_RATE_OF_CHANGE = 0x2000


class MasimoException(enum.IntFlag):
    """The device's exception word (``EXC``): what it says about the signal.

    Bits per ``poxrad_discrete.h``; 0x001-0x800 also from the Rad-8 manual's trend
    data format (quoted in remkolems/masimo-datacapture). 0x000200 is reserved and
    left unnamed; unknown bits (7-digit words on Radical-7 colour firmware) are kept.
    """

    NO_SENSOR = 0x000001
    DEFECTIVE_SENSOR = 0x000002
    LOW_PERFUSION = 0x000004
    PULSE_SEARCH = 0x000008
    INTERFERENCE = 0x000010
    #: The sensor is off the patient.
    SENSOR_OFF = 0x000020
    AMBIENT_LIGHT = 0x000040
    UNRECOGNIZED_SENSOR = 0x000080
    INCOMPATIBLE_SENSOR = 0x000100
    LOW_SIGNAL_IQ = 0x000400
    #: "Masimo SET": the algorithm runs in full SET mode. Normal, not an error;
    #: ``EXC=000800`` is the healthy steady state in real captures.
    SET_MODE = 0x000800
    NO_CABLE = 0x001000
    CABLE_EXPIRED = 0x002000
    INCOMPATIBLE_CABLE = 0x004000
    UNRECOGNIZED_CABLE = 0x008000
    DEFECTIVE_CABLE = 0x010000
    SENSOR_CALIBRATING = 0x020000
    SENSOR_EXPIRED = 0x040000
    EMITTER_TEMPERATURE = 0x080000
    SENSOR_CURRENT_LIMIT = 0x100000
    SPCO_LOW_CONFIDENCE = 0x200000
    SPMET_LOW_CONFIDENCE = 0x400000


@dataclass(frozen=True, slots=True)
class _Values:
    """The interpreted part of a line's fields."""

    spo2_percent: int | None
    pulse_rate_bpm: int | None
    perfusion_index: float | None
    alarm: MasimoAlarm
    exc: MasimoException


@dataclass(frozen=True, slots=True, kw_only=True)
class MasimoLine:
    """One decoded ASCII 1 line.

    Build one with ``MasimoLine.from_fields`` (it derives the typed values); the
    constructor checks that the typed values agree with ``fields``.
    """

    #: The device clock exactly as sent, ``MM/DD/YY HH:MM:SS``. Kept as text: device
    #: clocks drift and have no zone (yahnatan/pulseox saw DST drift), so readings are
    #: stamped with host time and this is for the record only.
    device_time: str
    #: Functional SpO2, percent; ``None`` when the device sent dashes.
    spo2_percent: int | None
    #: Pulse rate, beats per minute; ``None`` when the device sent dashes.
    pulse_rate_bpm: int | None
    #: Perfusion index, percent; ``None`` when dashed or not sent (``PI`` absent).
    perfusion_index: float | None
    #: The device's own alarm word; ``0`` when the line has no ``ALARM``.
    alarm: MasimoAlarm
    #: The exception word; ``0`` when the line has no ``EXC``.
    exc: MasimoException
    #: Every ``KEY=VALUE`` token in wire order, values as sent.
    fields: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if _DEVICE_TIME.fullmatch(self.device_time) is None:
            raise ValueError(
                f"device_time {self.device_time!r} is not MM/DD/YY HH:MM:SS"
            )
        try:
            values = _interpret(self.fields)
        except FrameError as exc:
            raise ValueError(str(exc)) from exc
        mine = _Values(
            spo2_percent=self.spo2_percent,
            pulse_rate_bpm=self.pulse_rate_bpm,
            perfusion_index=self.perfusion_index,
            alarm=self.alarm,
            exc=self.exc,
        )
        if mine != values:
            raise ValueError(f"typed values {mine} disagree with fields {values}")

    @classmethod
    def from_fields(
        cls, device_time: str, fields: Iterable[tuple[str, str]]
    ) -> MasimoLine:
        """Build a line from its clock text and tokens, deriving the typed values.

        Args:
            device_time: ``MM/DD/YY HH:MM:SS``.
            fields: ``(key, value)`` pairs in wire order.

        Returns:
            The line.

        Raises:
            ValueError: the clock text or a field breaks the format rules.
        """
        pairs = tuple(fields)
        try:
            values = _interpret(pairs)
        except FrameError as exc:
            raise ValueError(str(exc)) from exc
        return cls(
            device_time=device_time,
            spo2_percent=values.spo2_percent,
            pulse_rate_bpm=values.pulse_rate_bpm,
            perfusion_index=values.perfusion_index,
            alarm=values.alarm,
            exc=values.exc,
            fields=pairs,
        )

    def value_of(self, key: str) -> str | None:
        """The raw value of ``key`` as sent, or ``None`` if the line has no such key."""
        for name, value in self.fields:
            if name == key:
                return value
        return None

    def encode(self) -> bytes:
        """The line as the device sends it, CR LF included."""
        tokens = " ".join(f"{key}={value}" for key, value in self.fields)
        return f"{self.device_time} {tokens}".encode("ascii") + LINE_END


def _integer(key: str, value: str) -> int | None:
    if _DASHED_VALUE.fullmatch(value):
        return None
    match = _INTEGER_VALUE.fullmatch(value)
    if match is None:
        raise FrameError(f"{key}={value!r} is neither digits nor dashes")
    return int(match.group(1))


def _decimal(key: str, value: str) -> float | None:
    if _DASHED_VALUE.fullmatch(value):
        return None
    match = _DECIMAL_VALUE.fullmatch(value)
    if match is None:
        raise FrameError(f"{key}={value!r} is neither a decimal nor dashes")
    return float(match.group(1))


def _hex(key: str, value: str) -> int:
    if _HEX_VALUE.fullmatch(value) is None:
        raise FrameError(f"{key}={value!r} is not hexadecimal")
    return int(value, 16)


def _interpret(fields: tuple[tuple[str, str], ...]) -> _Values:
    """Check every token and derive the typed values.

    Raises:
        FrameError: a token breaks the format rules.
    """
    seen: dict[str, str] = {}
    for key, value in fields:
        if _TOKEN.fullmatch(f"{key}={value}") is None:
            raise FrameError(f"token {key!r}={value!r} is not KEY=VALUE")
        if key in seen:
            # Two values for one key: no way to tell which the device meant.
            raise FrameError(f"key {key!r} appears twice")
        seen[key] = value
    if KEY_SPO2 not in seen or KEY_PULSE_RATE not in seen:
        raise FrameError("a line needs SPO2 and BPM")
    perfusion = seen.get(KEY_PERFUSION_INDEX)
    exc1 = seen.get(KEY_EXCEPTION_1)
    if exc1 is not None:
        # Radical-7 colour firmware's second exception word; only its form is checked
        # (its bits are not published).
        _hex(KEY_EXCEPTION_1, exc1)
    return _Values(
        spo2_percent=_integer(KEY_SPO2, seen[KEY_SPO2]),
        pulse_rate_bpm=_integer(KEY_PULSE_RATE, seen[KEY_PULSE_RATE]),
        perfusion_index=(
            None if perfusion is None else _decimal(KEY_PERFUSION_INDEX, perfusion)
        ),
        alarm=MasimoAlarm(_hex(KEY_ALARM, seen.get(KEY_ALARM, "0"))),
        exc=MasimoException(_hex(KEY_EXCEPTION, seen.get(KEY_EXCEPTION, "0"))),
    )


def _parse_record(record: str) -> MasimoLine:
    """Parse text that starts with the device clock (no terminator).

    Raises:
        FrameError: the text is not a valid line.
    """
    if _DEVICE_TIME.match(record) is None:
        raise FrameError(f"{record!r} does not start with MM/DD/YY HH:MM:SS")
    device_time, rest = record[:DEVICE_TIME_CHARS], record[DEVICE_TIME_CHARS:]
    if rest and not rest.startswith(" "):
        raise FrameError(f"{record!r}: no space after the device clock")
    pairs: list[tuple[str, str]] = []
    # Split on single spaces and skip empties: a doubled space is harmless padding.
    for token in rest.split(" "):
        if not token:
            continue
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise FrameError(f"{record!r}: token {token!r} is not KEY=VALUE")
        pairs.append((match.group(1), match.group(2)))
    try:
        return MasimoLine.from_fields(device_time, pairs)
    except ValueError as exc:
        raise FrameError(f"{record!r}: {exc}") from exc


def parse_line(data: bytes) -> MasimoLine:
    """Parse one complete line (one-shot; the stream decoder never raises).

    Args:
        data: the line, starting with the device clock, with or without CR LF.

    Returns:
        The decoded line.

    Raises:
        FrameError: the bytes are not a valid ASCII 1 line; the message holds them.
    """
    body = data.removesuffix(b"\n").rstrip(b"\r")
    # latin-1 maps every byte to one character, so nothing here can raise and a
    # non-ASCII byte simply fails the ASCII-only patterns.
    return _parse_record(body.decode("latin-1"))


class MasimoAscii1Decoder:
    """Streaming ASCII 1 decoder: arbitrary chunks in, valid lines out.

    Lines end at LF (CR LF on the wire; a lone LF is accepted, trailing CRs are
    stripped, blank lines are skipped). Statistics (``stats``): ``frames`` valid
    lines; ``dropped_bytes`` garbage before a clock plus every byte of a dropped
    line, terminator included; ``resyncs`` lines recovered after such garbage;
    ``checksum_errors`` stays 0 (ASCII 1 has no checksum). ``malformed_lines``
    counts lines dropped whole, including lines longer than ``MAX_LINE_BYTES``.
    """

    def __init__(self) -> None:
        self._stats = DecoderStats()
        self._malformed_lines = 0
        self._buffer = bytearray()
        # Inside an over-long line: drop everything up to and including the next LF.
        self._discarding = False

    @property
    def stats(self) -> DecoderStats:
        """A snapshot of the counts since the decoder was made."""
        return dataclasses.replace(self._stats)

    @property
    def malformed_lines(self) -> int:
        """Lines dropped whole: no clock, bad token or value, or over-long."""
        return self._malformed_lines

    def feed(self, data: bytes) -> list[MasimoLine]:
        """Take a chunk of bytes; return the lines it completed. Never raises.

        Args:
            data: any chunk of the device's output.

        Returns:
            The valid lines completed by this chunk, in order.
        """
        chunk = bytes(data)
        self._stats.bytes_in += len(chunk)
        lines: list[MasimoLine] = []
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:newline]
            start = newline + 1
            if self._discarding:
                # The rest of an over-long line (counted as malformed when it began).
                self._stats.dropped_bytes += len(piece) + 1
                self._discarding = False
                continue
            self._buffer += piece
            line = bytes(self._buffer)
            self._buffer.clear()
            decoded = self._take_line(line)
            if decoded is not None:
                lines.append(decoded)
        tail = chunk[start:]
        if self._discarding:
            self._stats.dropped_bytes += len(tail)
        elif len(self._buffer) + len(tail) > MAX_LINE_BYTES:
            # Decided by position, not by chunk: the line is over-long exactly when
            # more than MAX_LINE_BYTES bytes precede its LF. Never buffered, so a
            # flood costs no memory.
            self._drop_overlong(len(self._buffer) + len(tail))
            self._buffer.clear()
            self._discarding = True
        else:
            self._buffer += tail
        return lines

    def _take_line(self, line: bytes) -> MasimoLine | None:
        """Decode one line (LF removed) or count why it was dropped."""
        if len(line) > MAX_LINE_BYTES:
            self._drop_overlong(len(line) + 1)
            return None
        text = line.rstrip(b"\r").decode("latin-1")
        if not text:
            return None
        # The record starts at the last clock on the line: a valid record holds only
        # one (its tokens have no spaces and keys start with a letter), and anything
        # before it is the rest of a truncated line or noise.
        starts = [match.start() for match in _DEVICE_TIME_CANDIDATE.finditer(text)]
        if not starts:
            self._drop_malformed(line, "no MM/DD/YY HH:MM:SS clock")
            return None
        begin = starts[-1]
        try:
            decoded = _parse_record(text[begin:])
        except FrameError as exc:
            self._drop_malformed(line, str(exc))
            return None
        if begin:
            self._stats.dropped_bytes += begin
            self._stats.resyncs += 1
            _LOGGER.debug("dropped %d bytes before a line: %r", begin, line[:begin])
        self._stats.frames += 1
        return decoded

    def _drop_malformed(self, line: bytes, why: str) -> None:
        self._stats.dropped_bytes += len(line) + 1
        self._malformed_lines += 1
        _LOGGER.debug("dropped malformed line (%s): %r", why, line)

    def _drop_overlong(self, size: int) -> None:
        self._stats.dropped_bytes += size
        self._malformed_lines += 1
        _LOGGER.debug("dropping a line longer than %d bytes", MAX_LINE_BYTES)

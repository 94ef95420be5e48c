"""Pure codec for the SunTech Advantage OEM NIBP module (protocols.md §2.1).

Layer: pure core. No asyncio, no serial, no clock: bytes in, frames out, and an
``encode()`` on every frame for the simulator and the round-trip tests. Both
streaming decoders are fed arbitrary chunks and never raise.

The wire (protocols.md §2.1, two byte-exact sources agree: Appciton
``SuntechProvider.cpp`` and DesktopFX ``NIBPRequest``/``NIBPResponse``), 9600 8N1:

- host to module: ``:`` (0x3A), command byte(s), checksum; there is no length byte,
  the command byte fixes the length (``SuntechCommandDecoder`` keeps that table);
- module to host: ``>`` (0x3E), total length (start and checksum included, at most
  0x43), data, checksum;
- checksum: the byte that makes the 8-bit sum of the whole packet zero.

Host commands (checksums verified in protocols.md §2.1):

>>> StartBp().encode().hex(" ")
'3a 20 a6'
>>> StartBp(mode=PatientMode.PEDIATRIC).encode().hex(" ")
'3a 87 3f'
>>> StartBp(mode=PatientMode.NEONATE).encode().hex(" ")
'3a 28 9e'
>>> AbortBp().encode().hex(" ")
'3a 79 01 00 4c'
>>> GetCuffPressure().encode().hex(" ")
'3a 79 05 00 48'
>>> GetBpData().encode().hex(" ")
'3a 79 03 00 4a'
>>> GetReturnString().encode().hex(" ")
'3a 79 02 40 0b'
>>> GetModuleStatus().encode().hex(" ")
'3a 79 10 03 3a'
>>> ControlPneumatics(pump=0, valve=1, dump=1).encode().hex(" ")
'3a 0c 00 01 01 b8'
>>> Reset().encode().hex(" ")
'3a 8a 3c'

Module responses, in any chunking:

>>> decoder = SuntechDecoder()
>>> decoder.feed(bytes.fromhex("3e 04 4f 6f 3e 05 02"))
[SuntechAck(code=<AckCode.RECEIVED: 79>)]
>>> decoder.feed(bytes.fromhex("01 ba 3e 04 4b 73"))
[CuffPressure(mmhg=258), SuntechAck(code=<AckCode.COMPLETE: 75>)]
>>> decoder.feed(bytes.fromhex("3e 05 ff ff bf"))
[CuffPressure(mmhg=None)]
>>> decoder.feed(bytes.fromhex("3e 04 4f 00"))  # bad checksum: counted, not raised
[]
>>> decoder.stats.frames, decoder.stats.checksum_errors
(4, 1)
>>> error_text(87)
'cuff leak or loose cuff: it did not inflate in time (device error 87)'
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeAlias, TypeVar

from roomctl.devices.codec import DecoderStats, zero_sum
from roomctl.errors import ChecksumError, FrameError

if TYPE_CHECKING:
    from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

#: First byte of every host command, ``:`` (protocols.md §2.1).
HOST_START = 0x3A
#: First byte of every module response, ``>`` (protocols.md §2.1).
MODULE_START = 0x3E
#: Longest module response, bytes, start and checksum included (protocols.md §2.1:
#: "Max packet 0x43 bytes").
MAX_RESPONSE_BYTES = 0x43
#: Shortest module response accepted: the 4-byte acknowledgement (``3E 04 <char>
#: cs``). A length byte below it cannot hold any data and is treated as noise.
MIN_RESPONSE_BYTES = 4
#: Acknowledgement packet length (protocols.md §2.1 "Acknowledgements").
ACK_BYTES = 4
#: Cuff-pressure reply length: ``3E 05 lo hi cs`` (protocols.md §2.1).
CUFF_PRESSURE_BYTES = 5
#: BP-data reply length: ``3E 18 ...`` (protocols.md §2.1, "24 bytes").
BP_DATA_BYTES = 0x18
#: The cuff-pressure value meaning "not available" (protocols.md §2.1: -1).
CUFF_PRESSURE_NOT_AVAILABLE = -1
#: Number of test-code bytes in the BP-data reply (protocols.md §2.1).
TEST_CODE_BYTES = 8
#: Longest data field of a module response: 0x43 minus start, length and checksum.
MAX_RESPONSE_DATA_BYTES = MAX_RESPONSE_BYTES - 3

# Characters a return string (version text, e.g. "LX...") may hold.
_PRINTABLE = frozenset(string.printable.encode("ascii")) - frozenset(b"\t\n\r\x0b\x0c")

# --------------------------------------------------------------------- error codes

#: The module's BP-data error codes in words a nurse can act on (protocols.md §2.1
#: "Error codes", decimal; Appciton maps them to its own one-shot alarms).
ERROR_MEANINGS: dict[int, str] = {
    0: "no error",
    1: "weak or no pulse signal: check cuff position and size (device error 1)",
    2: "erratic signal or motion artifact: keep the arm still (device error 2)",
    3: "blood pressure outside the measurable range (device error 3)",
    4: "measurement took too long (device error 4)",
    85: "air hose blocked or kinked (device error 85)",
    86: "measurement stopped before it finished (device error 86)",
    87: "cuff leak or loose cuff: it did not inflate in time (device error 87)",
    88: "safety time limit reached: measurement stopped (device error 88)",
    89: "cuff over-pressure: measurement stopped (device error 89)",
    90: "NIBP module power or hardware fault (device error 90)",
    91: "NIBP module safety check failed: autozero out of range (device error 91)",
    97: "NIBP pressure sensor out of range (device error 97)",
    99: "NIBP module calibration data failure: needs service (device error 99)",
}

#: Error code 86 "BP terminated by user": what an aborted determination reports.
ERROR_ABORTED = 86


def error_text(code: int) -> str:
    """The meaning of a BP-data error code in words, including codes not in the list.

    Args:
        code: the module's error code (0-255).

    Returns:
        The nurse-facing text from ``ERROR_MEANINGS``, or a generic text naming the
        code.

    >>> error_text(2)
    'erratic signal or motion artifact: keep the arm still (device error 2)'
    >>> error_text(42)
    'unknown NIBP module error (device error 42)'
    """
    meaning = ERROR_MEANINGS.get(code)
    if meaning is None:
        return f"unknown NIBP module error (device error {code})"
    return meaning


# ----------------------------------------------------------------- host commands


class PatientMode(enum.IntEnum):
    """The start-BP command byte for each patient size (protocols.md §2.1)."""

    ADULT = 0x20
    PEDIATRIC = 0x87
    NEONATE = 0x28


_START_BYTES = frozenset(int(mode) for mode in PatientMode)

# Command bytes (protocols.md §2.1 command table; Appciton SuntechProvider.cpp).
_CMD_EXTENDED = 0x79  # followed by a 2-byte sub-command
_CMD_SET_INITIAL_INFLATE = 0x17
_CMD_CONTROL_PNEUMATICS = 0x0C
_CMD_RESET = 0x8A
# Sub-commands after 0x79 (protocols.md §2.1).
_SUB_ABORT = b"\x01\x00"
_SUB_CUFF_PRESSURE = b"\x05\x00"
_SUB_BP_DATA = b"\x03\x00"
_SUB_RETURN_STRING = b"\x02\x40"
# Advantage module status; the A+ uses 0x11 0x00 (protocols.md §2.1), which decodes
# as an UnknownCommand here.
_SUB_MODULE_STATUS = b"\x10\x03"

#: Total length of each host command, by command byte (the protocol has no length
#: byte on the host side). The first rows are protocols.md §2.1; calibrate transducer
#: (0x04, one data byte), sleep mode (0x81, four) and venous stasis (0x86, three) are
#: from Appciton's command list only [S, single source]: they are framed so that the
#: decoder stays in step, and decode as ``UnknownCommand``.
COMMAND_BYTES: dict[int, int] = {
    PatientMode.ADULT: 3,
    PatientMode.PEDIATRIC: 3,
    PatientMode.NEONATE: 3,
    _CMD_RESET: 3,
    _CMD_EXTENDED: 5,
    _CMD_SET_INITIAL_INFLATE: 5,
    _CMD_CONTROL_PNEUMATICS: 6,
    0x04: 4,
    0x81: 7,
    0x86: 6,
}

#: Longest host command, bytes.
MAX_COMMAND_BYTES = max(COMMAND_BYTES.values())


def _host_frame(payload: bytes) -> bytes:
    head = bytes([HOST_START]) + payload
    return head + bytes([zero_sum(head)])


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must fit in one byte (0-255), got {value}")


def _check_u16(name: str, value: int) -> None:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{name} must fit in 16 bits (0-65535), got {value}")


class _Command:
    """Shared ``encode()`` of the host commands."""

    __slots__ = ()

    @property
    def payload(self) -> bytes:
        """The bytes between ``:`` and the checksum."""
        raise NotImplementedError

    def encode(self) -> bytes:
        """The full command frame, checksum included."""
        return _host_frame(self.payload)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartBp(_Command):
    """Start one determination (``3A 20 A6`` adult)."""

    #: Which start command: adult, pediatric or neonate inflation limits.
    mode: PatientMode = PatientMode.ADULT

    @property
    def payload(self) -> bytes:
        """The command byte."""
        return bytes([self.mode])


@dataclass(frozen=True, slots=True, kw_only=True)
class AbortBp(_Command):
    """Abort the determination and deflate (``3A 79 01 00 4C``); the module says A."""

    @property
    def payload(self) -> bytes:
        """0x79 and its sub-command."""
        return bytes([_CMD_EXTENDED]) + _SUB_ABORT


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCuffPressure(_Command):
    """Ask for the current cuff pressure (``3A 79 05 00 48``)."""

    @property
    def payload(self) -> bytes:
        """0x79 and its sub-command."""
        return bytes([_CMD_EXTENDED]) + _SUB_CUFF_PRESSURE


@dataclass(frozen=True, slots=True, kw_only=True)
class GetBpData(_Command):
    """Ask for the last determination's result (``3A 79 03 00 4A``)."""

    @property
    def payload(self) -> bytes:
        """0x79 and its sub-command."""
        return bytes([_CMD_EXTENDED]) + _SUB_BP_DATA


@dataclass(frozen=True, slots=True, kw_only=True)
class GetReturnString(_Command):
    """Ask for the module's version text (``3A 79 02 40 0B``)."""

    @property
    def payload(self) -> bytes:
        """0x79 and its sub-command."""
        return bytes([_CMD_EXTENDED]) + _SUB_RETURN_STRING


@dataclass(frozen=True, slots=True, kw_only=True)
class GetModuleStatus(_Command):
    """Ask for the Advantage module status (``3A 79 10 03 3A``)."""

    @property
    def payload(self) -> bytes:
        """0x79 and its sub-command."""
        return bytes([_CMD_EXTENDED]) + _SUB_MODULE_STATUS


@dataclass(frozen=True, slots=True, kw_only=True)
class SetInitialInflate(_Command):
    """Set the first inflation target (``3A 17 lo hi cs``, little-endian mmHg)."""

    #: Inflation target, mmHg (unsigned 16-bit on the wire).
    pressure_mmhg: int

    def __post_init__(self) -> None:
        _check_u16("pressure_mmhg", self.pressure_mmhg)

    @property
    def payload(self) -> bytes:
        """0x17 and the pressure, little-endian."""
        return bytes([_CMD_SET_INITIAL_INFLATE]) + self.pressure_mmhg.to_bytes(
            2, "little"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPneumatics(_Command):
    """Drive the pump and valves directly (``3A 0C pump valve dump cs``).

    All closed and the pump off is ``pump=0, valve=1, dump=1`` (protocols.md §2.1).
    """

    #: Pump state byte (0: off).
    pump: int
    #: Bleed valve state byte (1: closed).
    valve: int
    #: Dump valve state byte (1: closed).
    dump: int

    def __post_init__(self) -> None:
        _check_byte("pump", self.pump)
        _check_byte("valve", self.valve)
        _check_byte("dump", self.dump)

    @property
    def payload(self) -> bytes:
        """0x0C and the three state bytes."""
        return bytes([_CMD_CONTROL_PNEUMATICS, self.pump, self.valve, self.dump])


@dataclass(frozen=True, slots=True, kw_only=True)
class Reset(_Command):
    """Reset the module (``3A 8A 3C``)."""

    @property
    def payload(self) -> bytes:
        """The command byte."""
        return bytes([_CMD_RESET])


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownCommand(_Command):
    """A well-framed host command this codec does not interpret.

    Either a 0x79 sub-command not in the table (the A+ status ``79 11 00``) or a
    command byte framed only to stay in step (calibrate, sleep, venous stasis).
    """

    #: The bytes between ``:`` and the checksum; ``data[0]`` is the command byte.
    data: bytes

    def __post_init__(self) -> None:
        if not self.data or COMMAND_BYTES.get(self.data[0]) != len(self.data) + 2:
            raise ValueError(f"not a framed host command: {self.data!r}")
        if _known_command(self.data) is not None:
            raise ValueError(f"a known host command, not an unknown one: {self.data!r}")

    @property
    def payload(self) -> bytes:
        """The command bytes as received."""
        return self.data


#: Any host command.
HostCommand: TypeAlias = (
    StartBp
    | AbortBp
    | GetCuffPressure
    | GetBpData
    | GetReturnString
    | GetModuleStatus
    | SetInitialInflate
    | ControlPneumatics
    | Reset
    | UnknownCommand
)

_EXTENDED_COMMANDS: dict[bytes, HostCommand] = {
    _SUB_ABORT: AbortBp(),
    _SUB_CUFF_PRESSURE: GetCuffPressure(),
    _SUB_BP_DATA: GetBpData(),
    _SUB_RETURN_STRING: GetReturnString(),
    _SUB_MODULE_STATUS: GetModuleStatus(),
}


def _known_command(payload: bytes) -> HostCommand | None:
    """Interpret a framed command's payload (length already matches the table)."""
    command = payload[0]
    if command in _START_BYTES:
        return StartBp(mode=PatientMode(command))
    if command == _CMD_RESET:
        return Reset()
    if command == _CMD_EXTENDED:
        return _EXTENDED_COMMANDS.get(payload[1:])
    if command == _CMD_SET_INITIAL_INFLATE:
        return SetInitialInflate(pressure_mmhg=int.from_bytes(payload[1:], "little"))
    if command == _CMD_CONTROL_PNEUMATICS:
        return ControlPneumatics(pump=payload[1], valve=payload[2], dump=payload[3])
    return None


def _command_from_frame(frame: bytes) -> HostCommand:
    payload = frame[1:-1]
    known = _known_command(payload)
    return known if known is not None else UnknownCommand(data=payload)


def parse_command(frame: bytes) -> HostCommand:
    """Decode exactly one host command frame (one-shot; the simulator streams).

    Args:
        frame: one whole command, ``:`` to checksum.

    Returns:
        The command.

    Raises:
        ChecksumError: the bytes do not sum to zero.
        FrameError: not a command frame (start byte, command byte or length).

    >>> parse_command(bytes.fromhex("3a 17 a0 00 0f"))
    SetInitialInflate(pressure_mmhg=160)
    """
    if not frame or frame[0] != HOST_START:
        raise FrameError(f"a host command starts with 0x3A: {frame!r}")
    expected = COMMAND_BYTES.get(frame[1]) if len(frame) > 1 else None
    if expected is None:
        raise FrameError(f"unknown host command byte: {frame!r}")
    if len(frame) != expected:
        raise FrameError(f"command needs {expected} bytes, got {len(frame)}: {frame!r}")
    if sum(frame) & 0xFF:
        raise ChecksumError(f"command checksum does not sum to zero: {frame!r}")
    return _command_from_frame(frame)


# -------------------------------------------------------------- module responses


class AckCode(enum.IntEnum):
    """The character of a 4-byte acknowledgement ``3E 04 <char> cs`` (§2.1)."""

    #: ``O``: command received.
    RECEIVED = 0x4F
    #: ``K``: executed; after a start BP, the determination is complete.
    COMPLETE = 0x4B
    #: ``A``: determination aborted.
    ABORTED = 0x41
    #: ``B``: busy (a determination is running).
    BUSY = 0x42
    #: ``E``: error.
    ERROR = 0x45
    #: ``N``: undefined command.
    UNDEFINED_COMMAND = 0x4E
    #: ``D``: unrecognizable command.
    UNRECOGNIZABLE = 0x44
    #: ``S``: the module is asleep.
    SLEEP = 0x53
    #: ``T``: timeout.
    TIMEOUT = 0x54


_ACK_BYTES = frozenset(int(code) for code in AckCode)

#: Each acknowledgement in words (DeviceRejected messages).
ACK_MEANINGS: dict[AckCode, str] = {
    AckCode.RECEIVED: "command received",
    AckCode.COMPLETE: "command executed (measurement complete)",
    AckCode.ABORTED: "measurement aborted",
    AckCode.BUSY: "NIBP module busy: a measurement is already running",
    AckCode.ERROR: "NIBP module reported an error",
    AckCode.UNDEFINED_COMMAND: "NIBP module does not know the command",
    AckCode.UNRECOGNIZABLE: "NIBP module could not read the command",
    AckCode.SLEEP: "NIBP module is asleep",
    AckCode.TIMEOUT: "NIBP module timed out",
}


def _module_frame(data: bytes) -> bytes:
    head = bytes([MODULE_START, len(data) + 3]) + data
    return head + bytes([zero_sum(head)])


class _Response:
    """Shared ``encode()`` of the module responses."""

    __slots__ = ()

    @property
    def payload(self) -> bytes:
        """The bytes between the length byte and the checksum."""
        raise NotImplementedError

    def encode(self) -> bytes:
        """The full response frame, checksum included."""
        return _module_frame(self.payload)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuntechAck(_Response):
    """An acknowledgement (``3E 04 4F 6F`` is O, ``3E 04 4B 73`` is K)."""

    code: AckCode

    @property
    def payload(self) -> bytes:
        """The acknowledgement character."""
        return bytes([self.code])


@dataclass(frozen=True, slots=True, kw_only=True)
class CuffPressure(_Response):
    """The cuff-pressure reply ``3E 05 lo hi cs`` (258 mmHg: ``3E 05 02 01 BA``)."""

    #: Cuff pressure, mmHg (signed 16-bit); ``None`` when the module sent -1.
    mmhg: int | None

    def __post_init__(self) -> None:
        if self.mmhg is None:
            return
        if self.mmhg == CUFF_PRESSURE_NOT_AVAILABLE:
            raise ValueError("-1 means 'not available' on the wire: use None")
        if not -0x8000 <= self.mmhg <= 0x7FFF:
            raise ValueError(f"cuff pressure must fit in signed 16 bits: {self.mmhg}")

    @property
    def payload(self) -> bytes:
        """The pressure, signed little-endian."""
        value = CUFF_PRESSURE_NOT_AVAILABLE if self.mmhg is None else self.mmhg
        return value.to_bytes(2, "little", signed=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class BpData(_Response):
    """The 24-byte BP-data reply (protocols.md §2.1).

    Layout after ``3E 18``: systolic u16 LE, diastolic u16 LE, beats u8, BP status
    u8, 8 test-code bytes, heart rate u8, spare, MAP u16 LE, error code u8, 2 spare,
    checksum. Spare bytes are sent as zero and ignored on decode. One Appciton
    revision reads the heart rate as u16 LE with the spare as its high byte; that is
    the same number whenever the spare is zero.
    """

    #: Systolic pressure, mmHg (0 when there is no result).
    systolic_mmhg: int
    #: Diastolic pressure, mmHg.
    diastolic_mmhg: int
    #: Mean arterial pressure, mmHg, measured by the module.
    map_mmhg: int
    #: Pulse rate counted during the determination, bpm.
    heart_rate_bpm: int
    #: Number of beats the module detected.
    beats: int = 0
    #: The module's BP status byte (not interpreted).
    bp_status: int = 0
    #: Eight test-code bytes (service diagnostics, not interpreted).
    test_codes: bytes = bytes(TEST_CODE_BYTES)
    #: Error code (``ERROR_MEANINGS``); non-zero means the numbers are not valid.
    error_code: int = 0

    def __post_init__(self) -> None:
        _check_u16("systolic_mmhg", self.systolic_mmhg)
        _check_u16("diastolic_mmhg", self.diastolic_mmhg)
        _check_u16("map_mmhg", self.map_mmhg)
        _check_byte("heart_rate_bpm", self.heart_rate_bpm)
        _check_byte("beats", self.beats)
        _check_byte("bp_status", self.bp_status)
        _check_byte("error_code", self.error_code)
        if len(self.test_codes) != TEST_CODE_BYTES:
            raise ValueError(f"test_codes must be 8 bytes, got {self.test_codes!r}")

    @property
    def payload(self) -> bytes:
        """The 21 data bytes in wire order."""
        return (
            self.systolic_mmhg.to_bytes(2, "little")
            + self.diastolic_mmhg.to_bytes(2, "little")
            + bytes([self.beats, self.bp_status])
            + self.test_codes
            + bytes([self.heart_rate_bpm, 0])
            + self.map_mmhg.to_bytes(2, "little")
            + bytes([self.error_code, 0, 0])
        )

    @classmethod
    def from_data(cls, data: bytes) -> BpData:
        """Decode the 21 data bytes of a BP-data reply.

        Args:
            data: the bytes between the length byte and the checksum.

        Returns:
            The result.
        """
        return cls(
            systolic_mmhg=int.from_bytes(data[0:2], "little"),
            diastolic_mmhg=int.from_bytes(data[2:4], "little"),
            beats=data[4],
            bp_status=data[5],
            test_codes=bytes(data[6:14]),
            heart_rate_bpm=data[14],
            map_mmhg=int.from_bytes(data[16:18], "little"),
            error_code=data[18],
        )


# Return-string text lengths whose frame length would read as an ack (4), a cuff
# pressure (5) or BP data (24).
_TEXT_LENGTHS_TAKEN = frozenset(
    {ACK_BYTES - 3, CUFF_PRESSURE_BYTES - 3, BP_DATA_BYTES - 3}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnString(_Response):
    """The reply to get-return-string: the module's version text.

    ``LX...`` is an Advantage, ``SB...`` an Advantage A+ (protocols.md §2.1). The
    reply's layout is not in our sources [I]: the text is taken to be the whole data
    field, printable ASCII. Frames are told apart by length alone, so a text of 1, 2
    or 21 characters would read as an ack, a cuff pressure or BP data and is refused.
    """

    #: The version text.
    text: str

    def __post_init__(self) -> None:
        text = self.text
        if not (0 < len(text) <= MAX_RESPONSE_DATA_BYTES and text.isascii()):
            raise ValueError(f"return string must be 1-64 ASCII characters: {text!r}")
        if not _printable(text.encode("ascii")):
            raise ValueError(f"return string must be printable: {text!r}")
        if len(text) in _TEXT_LENGTHS_TAKEN:
            raise ValueError(f"a return string of {len(text)} reads as another reply")

    @property
    def payload(self) -> bytes:
        """The text, ASCII."""
        return self.text.encode("ascii")


def _printable(data: bytes) -> bool:
    return all(byte in _PRINTABLE for byte in data)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownResponse(_Response):
    """A valid module frame (length and checksum) of a kind this codec does not read.

    For example a 4-byte packet whose character is not an acknowledgement, or binary
    data of a length no known reply has (the module-status reply layout is unknown).
    """

    #: The bytes between the length byte and the checksum.
    data: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.data) <= MAX_RESPONSE_DATA_BYTES:
            raise ValueError(f"response data must be 1-64 bytes, got {self.data!r}")
        if _known_response(self.data) is not None:
            raise ValueError(f"a known response, not an unknown one: {self.data!r}")

    @property
    def payload(self) -> bytes:
        """The data as received."""
        return self.data


#: Any module response.
SuntechResponse: TypeAlias = (
    SuntechAck | CuffPressure | BpData | ReturnString | UnknownResponse
)


def _known_response(data: bytes) -> SuntechResponse | None:
    """Interpret a valid frame's data field by its length (§2.1); None if unknown."""
    size = len(data) + 3
    if size == ACK_BYTES:
        return SuntechAck(code=AckCode(data[0])) if data[0] in _ACK_BYTES else None
    if size == CUFF_PRESSURE_BYTES:
        value = int.from_bytes(data, "little", signed=True)
        none = value == CUFF_PRESSURE_NOT_AVAILABLE
        return CuffPressure(mmhg=None if none else value)
    if size == BP_DATA_BYTES:
        return BpData.from_data(data)
    if _printable(data):
        return ReturnString(text=data.decode("ascii"))
    return None


def _response_from_frame(frame: bytes) -> SuntechResponse:
    data = frame[2:-1]
    known = _known_response(data)
    return known if known is not None else UnknownResponse(data=data)


def parse_response(frame: bytes) -> SuntechResponse:
    """Decode exactly one module response frame (one-shot; the driver streams).

    Args:
        frame: one whole response, ``>`` to checksum.

    Returns:
        The response.

    Raises:
        ChecksumError: the bytes do not sum to zero.
        FrameError: not a response frame (start byte or length).

    >>> parse_response(bytes.fromhex("3e 04 4b 73"))
    SuntechAck(code=<AckCode.COMPLETE: 75>)
    """
    if not frame or frame[0] != MODULE_START:
        raise FrameError(f"a module response starts with 0x3E: {frame!r}")
    if len(frame) < MIN_RESPONSE_BYTES or len(frame) > MAX_RESPONSE_BYTES:
        raise FrameError(f"response length out of range: {frame!r}")
    if frame[1] != len(frame):
        raise FrameError(f"length byte {frame[1]} but {len(frame)} bytes: {frame!r}")
    if sum(frame) & 0xFF:
        raise ChecksumError(f"response checksum does not sum to zero: {frame!r}")
    return _response_from_frame(frame)


# ---------------------------------------------------------------- stream decoders

FrameT = TypeVar("FrameT")


class _Framer(Generic[FrameT]):
    """The hunting loop both directions share (Appciton's ring-buffer scan).

    Look for the start byte; read the total length from the second byte; wait until
    the whole packet is buffered; keep it if the zero-sum checksum holds. On any
    failure (bad length or command byte, bad checksum) slide exactly ONE byte and
    look again, so a real frame that began inside a false candidate is never lost.

    After every ``feed`` the buffer holds only an incomplete candidate that starts at
    a start byte, so it is shorter than the longest frame: bounded by construction
    (well under ``codec.MAX_BUFFER_BYTES``). Every decision depends on the bytes
    alone, never on where a chunk ended, so any chunking gives the same frames.
    """

    def __init__(
        self,
        *,
        start: int,
        length_of: Callable[[int], int],
        parse: Callable[[bytes], FrameT],
    ) -> None:
        self._start = start
        self._length_of = length_of
        self._parse = parse
        self._buffer = bytearray()
        self._stats = DecoderStats()
        # Bytes were dropped since the last valid frame (a resync is under way).
        self._hunting = False

    @property
    def stats(self) -> DecoderStats:
        """A snapshot of the counts."""
        return dataclasses.replace(self._stats)

    @property
    def pending_bytes(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[FrameT]:
        """Take a chunk; return the frames it completed. Never raises."""
        self._stats.bytes_in += len(data)
        buffer = self._buffer
        buffer += data
        frames: list[FrameT] = []
        position, end = 0, len(buffer)
        while position < end:
            if buffer[position] != self._start:
                found = buffer.find(self._start, position)
                skip_to = end if found < 0 else found
                self._drop(skip_to - position)
                position = skip_to
                continue
            if position + 1 == end:
                break  # the length (command) byte has not arrived yet
            length = self._length_of(buffer[position + 1])
            if not length:
                self._drop(1)
                position += 1
                continue
            if position + length > end:
                break  # wait for the rest of the candidate
            frame = bytes(buffer[position : position + length])
            if sum(frame) & 0xFF:
                self._stats.checksum_errors += 1
                _LOGGER.debug("checksum error, sliding one byte: %s", frame.hex(" "))
                self._drop(1)
                position += 1
                continue
            frames.append(self._parse(frame))
            self._stats.frames += 1
            if self._hunting:
                self._stats.resyncs += 1
                self._hunting = False
            position += length
        del buffer[:position]
        return frames

    def _drop(self, count: int) -> None:
        self._stats.dropped_bytes += count
        self._hunting = True


def _response_length(length_byte: int) -> int:
    if MIN_RESPONSE_BYTES <= length_byte <= MAX_RESPONSE_BYTES:
        return length_byte
    return 0


def _command_length(command_byte: int) -> int:
    return COMMAND_BYTES.get(command_byte, 0)


class SuntechDecoder:
    """Streaming decoder for module responses (the host side). Never raises.

    Statistics (``stats``): ``frames`` valid responses; ``dropped_bytes`` bytes
    skipped while hunting for ``>`` or slid past after a bad length or checksum;
    ``checksum_errors`` complete candidates whose sum was not zero; ``resyncs``
    valid frames found after dropped bytes.
    """

    def __init__(self) -> None:
        self._framer = _Framer(
            start=MODULE_START, length_of=_response_length, parse=_response_from_frame
        )

    @property
    def stats(self) -> DecoderStats:
        """A snapshot of the counts since the decoder was made."""
        return self._framer.stats

    @property
    def pending_bytes(self) -> int:
        """Bytes held for an incomplete response (always < ``MAX_RESPONSE_BYTES``)."""
        return self._framer.pending_bytes

    def feed(self, data: bytes) -> list[SuntechResponse]:
        """Take a chunk of bytes; return the responses it completed. Never raises.

        Args:
            data: any chunk of the module's output.

        Returns:
            The valid responses completed by this chunk, in order.
        """
        return self._framer.feed(data)


class SuntechCommandDecoder:
    """Streaming decoder for host commands (the simulator side). Never raises.

    The host side has no length byte: ``COMMAND_BYTES`` gives each command's length
    from its command byte, and for 0x79 the next two bytes select the sub-command.
    An unknown command byte cannot be framed, so it is slid past like noise.
    Statistics as for ``SuntechDecoder``.
    """

    def __init__(self) -> None:
        self._framer = _Framer(
            start=HOST_START, length_of=_command_length, parse=_command_from_frame
        )

    @property
    def stats(self) -> DecoderStats:
        """A snapshot of the counts since the decoder was made."""
        return self._framer.stats

    @property
    def pending_bytes(self) -> int:
        """Bytes held for an incomplete command (always < ``MAX_COMMAND_BYTES``)."""
        return self._framer.pending_bytes

    def feed(self, data: bytes) -> list[HostCommand]:
        """Take a chunk of bytes; return the commands it completed. Never raises.

        Args:
            data: any chunk of the host's output.

        Returns:
            The valid commands completed by this chunk, in order.
        """
        return self._framer.feed(data)

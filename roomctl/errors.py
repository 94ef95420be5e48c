"""One exception taxonomy for roomctl; the class decides the retry policy.

Pure module. Adapters translate third-party exceptions into these at their edge
(``raise DeviceDisconnected(...) from exc``), so no serial, MQTT, libVLC or SQLite
exception type escapes an adapter.

| class | policy |
|---|---|
| ``ConfigError`` | fail fast at start-up, exit 2 |
| ``CaptureError`` | bad input file, exit 2 |
| ``FrameError`` | counted inside decoders, never raised by ``feed`` |
| ``DeviceTimeout`` | retry, then back off |
| ``DeviceDisconnected`` | the supervisor's reconnect loop |
| ``DeviceRejected`` | the device's own error: a technical status, no blind retry |
| ``OutputError`` | auxiliary fault domain: log, publish ``OutputFailed``, restart |
"""

from __future__ import annotations

import errno

#: Write failures a disk reports, as a nurse or an admin reads them.
_WRITE_ERRNO_WORDS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EIO: "the disk reports an input/output error",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


class RoomctlError(Exception):
    """Base of every error roomctl raises on purpose."""


class ConfigError(RoomctlError):
    """The configuration is invalid; nothing may start.

    Attributes:
        problems: one line per problem, each naming the file, line and key path.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class CaptureError(RoomctlError):
    """A capture file is malformed; the message names the line and the fault."""


class DeviceError(RoomctlError):
    """Something went wrong with a device or its link."""


class FrameError(DeviceError):
    """Bytes that are not a valid frame (one-shot parsers raise it, ``feed`` counts)."""


class ChecksumError(FrameError):
    """A frame whose checksum does not match."""


class UnknownFrameError(FrameError):
    """A well-formed frame of a kind the codec does not know."""


class DeviceTimeout(DeviceError):
    """The device did not answer within its deadline."""


class DeviceDisconnected(DeviceError):
    """The link to the device is closed or broken (cable pulled, port gone, EOF)."""


class DeviceRejected(DeviceError):
    """The device answered with its own error code.

    Attributes:
        code: the device's numeric code.
        meaning: the device's meaning in words.
    """

    def __init__(self, code: int, meaning: str) -> None:
        super().__init__(f"device error {code}: {meaning}")
        self.code = code
        self.meaning = meaning


class OutputError(RoomctlError):
    """An output (MQTT, music, lights, record) failed; alarms are not affected."""


class MqttUnavailable(OutputError):
    """The MQTT broker cannot be reached."""


class PlayerError(OutputError):
    """The music player failed."""


class LightingError(OutputError):
    """The lighting bridge failed."""


class RecordError(OutputError):
    """The session record could not be written."""


class ExportError(RoomctlError):
    """An export could not be made or delivered (bad target, HL7 receiver fault).

    The message says what to fix in words a clinic admin understands: the file
    suffix, the ``host:port``, or what the HL7 receiver answered.
    """


def write_error_in_words(exc: Exception) -> str:
    """Why a file or database write failed, in words (no jargon where it is known).

    >>> write_error_in_words(OSError(errno.ENOSPC, "No space left on device"))
    'the disk is full'
    >>> write_error_in_words(Exception("database or disk is full"))
    'the disk is full'
    >>> write_error_in_words(Exception("attempt to write a readonly database"))
    'the disk is read-only'
    """
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNO_WORDS:
        return _WRITE_ERRNO_WORDS[exc.errno]
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "full" in lowered:
        return "the disk is full"
    if "readonly" in lowered or "read-only" in lowered:
        return "the disk is read-only"
    return text

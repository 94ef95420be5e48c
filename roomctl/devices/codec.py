"""Pure helpers shared by the protocol codecs: checksums, statistics, the decoder port.

No I/O, no asyncio. Every streaming decoder follows the same contract:

- ``feed(data)`` takes any chunk of bytes and returns the frames it completed; it
  never raises on garbage: it slides one byte, resyncs and counts what it dropped;
- its buffer is bounded (``MAX_BUFFER_BYTES``): when a peer floods it with bytes that
  never form a frame, the oldest are dropped and counted;
- any chunking of the same bytes gives the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Upper bound on a decoder's buffer. The longest frame here (SunTech, 0x43 bytes) or
#: line (Masimo ASCII 1, about 200 characters) fits many times over.
MAX_BUFFER_BYTES = 4096

FrameT_co = TypeVar("FrameT_co", covariant=True)


@dataclass(slots=True)
class DecoderStats:
    """What a streaming decoder did with its bytes.

    Attributes:
        frames: valid frames decoded.
        bytes_in: bytes fed.
        dropped_bytes: bytes discarded while hunting for a frame boundary.
        checksum_errors: candidate frames whose checksum did not match.
        resyncs: times the decoder lost and regained the frame boundary.
    """

    frames: int = 0
    bytes_in: int = 0
    dropped_bytes: int = 0
    checksum_errors: int = 0
    resyncs: int = 0


class Decoder(Protocol[FrameT_co]):
    """A sans-I/O streaming decoder."""

    def feed(self, data: bytes) -> Sequence[FrameT_co]:
        """Take a chunk of bytes; return the frames it completed. Never raises."""
        ...

    @property
    def stats(self) -> DecoderStats:
        """Counts since the decoder was made."""
        ...


def sum8(data: bytes) -> int:
    """The 8-bit sum of ``data`` (Nonin DF2 checksum).

    >>> hex(sum8(bytes([0x01, 0x83, 0x7A, 0x00])))
    '0xfe'
    """
    return sum(data) & 0xFF


def zero_sum(data: bytes) -> int:
    """The byte that makes the 8-bit sum of ``data`` plus itself zero (SunTech).

    >>> hex(zero_sum(bytes([0x3A, 0x20])))
    '0xa6'
    """
    return (-sum(data)) & 0xFF


class ErrorRateWindow:
    """The share of frames that failed to parse over a sliding window of time.

    A failed frame is a checksum error or a lost frame boundary (resync); the share is
    ``failed / (failed + valid)`` over the last ``window_s`` seconds, reported at most
    once per ``report_every_s``. The alarm policy's link row uses it (parse errors
    above 20 % over 30 s make the link unhealthy).

    >>> window = ErrorRateWindow(window_s=30)
    >>> window.update(0.0, DecoderStats(frames=0))
    >>> window.update(1.0, DecoderStats(frames=75, checksum_errors=25))
    0.25
    """

    def __init__(self, *, window_s: float, report_every_s: float = 1.0) -> None:
        self._window_s = window_s
        self._report_every_s = report_every_s
        self._marks: list[tuple[float, int, int]] = []
        self._last_report = float("-inf")

    def update(self, now: float, stats: DecoderStats) -> float | None:
        """Note the counts at ``now``; the share when a report is due, else None."""
        failed = stats.checksum_errors + stats.resyncs
        self._marks.append((now, stats.frames, failed))
        while len(self._marks) > 1 and now - self._marks[1][0] >= self._window_s:
            del self._marks[0]
        if now - self._last_report < self._report_every_s or len(self._marks) < 2:
            return None
        self._last_report = now
        _, frames0, failed0 = self._marks[0]
        frames = stats.frames - frames0
        bad = failed - failed0
        return bad / (frames + bad) if frames + bad else 0.0

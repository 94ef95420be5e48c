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

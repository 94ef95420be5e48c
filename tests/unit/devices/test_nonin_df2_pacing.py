"""The Nonin driver's read pacing: when the next packet is due (issue 6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from roomctl.devices.nonin_df2.driver import (
    READ_HOLD_MAX_S,
    READ_MARGIN_S,
    NoninDf2Driver,
)
from roomctl.devices.nonin_df2.protocol import (
    FRAME_LEN_BYTES,
    NoninDf2Decoder,
    encode_packet,
)

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
WIRE = b"".join(
    encode_packet(hr_bpm=72, spo2_percent=97, pleth=[128] * 25) for _ in range(3)
)


def fed(frames: int) -> tuple[NoninDf2Driver, int]:
    """A driver given the first ``frames`` frames; and how many readings came out."""
    driver, decoder = NoninDf2Driver("ox"), NoninDf2Decoder()
    chunk = WIRE[: frames * FRAME_LEN_BYTES]
    out = sum(len(driver.on_frame(item, 1.0, AT)) for item in decoder.feed(chunk))
    return driver, out


@pytest.mark.parametrize(
    ("frames", "lacking", "readings"),
    [
        (0, 26, 0),  # nothing open: a SYNC frame, 24 more and the confirming one
        (8, 18, 0),
        (25, 1, 0),  # complete, held for the next packet's first frame
        (26, 25, 2),  # let out by it, which opened the next packet
        (49, 2, 2),
        (51, 25, 4),
    ],
)
def test_the_next_read_is_due_when_the_open_packet_can_come_out(
    frames: int, lacking: int, readings: int
) -> None:
    driver, out = fed(frames)
    assert out == readings
    assert driver.read_again_in_s() == pytest.approx(lacking / 75 + READ_MARGIN_S)
    assert driver.read_again_in_s() <= READ_HOLD_MAX_S


def test_a_dropped_link_starts_the_count_again() -> None:
    driver, _ = fed(10)
    assert driver.read_again_in_s() < READ_HOLD_MAX_S
    driver.on_link_lost()
    assert driver.read_again_in_s() == pytest.approx(READ_HOLD_MAX_S)

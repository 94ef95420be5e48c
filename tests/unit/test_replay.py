"""Replay's stale check: a device goes stale at the same record as the exact test says.

``Replayer`` looks at the devices' silence only from a little before the earliest
deadline on (issue 3: the check ran at every record). These tests put records a few
floating-point steps either side of a deadline, at times whose sums round, and check
that ``DeviceStale`` comes at the first record where ``now - last_valid_t >=
stale_after_s``, record by record and reading ahead alike, including after the device
came back (valid frames, or its link up again).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from roomctl.capture import BytesRecord, CaptureHeader, LinkRecord
from roomctl.devices.nonin_df2.driver import STALE_AFTER_S
from roomctl.devices.nonin_df2.protocol import encode_packet
from roomctl.events import DeviceConnected, DeviceStale
from roomctl.readings import LinkState, ProtocolId
from roomctl.replay import Replayer

if TYPE_CHECKING:
    from roomctl.capture import CaptureRecord
    from roomctl.events import Event

HEADER = CaptureHeader(
    room="room-1",
    started_at=datetime(2026, 11, 21, 9, tzinfo=UTC),
    devices={"oximeter": ProtocolId.NONIN_DF2, "nibp": ProtocolId.SUNTECH_ADVANTAGE},
)
#: A packet and the next one's SYNC frame: valid frames.
FRAMES = encode_packet(hr_bpm=72, spo2_percent=97, pleth=[128] * 25)


def _rx(t: float) -> BytesRecord:
    return BytesRecord(line=0, t=t, dev="oximeter", data=FRAMES, received=True)


def _marker(t: float) -> BytesRecord:
    """A record at ``t`` that brings the oximeter no frame (bytes sent to the NIBP)."""
    return BytesRecord(line=0, t=t, dev="nibp", data=b":", received=False)


def _around(deadline: float, steps: int = 3) -> list[float]:
    """Times a few floating-point steps either side of ``deadline``, in order."""
    below = [deadline]
    above = [deadline]
    for _ in range(steps):
        below.append(math.nextafter(below[-1], -math.inf))
        above.append(math.nextafter(above[-1], math.inf))
    return sorted({*below, *above})


def _first_stale(last: float, times: list[float]) -> float:
    """The exact test, record by record, as the live watchdog judges it."""
    return next(t for t in times if t - last >= STALE_AFTER_S)


def _events(records: list[CaptureRecord], *, many: bool) -> list[Event]:
    seen: list[Event] = []
    replayer = Replayer(HEADER, emit=None, on_event=seen.append)
    if many:
        replayer.apply_many(records)
    else:
        for record in records:
            replayer.apply(record)
    return [e for e in seen if isinstance(e, (DeviceStale, DeviceConnected))]


@pytest.mark.parametrize("many", [False, True])
@pytest.mark.parametrize("last", [0.1, 0.7, 1.3, 2_345.678, 12_345.9])
def test_a_device_goes_stale_at_the_first_record_past_its_deadline(
    last: float, *, many: bool
) -> None:
    times = _around(last + STALE_AFTER_S)
    records: list[CaptureRecord] = [_rx(last), *map(_marker, times)]
    # (From a ``last`` past 3 s, the device was stale once before its frames came.)
    [stale] = [
        e
        for e in _events(records, many=many)
        if isinstance(e, DeviceStale) and e.occurred_mono > last
    ]
    assert stale.device == "oximeter"
    assert stale.occurred_mono == _first_stale(last, times)


@pytest.mark.parametrize("many", [False, True])
def test_a_device_that_came_back_goes_stale_again_on_time(*, many: bool) -> None:
    # Stale at about 3.1; frames again at 10.2 (back up), silent again; the link
    # lost at 20.05 and up at 20.3, silent again.
    first = _around(0.1 + STALE_AFTER_S)
    second = _around(10.2 + STALE_AFTER_S)
    third = _around(20.3 + STALE_AFTER_S)
    records: list[CaptureRecord] = [
        _rx(0.1),
        *map(_marker, first),
        _rx(10.2),
        *map(_marker, second),
        LinkRecord(line=0, t=20.05, dev="oximeter", state=LinkState.LOST),
        LinkRecord(line=0, t=20.3, dev="oximeter", state=LinkState.UP),
        *map(_marker, third),
    ]
    events = _events(records, many=many)
    assert [(type(e), e.occurred_mono) for e in events] == [
        (DeviceStale, _first_stale(0.1, first)),
        (DeviceConnected, 10.2),
        (DeviceStale, _first_stale(10.2, second)),
        (DeviceConnected, 20.3),
        (DeviceStale, _first_stale(20.3, third)),
    ]

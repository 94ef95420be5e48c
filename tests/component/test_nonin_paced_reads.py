"""A Nonin on a real pty through the supervisor's own link: few wake-ups, bounded delay.

The Nonin streams 75 five-byte frames a second. After each read its driver says when
the next packet is due (``read_again_in_s``) and the supervisor holds the link until
then, so the pump wakes about once per packet (3 a second) instead of once per chunk
the port hands over, and each reading still reaches the pipeline about
``READ_MARGIN_S`` (plus scheduling) after the frame that let its packet out was
written (issue 6).
"""

from __future__ import annotations

import asyncio
import os
import tty
from typing import TYPE_CHECKING

import pytest

from roomctl.bus import EventBus
from roomctl.clock import SystemClock
from roomctl.devices.nonin_df2.driver import DRIVER_SPEC as NONIN
from roomctl.devices.nonin_df2.driver import READ_HOLD_MAX_S, READ_MARGIN_S
from roomctl.devices.nonin_df2.protocol import FRAME_LEN_BYTES, encode_packet
from roomctl.devices.supervisor import DeviceSupervisor
from roomctl.events import ReadingReceived
from roomctl.pipeline import ReadingPipeline
from roomctl.readings import Metric, Reading

if TYPE_CHECKING:
    from roomctl.bus import Subscription

pytestmark = pytest.mark.pty

PACKETS = 12  # 4 s of stream
FRAME_EVERY_S = 1 / 75
#: Scheduling slack on a shared 2-core machine.
SLACK_S = 0.1


class CountingSupervisor(DeviceSupervisor):
    """Counts the chunks the link hands over (one per wake-up of the pump)."""

    reads = 0

    def _handle_bytes(self, data: bytes) -> bool:
        self.reads += 1
        return super()._handle_bytes(data)


def packet(spo2: int) -> bytes:
    return encode_packet(hr_bpm=72, spo2_percent=spo2, pleth=[128] * 25)


async def write_packets(master: int) -> dict[int, float]:
    """Write PACKETS packets frame by frame at 75 frames/s.

    Returns, for each packet's SpO2, when the frame that lets it out was written: the
    next packet's first frame (the assembler holds a packet for it).
    """
    loop = asyncio.get_running_loop()
    wire = b"".join(packet(85 + k) for k in range(PACKETS)) + packet(50)[:5]
    let_out: dict[int, float] = {}
    start = loop.time()
    for n, offset in enumerate(range(0, len(wire), FRAME_LEN_BYTES)):
        await asyncio.sleep(max(0.0, start + n * FRAME_EVERY_S - loop.time()))
        os.write(master, wire[offset : offset + FRAME_LEN_BYTES])
        if n and n % 25 == 0:
            let_out[85 + n // 25 - 1] = loop.time()
    return let_out


def spo2_arrivals(subscription: Subscription) -> dict[int, float]:
    arrivals: dict[int, float] = {}
    while (event := subscription.get_nowait()) is not None:
        if (
            isinstance(event, ReadingReceived)
            and isinstance(event.reading, Reading)
            and event.reading.metric is Metric.SPO2_PERCENT
            and event.reading.value is not None
        ):
            arrivals[int(event.reading.value)] = event.reading.received_mono
    return arrivals


async def test_nonin_readings_arrive_once_per_packet_and_on_time() -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    bus = EventBus()
    subscription = bus.open(name="test", maxlen=10_000)
    supervisor = CountingSupervisor(
        name="oximeter",
        spec=NONIN,
        port=os.ttyname(slave),
        baud=NONIN.baud,
        pipeline=ReadingPipeline(bus=bus),
        clock=SystemClock(),
    )
    task = asyncio.create_task(supervisor.run())
    try:
        await asyncio.sleep(0.3)  # the link is open
        let_out = await write_packets(master)
        await asyncio.sleep(READ_HOLD_MAX_S + SLACK_S)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        os.close(slave)
        os.close(master)
    arrivals = spo2_arrivals(subscription)
    assert sorted(arrivals) == sorted(let_out)  # every packet became a reading
    delays = [arrivals[spo2] - let_out[spo2] for spo2 in let_out]
    assert min(delays) >= 0
    assert max(delays) <= READ_MARGIN_S + SLACK_S
    # About one wake-up per packet (a few more to find the rhythm); the port handed
    # over 301 frames, and an unheld pump reads every chunk of them.
    assert PACKETS <= supervisor.reads <= PACKETS + 6

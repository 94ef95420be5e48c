"""NibpController with the real SunTech driver and the simulated module."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from datetime import UTC, datetime

from roomctl.devices.suntech_nibp.driver import SuntechDriver, SuntechTimeouts
from roomctl.devices.suntech_nibp.protocol import SuntechDecoder
from roomctl.nibp import NibpController
from roomctl.readings import NibpReading, ReadingStatus
from simulators.scenarios import TYPICAL, NibpError
from simulators.suntech_nibp import SuntechModel
from simulators.transport import MemoryLink


async def test_controller_retries_a_failed_determination_soon_not_next_cycle() -> None:
    # The first determination ends with error 87 (loose cuff); the retry succeeds.
    scenario = dataclasses.replace(
        TYPICAL,
        nibp_inflate_s=0.4,
        nibp_errors=(NibpError(start_s=0.0, end_s=0.9, code=87),),
    )
    link = MemoryLink(SuntechModel(scenario, seed=1))
    driver = SuntechDriver(
        "nibp", timeouts=SuntechTimeouts(poll_interval_s=0.05, command_gap_s=0.01)
    )
    driver.on_link_up(link)
    decoder = SuntechDecoder()
    results: list[NibpReading] = []
    two_results = asyncio.Event()

    async def pump() -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await link.read()
            for frame in decoder.feed(data):
                readings = driver.on_frame(frame, loop.time(), datetime.now(UTC))
                results.extend(r for r in readings if isinstance(r, NibpReading))
                if len(results) >= 2:
                    two_results.set()

    controller = NibpController(
        device="nibp",
        driver=driver,
        cycle_s=lambda: None,  # on demand: only the request and the retry start one
        link_up=lambda: True,
        retry_after_failure_s=0.5,
    )
    async with asyncio.TaskGroup() as tg:
        pumping = tg.create_task(pump())
        running = tg.create_task(controller.run())
        controller.request_now()
        async with asyncio.timeout(10):
            await two_results.wait()
        pumping.cancel()
        running.cancel()
    assert results[0].status is ReadingStatus.DEVICE_ERROR
    assert results[0].error_code == 87
    assert results[1].status is ReadingStatus.OK
    assert (controller.started, controller.failed) == (2, 1)


async def test_controller_keeps_the_cycle_in_session_time_on_a_faster_clock() -> None:
    # The daemon's clock may run faster than real time (the demo's --speed, the fault
    # suites): a 5-minute cycle is 5 minutes of that clock, not of the event loop.
    loop = asyncio.get_running_loop()
    origin = loop.time()
    speed = 300.0  # 5 session minutes a real second

    class Driver:
        def __init__(self) -> None:
            self.starts: list[float] = []

        async def measure(self) -> NibpReading:
            self.starts.append(session())
            return NibpReading(
                device="nibp",
                systolic_mmhg=120,
                diastolic_mmhg=80,
                map_mmhg=93,
                pulse_rate_bpm=70,
                status=ReadingStatus.OK,
                received_mono=session(),
                received_at=datetime.now(UTC),
            )

    def session() -> float:
        return (loop.time() - origin) * speed

    driver = Driver()
    controller = NibpController(
        device="nibp",
        driver=driver,
        cycle_s=lambda: 300.0,
        link_up=lambda: True,
        clock=session,
    )
    running = asyncio.create_task(controller.run())
    await asyncio.sleep(3.6)  # POLL_S is 1 real second: about 3 looks
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    # The first after FIRST_MEASUREMENT_DELAY_S of session time, then one a cycle:
    # on the loop's own time it would have measured once at most.
    assert len(driver.starts) >= 2
    gaps = [b - a for a, b in itertools.pairwise(driver.starts)]
    assert all(gap >= 300.0 for gap in gaps), gaps

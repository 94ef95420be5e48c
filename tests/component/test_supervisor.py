"""DeviceSupervisor with real codecs and simulator models over fault-injecting links."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from roomctl.bus import EventBus
from roomctl.clock import SystemClock
from roomctl.devices.masimo_ascii1.driver import DRIVER_SPEC as MASIMO
from roomctl.devices.nonin_df2.driver import DRIVER_SPEC as NONIN
from roomctl.devices.supervisor import DeviceSupervisor
from roomctl.errors import DeviceDisconnected
from roomctl.events import (
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    Event,
    ReadingReceived,
)
from roomctl.pipeline import ReadingPipeline
from roomctl.readings import LinkState, Metric, Reading, ReadingStatus
from simulators.faults import Faults
from simulators.masimo_ascii1 import MasimoAscii1Model
from simulators.nonin_df2 import NoninDf2Model
from simulators.scenarios import TYPICAL
from simulators.transport import MemoryLink

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from roomctl.devices.base import ByteLink, DriverSpec
    from simulators.model import DeviceModel


class Plug:
    """Opens memory links to a model; the cable can be pulled and pushed back."""

    def __init__(
        self, make_model: Callable[[], DeviceModel], faults: Faults | None = None
    ) -> None:
        self._make_model = make_model
        self._faults = faults
        self.plugged = True
        self.link: MemoryLink | None = None
        self.opens = 0

    async def __call__(
        self, port: str, baud: int, on_write: Callable[[bytes], None] | None
    ) -> ByteLink:
        del port, baud, on_write
        if not self.plugged:
            raise DeviceDisconnected("memory: no such port (is the cable plugged in?)")
        self.opens += 1
        self.link = MemoryLink(self._make_model(), faults=self._faults)
        return self.link

    async def pull(self) -> None:
        self.plugged = False
        if self.link is not None:
            await self.link.aclose()


class Harness:
    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._sub = bus.open(name="test", maxlen=100_000)

    def collect(self) -> list[Event]:
        while (event := self._sub.get_nowait()) is not None:
            self.events.append(event)
        return self.events

    def readings(self, status: ReadingStatus | None = None) -> list[Reading]:
        return [
            e.reading
            for e in self.collect()
            if isinstance(e, ReadingReceived)
            and isinstance(e.reading, Reading)
            and (status is None or e.reading.status is status)
        ]

    def links(self) -> list[str]:
        names = {DeviceConnected: "up", DeviceLost: "lost", DeviceStale: "stale"}
        return [names[type(e)] for e in self.collect() if type(e) in names]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not predicate():
            if loop.time() - start > timeout:
                raise AssertionError(f"timed out; links={self.links()}")
            await asyncio.sleep(0.02)
        return loop.time() - start


@contextlib.asynccontextmanager
async def running(
    spec: DriverSpec,
    plug: Plug,
    *,
    stale_after_s: float | None = None,
    reopen_after_s: float = 10.0,
) -> AsyncIterator[tuple[DeviceSupervisor, Harness]]:
    bus = EventBus()
    harness = Harness(bus)
    supervisor = DeviceSupervisor(
        name="oximeter",
        spec=spec,
        port="memory",
        baud=9600,
        pipeline=ReadingPipeline(bus=bus),
        clock=SystemClock(),
        opener=plug,
        stale_after_s=stale_after_s,
        reopen_after_s=reopen_after_s,
    )
    task = asyncio.create_task(supervisor.run())
    try:
        yield supervisor, harness
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_supervisor_delivers_nonin_readings() -> None:
    plug = Plug(lambda: NoninDf2Model(TYPICAL, seed=1))
    async with running(NONIN, plug) as (supervisor, harness):
        await harness.wait_for(lambda: len(harness.readings()) >= 6, timeout=3)
    readings = harness.readings()
    assert {r.metric for r in readings} == {Metric.SPO2_PERCENT, Metric.PULSE_RATE_BPM}
    assert all(r.status is ReadingStatus.OK for r in readings)
    spo2 = [r.value for r in readings if r.metric is Metric.SPO2_PERCENT]
    assert all(v is not None and 96 <= v <= 100 for v in spo2)
    assert harness.links() == ["up"]
    assert supervisor.state is LinkState.UP


async def test_supervisor_survives_unplug_and_resumes_within_2_s() -> None:
    plug = Plug(lambda: MasimoAscii1Model(TYPICAL, seed=2))
    async with running(MASIMO, plug) as (_, harness):
        await harness.wait_for(lambda: len(harness.readings()) >= 3, timeout=3)
        for _ in range(3):
            await plug.pull()
            await harness.wait_for(lambda: harness.links()[-1] == "lost", timeout=2)
            await asyncio.sleep(0.3)  # the cable stays out a while
            plug.plugged = True
            before = len(harness.readings())

            def resumed(n: int = before) -> bool:
                return len(harness.readings()) > n

            took = await harness.wait_for(resumed, timeout=3)
            assert took < 2.0
    assert harness.links() == ["up", "lost", "up", "lost", "up", "lost", "up"]
    assert plug.opens == 4


async def test_supervisor_reports_a_missing_port_once_while_retrying() -> None:
    plug = Plug(lambda: NoninDf2Model(TYPICAL))
    plug.plugged = False
    async with running(NONIN, plug) as (_, harness):
        await asyncio.sleep(1.5)  # several retries with a 1 s backoff cap
        assert harness.links() == ["lost"]
        plug.plugged = True
        await harness.wait_for(lambda: len(harness.readings()) >= 2, timeout=2.5)
    assert harness.links() == ["lost", "up"]


async def test_supervisor_watchdog_marks_a_silent_device_stale_then_reopens() -> None:
    faults = Faults(silences=[(0.5, 3.0)])
    plug = Plug(lambda: NoninDf2Model(TYPICAL), faults=faults)
    async with running(NONIN, plug, stale_after_s=0.4, reopen_after_s=1.0) as (
        _,
        harness,
    ):
        await harness.wait_for(lambda: "stale" in harness.links(), timeout=2)
        await harness.wait_for(lambda: "lost" in harness.links(), timeout=2)
        # A fresh link restarts the model's clock at 0: data flows again.
        await harness.wait_for(lambda: harness.links()[-1] == "up", timeout=2)
    links = harness.links()
    assert links[:4] == ["up", "stale", "lost", "up"]


async def test_supervisor_keeps_going_through_line_noise() -> None:
    faults = Faults(
        seed=7, corrupt_p=0.0005, garbage_p=0.0005, drop_p=0.0005, split_max=3
    )
    plug = Plug(lambda: NoninDf2Model(TYPICAL, seed=3), faults=faults)
    async with running(NONIN, plug) as (supervisor, harness):
        await harness.wait_for(lambda: len(harness.readings()) >= 20, timeout=15)
        await harness.wait_for(lambda: supervisor.stats.dropped_bytes > 0, timeout=15)
    stats = supervisor.stats
    assert stats.dropped_bytes > 0
    assert stats.frames >= 10 * 25  # 10 packets made the 20 readings
    # Whatever got through the noise is a plausible reading, never a corrupted number.
    for reading in harness.readings(ReadingStatus.OK):
        assert reading.value is not None
        if reading.metric is Metric.SPO2_PERCENT:
            assert 95 <= reading.value <= 100
        else:
            assert 60 <= reading.value <= 90
    assert harness.links() == ["up"]

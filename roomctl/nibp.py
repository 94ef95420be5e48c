"""NibpController: starts NIBP determinations on a cycle and on request.

Where the monitor's protocol can start a measurement (SunTech), roomctl sends the
command itself (alarm-policy.md, "NIBP cycle"). The cycle length comes from
``cycle_s()``, so the alarm engine's schedule (phase, active BP rules, STAT repeats)
can drive it; a nurse's ``nibp_start`` calls ``request_now``. A failed determination
is logged and retried on the next cycle; it never stops the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from roomctl.errors import DeviceError

if TYPE_CHECKING:
    from collections.abc import Callable

    from roomctl.readings import NibpReading

_LOGGER = logging.getLogger(__name__)

#: After the link comes up, wait this long before the first determination.
FIRST_MEASUREMENT_DELAY_S = 2.0


class MeasuringDriver(Protocol):
    """A driver that can run one determination."""

    async def measure(self) -> NibpReading:
        """Run one determination and return its reading."""
        ...


class NibpController:
    """Runs determinations every ``cycle_s()`` seconds, or at once on request."""

    def __init__(
        self,
        *,
        device: str,
        driver: MeasuringDriver,
        cycle_s: Callable[[], float | None],
        link_up: Callable[[], bool],
    ) -> None:
        self.device = device
        self._driver = driver
        self._cycle_s = cycle_s
        self._link_up = link_up
        self._wake = asyncio.Event()
        #: Determinations started, and those that failed.
        self.started = 0
        self.failed = 0

    def request_now(self) -> None:
        """Start a determination as soon as possible (nurse's "start now", STAT)."""
        self._wake.set()

    async def _wait_for_turn(self, *, first: bool) -> None:
        cycle = FIRST_MEASUREMENT_DELAY_S if first else self._cycle_s()
        try:
            async with asyncio.timeout(cycle):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def run(self) -> None:
        """Measure on the cycle until cancelled."""
        first = True
        while True:
            await self._wait_for_turn(first=first)
            if not self._link_up():
                first = True
                await asyncio.sleep(FIRST_MEASUREMENT_DELAY_S)
                continue
            first = False
            self.started += 1
            try:
                reading = await self._driver.measure()
            except DeviceError as exc:
                self.failed += 1
                _LOGGER.warning("NIBP %s: determination failed: %s", self.device, exc)
                continue
            _LOGGER.debug(
                "NIBP %s: determination done (%s)", self.device, reading.status
            )

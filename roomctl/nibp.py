"""NibpController: starts NIBP determinations on a cycle and on request.

Where the monitor's protocol can start a measurement (SunTech), roomctl sends the
command itself (alarm-policy.md, "NIBP cycle"). The cycle length comes from
``cycle_s()``: the alarm engine's schedule (phase, active BP rules), where ``None``
means "on demand"; a nurse's ``nibp_start`` and the engine's STAT repeats call
``request_now``. A failed determination
is logged and retried on the next cycle; it never stops the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from roomctl.errors import DeviceError
from roomctl.readings import ReadingStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from roomctl.readings import NibpReading

_LOGGER = logging.getLogger(__name__)

#: After the link comes up, wait this long before the first determination.
FIRST_MEASUREMENT_DELAY_S = 2.0
#: How often the controller looks at the cycle in force (it follows the phase).
POLL_S = 1.0
#: A failed or errored determination is retried after this long rather than on the
#: next cycle (monitors auto-retry about a minute later; waiting a whole cycle would
#: leave the patient without a blood pressure and raise "BP overdue").
RETRY_AFTER_FAILURE_S = 60.0


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
        retry_after_failure_s: float = RETRY_AFTER_FAILURE_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        #: Monotonic seconds of the session (the daemon's clock, which a demo or a
        #: test may run faster than real time); the event loop's time by default.
        self._clock = clock
        self._retry_after_s = retry_after_failure_s
        self.device = device
        self._driver = driver
        self._cycle_s = cycle_s
        self._link_up = link_up
        self._wake = asyncio.Event()
        self._pending = False
        self._retry_at: float | None = None
        self._up_since: float | None = None
        self._last_start: float | None = None
        self._continue_ago_s: float | None = None
        #: Determinations started, and those that failed.
        self.started = 0
        self.failed = 0

    def continue_schedule(self, last_start_ago_s: float) -> None:
        """A resumed session: its last determination began this many seconds ago.

        The cycle goes on from there instead of starting a determination as soon as
        the link is up (call before ``run``).
        """
        self._continue_ago_s = last_start_ago_s

    def request_now(self) -> None:
        """Start a determination as soon as possible (nurse's "start now", STAT)."""
        self._wake.set()

    def _due(self, now: float, *, requested: bool) -> bool:
        if requested or self._pending:
            return True
        if self._retry_at is not None and now >= self._retry_at:
            return True
        cycle = self._cycle_s()
        if cycle is None or self._up_since is None:
            return False
        if self._last_start is None:
            return now - self._up_since >= FIRST_MEASUREMENT_DELAY_S
        return now - self._last_start >= cycle

    async def run(self) -> None:
        """Measure on the cycle and on request until cancelled."""
        clock = self._clock or asyncio.get_running_loop().time
        if self._continue_ago_s is not None:
            self._last_start = clock() - self._continue_ago_s
            self._continue_ago_s = None
        while True:
            try:
                # Wake at least every POLL_S: the cycle changes with the phase.
                async with asyncio.timeout(POLL_S):
                    await self._wake.wait()
                requested = True
            except TimeoutError:
                requested = False
            self._wake.clear()
            now = clock()
            if not self._link_up():
                self._up_since = None
                self._pending = self._pending or requested
                continue
            if self._up_since is None:
                self._up_since = now
            if not self._due(now, requested=requested):
                continue
            self._pending = False
            self._retry_at = None
            self._last_start = now
            self.started += 1
            try:
                reading = await self._driver.measure()
            except DeviceError as exc:
                self.failed += 1
                self._retry_at = clock() + self._retry_after_s
                _LOGGER.warning("NIBP %s: determination failed: %s", self.device, exc)
                continue
            if reading.status is not ReadingStatus.OK:
                self.failed += 1
                self._retry_at = clock() + self._retry_after_s
                _LOGGER.info(
                    "NIBP %s: %s; retrying in %g s",
                    self.device,
                    reading.error_text or reading.status,
                    self._retry_after_s,
                )
                continue
            _LOGGER.debug("NIBP %s: determination done", self.device)

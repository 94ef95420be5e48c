"""Time sources: a ``Clock`` protocol, the system clock, a virtual and a scaled clock.

Pure module. Logic takes time as an argument (monotonic seconds, ``*_mono``); records
carry aware UTC datetimes (``*_at``). Components that need "now" are given a ``Clock``,
so tests and ``roomctl replay`` can run them in virtual time, and soak runs in
compressed time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable


class Clock(Protocol):
    """Where components read the time."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (never goes back)."""
        ...

    def now_utc(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clocks."""

    def monotonic(self) -> float:
        """Return ``time.monotonic()``."""
        return time.monotonic()

    def now_utc(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to (tests and replay).

    >>> from datetime import datetime, UTC
    >>> clock = VirtualClock(start_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    >>> clock.advance(90.5)
    >>> clock.monotonic(), clock.now_utc().isoformat()
    (90.5, '2026-11-21T09:01:30.500000+00:00')
    """

    def __init__(self, *, start_at: datetime, start_mono: float = 0.0) -> None:
        if start_at.tzinfo is None:
            raise ValueError("start_at must be timezone-aware")
        self._start_at = start_at
        self._start_mono = start_mono
        self._mono = start_mono

    def monotonic(self) -> float:
        """Return the virtual monotonic time."""
        return self._mono

    def now_utc(self) -> datetime:
        """Return the virtual UTC time."""
        return self._start_at + timedelta(seconds=self._mono - self._start_mono)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never back)."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._mono += seconds

    def set(self, mono: float) -> None:
        """Move the clock forward to ``mono``; earlier times are ignored."""
        self._mono = max(self._mono, mono)


class ScaledClock:
    """Session time that runs ``speed`` times faster than the machine's (soak runs).

    Compressed runs (``bench/soak.py``, some fault tests) play hours of a session in
    minutes: the simulators compress scenario time by a speed factor, and the daemon
    reads its time from this clock, so an alarm delay of 30 s takes 30 / ``speed``
    seconds of real time and every event and record carries session time. Only what
    reads the injected ``Clock`` is compressed; timers that wait on the event loop
    (``asyncio.sleep``, ``asyncio.timeout``: I/O deadlines, flush and publish
    intervals) keep real seconds, and the caller decides which of them to shorten.

    ``monotonic()`` is ``start_mono + (source() - origin) * speed``; with the same
    ``origin`` (a ``time.monotonic()`` value, which every process on the machine
    shares) and ``speed``, a simulator's scenario time and the daemon's session time
    are the same number.

    >>> from datetime import datetime, UTC
    >>> real = iter([100.0, 100.0, 101.5, 101.5]).__next__
    >>> clock = ScaledClock(
    ...     speed=60.0,
    ...     start_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
    ...     origin=100.0,
    ...     source=real,
    ... )
    >>> clock.monotonic(), clock.now_utc().isoformat()
    (0.0, '2026-11-21T09:00:00+00:00')
    >>> clock.monotonic(), clock.now_utc().isoformat()
    (90.0, '2026-11-21T09:01:30+00:00')
    >>> clock.real_s(90.0), clock.real_mono(90.0)
    (1.5, 101.5)
    """

    def __init__(
        self,
        *,
        speed: float,
        start_at: datetime,
        origin: float | None = None,
        start_mono: float = 0.0,
        source: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start_at.tzinfo is None:
            raise ValueError("start_at must be timezone-aware")
        self.speed = speed
        self._source = source
        self._origin = source() if origin is None else origin
        self._start_at = start_at
        self._start_mono = start_mono

    def monotonic(self) -> float:
        """Session seconds: ``speed`` times the real seconds since ``origin``."""
        return self._start_mono + (self._source() - self._origin) * self.speed

    def now_utc(self) -> datetime:
        """``start_at`` plus the session seconds elapsed."""
        return self._start_at + timedelta(seconds=self.monotonic() - self._start_mono)

    def real_s(self, session_s: float) -> float:
        """How many real seconds ``session_s`` of session time take."""
        return session_s / self.speed

    def real_mono(self, mono: float) -> float:
        """The machine's ``time.monotonic()`` at which this clock reads ``mono``."""
        return self._origin + (mono - self._start_mono) / self.speed

"""Time sources: a ``Clock`` protocol, the system clock and a virtual clock.

Pure module. Logic takes time as an argument (monotonic seconds, ``*_mono``); records
carry aware UTC datetimes (``*_at``). Components that need "now" are given a ``Clock``,
so tests and ``roomctl replay`` can run them in virtual time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


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

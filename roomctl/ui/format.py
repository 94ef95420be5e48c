"""How the console writes numbers, times and durations for people.

Pure module. Every function takes plain values and returns text; none reads a clock.

>>> countdown(118.4), age(42), age(3700), offset(730), offset(-5)
('1:58', '42 s', '1 h 01 min', '+12:10', '-0:05')
>>> number(98.0), number(83.46), number(None)
('98', '83.5', '--')
"""

from __future__ import annotations

from datetime import datetime, tzinfo

#: What stands where a value is missing or not live: never a number.
NO_VALUE = "--"


def number(value: float | str | None, *, digits: int = 1) -> str:
    """A value as people write it: whole numbers without decimals, ``--`` for none."""
    if value is None:
        return NO_VALUE
    if isinstance(value, str):
        return value
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}f}"


def countdown(seconds: float) -> str:
    """``m:ss`` for a countdown (rounded down, never negative)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def age(seconds: float | None) -> str:
    """How old something is: ``42 s``, ``12 min``, ``1 h 05 min``."""
    if seconds is None:
        return "?"
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def offset(seconds: float) -> str:
    """Time from dose start: ``+12:10`` (minutes and seconds), ``+1:05:10`` past 1 h."""
    sign = "-" if seconds < 0 else "+"
    whole = int(abs(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


def parse_time(text: object) -> datetime | None:
    """An aware ISO-8601 time from a payload (``...Z`` too); ``None`` if not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def clock_time(at: datetime | None, tz: tzinfo | None) -> str:
    """``HH:MM:SS`` in ``tz`` (``None``: the machine's zone); ``--:--:--`` if unknown.

    >>> from datetime import UTC
    >>> clock_time(parse_time("2026-11-21T09:19:20Z"), UTC)
    '09:19:20'
    """
    if at is None:
        return "--:--:--"
    return at.astimezone(tz).strftime("%H:%M:%S")

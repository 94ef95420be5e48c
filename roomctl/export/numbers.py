"""Number and time formatting shared by the CSV and HL7 exports.

Pure module.

>>> format_number(97.0), format_number(1.25), format_number(100.0), format_number(-0.5)
('97', '1.25', '100', '-0.5')
>>> utc_iso(1795251600.25)
'2026-11-21T09:00:00.250Z'
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal


def format_number(value: float) -> str:
    """``value`` as a plain decimal: no exponent, no trailing zeros.

    HL7 NM allows only an optional sign, digits and one decimal point, so ``1e-05``
    style output is never produced. ``repr`` keeps the shortest exact form of the
    float, so nothing the device sent is rounded away.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def utc_datetime(ts: float) -> datetime:
    """Epoch seconds as an aware UTC datetime, rounded to the millisecond."""
    millis = round(ts * 1000)
    seconds, millis = divmod(millis, 1000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)


def utc_iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds and a ``Z``."""
    text = utc_datetime(ts).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")

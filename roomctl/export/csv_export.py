"""CSV export of one session: every reading and every event, in time order.

Pure module (rows out; the caller writes the file).

Layout: one file, one row per reading or event, readings and events merged by time
(a reading before an event at the same instant). UTF-8 without a byte-order mark,
RFC 4180 quoting (the ``csv`` module; CRLF line ends), a header row. Columns:

- ``time_utc``: ISO 8601 UTC with milliseconds and ``Z``;
- ``t_from_dose_s``: seconds from dose start (negative before it; empty when the
  session has no dose start);
- ``kind``: ``reading`` or ``event``;
- ``device``: the device name (``oximeter``, ``nibp``); for an event, the device it
  concerns, if any;
- ``name``: a reading's metric with its unit (``spo2_percent``), or the event type
  (``alarm``, ``phase``, ``link``, ``note``, ``command`` ...);
- ``value``: a reading's number, empty when its status is not ``ok``; an alarm's
  value (``184/112``);
- ``status``: a reading's status (``ok``, ``sensor_off``, ``searching`` ...); an
  alarm's or episode's transition, a link's state (``up``, ``lost``, ``stale``), the
  phase entered, a command outcome (``done``, ``refused``), a NIBP event's status;
- ``code``: an alarm code or command verb;
- ``priority``: an alarm's priority;
- ``by``: who gave the input (``nurse``, ``therapist``, ``system``);
- ``text``: the words (alarm or note text, why a link was lost, an error);
- ``details``: the whole recorded event as JSON.

A NIBP determination appears as four ``reading`` rows and one ``reading`` event (the
event keeps the device's error code and words). Text cells that a spreadsheet would
run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) get a leading
``'``; numbers are never changed.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from roomctl.export.numbers import format_number, utc_iso

if TYPE_CHECKING:
    from collections.abc import Iterator

    from roomctl.history import RecordedEvent, RecordedReading, SessionHistory

#: The header row.
COLUMNS = (
    "time_utc",
    "t_from_dose_s",
    "kind",
    "device",
    "name",
    "value",
    "status",
    "code",
    "priority",
    "by",
    "text",
    "details",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """``text`` made inert for spreadsheets (OWASP "CSV injection").

    >>> safe_text("=HYPERLINK(1)"), safe_text("calm")
    ("'=HYPERLINK(1)", 'calm')
    """
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return format_number(value)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _nested(payload: dict[str, object], key: str) -> dict[str, object]:
    value = payload.get(key)
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return {}


def _status(event: RecordedEvent) -> str:
    payload = event.payload
    match event.type:
        case "alarm" | "episode":
            return _str(payload.get("transition"))
        case "link":
            # The recorded payload names no state; each link event has its own field.
            if "reason" in payload:
                return "lost"
            return "stale" if "silent_s" in payload else "up"
        case "phase":
            return _str(payload.get("phase"))
        case "command_result":
            return "done" if payload.get("ok") is True else "refused"
        case "reading":
            return _str(_nested(payload, "reading").get("status"))
        case _:
            return ""


def _text(event: RecordedEvent) -> str:
    payload = event.payload
    for key in ("text", "reason", "error", "title"):
        words = _str(payload.get(key))
        if words:
            return words
    return _str(_nested(payload, "reading").get("error_text"))


def _event_value(payload: dict[str, object]) -> str:
    value = payload.get("value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(float(value))
    return safe_text(_str(value))


def _event_row(event: RecordedEvent, dose_ts: float | None) -> list[str]:
    payload = event.payload
    device = _str(payload.get("device")) or _str(
        _nested(payload, "reading").get("device")
    )
    details = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return [
        utc_iso(event.ts),
        "" if dose_ts is None else _number(round(event.ts - dose_ts, 3)),
        "event",
        safe_text(device),
        safe_text(event.type),
        _event_value(payload),
        safe_text(_status(event)),
        safe_text(event.code or ""),
        safe_text(_str(payload.get("priority"))),
        safe_text(event.by_role or ""),
        safe_text(_text(event)),
        details,
    ]


def _reading_row(reading: RecordedReading, dose_ts: float | None) -> list[str]:
    return [
        utc_iso(reading.ts),
        "" if dose_ts is None else _number(round(reading.ts - dose_ts, 3)),
        "reading",
        safe_text(reading.device),
        safe_text(reading.metric),
        _number(reading.value) if reading.status == "ok" else "",
        safe_text(reading.status),
        "",
        "",
        "",
        "",
        "",
    ]


def csv_rows(history: SessionHistory) -> Iterator[list[str]]:
    """The data rows (no header), readings and events merged in time order."""
    dose_ts = history.dose_start_ts
    readings, events = history.readings, history.events
    i = j = 0
    while i < len(readings) or j < len(events):
        if j >= len(events) or (i < len(readings) and readings[i].ts <= events[j].ts):
            yield _reading_row(readings[i], dose_ts)
            i += 1
        else:
            yield _event_row(events[j], dose_ts)
            j += 1

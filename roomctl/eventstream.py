"""The event stream of contracts.md §3: events as JSON-ready dicts.

Pure module. One function per direction of use: ``to_wire`` gives the lines replay
prints and MQTT carries (with ``t``, seconds since the session's start); ``to_payload``
gives a complete, lossless dict of any event for the session record.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, assert_never

from roomctl.events import (
    AlarmChanged,
    Command,
    CommandHandled,
    DeviceConnected,
    DeviceLost,
    DeviceStale,
    EpisodeChanged,
    MusicPlayed,
    NoteAdded,
    OutputFailed,
    PhaseChanged,
    ReadingReceived,
    SessionOpened,
    StateSnapshot,
    TechnicalNotice,
)
from roomctl.readings import LinkState, NibpReading, Reading

if TYPE_CHECKING:
    from roomctl.events import Event

#: The ``type`` field of each event class.
type_name: dict[type[object], str] = {
    ReadingReceived: "reading",
    DeviceConnected: "link",
    DeviceLost: "link",
    DeviceStale: "link",
    AlarmChanged: "alarm",
    EpisodeChanged: "episode",
    PhaseChanged: "phase",
    SessionOpened: "session",
    NoteAdded: "note",
    MusicPlayed: "music",
    StateSnapshot: "state",
    OutputFailed: "output_failed",
    TechnicalNotice: "notice",
    Command: "command",
    CommandHandled: "command_result",
}


def event_type(event: Event) -> str:
    """The ``type`` of an event on the wire."""
    return type_name[type(event)]


def plain(value: object) -> object:
    """Turn enums, datetimes, mappings, sequences and dataclasses into JSON values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    return value


def to_payload(event: Event) -> dict[str, object]:
    """Every field of ``event`` as JSON values, plus its ``type``."""
    payload = {f.name: plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    payload["type"] = event_type(event)
    return payload


def _round_t(seconds: float) -> float:
    return round(seconds, 3)


def _reading_line(reading: Reading, t: float) -> dict[str, object]:
    return {
        "t": t,
        "type": "reading",
        "dev": reading.device,
        "metric": reading.metric.value,
        "value": reading.value,
        "status": reading.status.value,
    }


def to_wire(event: Event, *, t: float) -> list[dict[str, object]]:
    """The contracts.md §3 lines for one event (a NIBP reading gives one per metric).

    ``t`` is the event's time in seconds since the capture or session start.
    """
    t = _round_t(t)
    match event:
        case ReadingReceived():
            reading = event.reading
            if isinstance(reading, NibpReading):
                return [_reading_line(r, t) for r in reading.as_readings()]
            return [_reading_line(reading, t)]
        case DeviceConnected():
            return [_link(event.device, LinkState.UP, t)]
        case DeviceLost():
            return [{**_link(event.device, LinkState.LOST, t), "reason": event.reason}]
        case DeviceStale():
            return [_link(event.device, LinkState.STALE, t)]
        case AlarmChanged():
            return [_alarm_line(event, t)]
        case EpisodeChanged():
            return [
                {
                    "t": t,
                    "type": "episode",
                    "transition": event.transition.value,
                    "signal": event.signal.value,
                    "episode_id": event.episode_id,
                    "baseline": plain(event.baseline),
                    "peak": plain(event.peak),
                    "peak_t": event.peak_t,
                    "text": event.text,
                }
            ]
        case PhaseChanged():
            return [
                {
                    "t": t,
                    "type": "phase",
                    "phase": event.phase.value,
                    "by": event.by.value,
                }
            ]
        case (
            SessionOpened()
            | NoteAdded()
            | MusicPlayed()
            | StateSnapshot()
            | OutputFailed()
            | TechnicalNotice()
            | Command()
            | CommandHandled()
        ):
            payload = to_payload(event)
            del payload["occurred_mono"], payload["occurred_at"]
            return [{"t": t, **payload}]
        case _:
            assert_never(event)


def _alarm_line(event: AlarmChanged, t: float) -> dict[str, object]:
    line: dict[str, object] = {
        "t": t,
        "type": "alarm",
        "transition": event.transition.value,
        "code": event.code,
        "priority": event.priority.value,
        "kind": event.kind.value,
    }
    optional = {
        "value": event.value,
        "limit": event.limit,
        "text": event.text or None,
        "by": None if event.by is None else event.by.value,
    }
    line.update({k: v for k, v in optional.items() if v is not None})
    return line


def link_state(event: DeviceConnected | DeviceLost | DeviceStale) -> LinkState:
    """The link state a link event reports."""
    if isinstance(event, DeviceConnected):
        return LinkState.UP
    if isinstance(event, DeviceLost):
        return LinkState.LOST
    return LinkState.STALE


def _link(device: str, state: LinkState, t: float) -> dict[str, object]:
    return {"t": t, "type": "link", "dev": device, "state": state.value}

"""Reading finished (or running) sessions back from the session record.

The one read-side view of the record for the report, the exports, ``roomctl sessions``
and retention. The daemon's writer is ``roomctl.recorder``; this module only reads
(the connection is opened read-only, so a report can run beside a live daemon).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from roomctl.errors import RecordError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One row of the ``sessions`` table."""

    id: str
    room: str
    started_at: datetime
    ended_at: datetime | None
    route: str
    infusion_min: float
    readings: int
    events: int
    #: Alarms raised (``alarm`` events with the ``raised`` transition).
    alarms: int = 0
    #: Time of the session's last reading or event (epoch seconds); ``None``: no rows.
    last_ts: float | None = None

    @property
    def last_activity(self) -> datetime:
        """When the session last wrote anything (its start when it wrote nothing)."""
        if self.last_ts is None:
            return self.started_at
        return datetime.fromtimestamp(self.last_ts, tz=UTC)


@dataclass(frozen=True, slots=True)
class RecordedReading:
    """One recorded reading (a NIBP measurement is one row per metric)."""

    ts: float
    device: str
    metric: str
    value: float | None
    status: str


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One recorded event: its contracts.md type, code, role and whole payload."""

    ts: float
    type: str
    code: str | None
    by_role: str | None
    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class SessionHistory:
    """Everything the record holds for one session, in time order."""

    info: SessionInfo
    readings: tuple[RecordedReading, ...]
    events: tuple[RecordedEvent, ...]

    def events_of(self, *types: str) -> list[RecordedEvent]:
        """The events whose ``type`` is one of ``types``, in time order."""
        return [e for e in self.events if e.type in types]

    @property
    def dose_start_ts(self) -> float | None:
        """When the dosing phase began (epoch seconds), or ``None`` before dosing."""
        for event in self.events:
            if event.type == "phase" and event.code == "dosing":
                return event.ts
        return None


def open_record(path: Path) -> sqlite3.Connection:
    """Open an existing record read-only; a clear ``RecordError`` when it can't be."""
    if not path.is_file():
        raise RecordError(f"there is no session record at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM sessions LIMIT 1")
    except sqlite3.Error as exc:
        raise RecordError(f"{path} is not a readable session record: {exc}") from exc
    return conn


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


_SESSION_SQL = (
    "SELECT s.id, s.room, s.started_at, s.ended_at, s.route, s.infusion_min,"
    " (SELECT COUNT(*) FROM readings r WHERE r.session_id = s.id),"
    " (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id),"
    " (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id AND e.type = 'alarm'"
    "  AND json_extract(e.payload, '$.transition') = 'raised'),"
    " (SELECT MAX(ts) FROM (SELECT MAX(ts) AS ts FROM readings r"
    "  WHERE r.session_id = s.id UNION ALL SELECT MAX(ts) FROM events e"
    "  WHERE e.session_id = s.id))"
    " FROM sessions s"
)


def _info(row: tuple[object, ...]) -> SessionInfo:
    started = _dt(str(row[2]))
    assert started is not None  # noqa: S101 (NOT NULL column)
    return SessionInfo(
        id=str(row[0]),
        room=str(row[1]),
        started_at=started,
        ended_at=_dt(None if row[3] is None else str(row[3])),
        route=str(row[4]),
        infusion_min=float(row[5]),  # type: ignore[arg-type]
        readings=int(row[6]),  # type: ignore[call-overload]
        events=int(row[7]),  # type: ignore[call-overload]
        alarms=int(row[8]),  # type: ignore[call-overload]
        last_ts=None if row[9] is None else float(row[9]),  # type: ignore[arg-type]
    )


def list_sessions(conn: sqlite3.Connection) -> list[SessionInfo]:
    """Every session in the record, oldest first."""
    rows = conn.execute(f"{_SESSION_SQL} ORDER BY s.started_at, s.id").fetchall()
    return [_info(row) for row in rows]


def running_sessions(sessions: Iterable[SessionInfo]) -> set[str]:
    """Ids of the sessions that may still be running.

    A session runs from its start until the daemon closes it (``ended_at``); one
    without ``ended_at`` that is not its room's newest was left by a daemon that died
    and started a new session since, so it is finished.
    """
    newest: dict[str, SessionInfo] = {}
    for info in sessions:
        best = newest.get(info.room)
        if best is None or (info.started_at, info.id) > (best.started_at, best.id):
            newest[info.room] = info
    return {info.id for info in newest.values() if info.ended_at is None}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def session_rows(sessions: list[SessionInfo]) -> list[dict[str, object]]:
    """The sessions as JSON-ready rows (``roomctl sessions --json``).

    ``state`` is ``ended``, ``running`` (no end, its room's newest) or ``not closed``
    (no end, but its room has a newer session); ``duration_s`` runs to the end, or to
    the last data of a session without one.
    """
    running = running_sessions(sessions)
    rows: list[dict[str, object]] = []
    for info in sessions:
        if info.ended_at is not None:
            state, end = "ended", info.ended_at
        else:
            state = "running" if info.id in running else "not closed"
            end = info.last_activity
        rows.append(
            {
                "id": info.id,
                "room": info.room,
                "started_at": _iso(info.started_at),
                "ended_at": None if info.ended_at is None else _iso(info.ended_at),
                "state": state,
                "duration_s": round(
                    max(0.0, (end - info.started_at).total_seconds()), 1
                ),
                "last_activity": _iso(info.last_activity),
                "route": info.route,
                "infusion_min": info.infusion_min,
                "readings": info.readings,
                "events": info.events,
                "alarms": info.alarms,
            }
        )
    return rows


def resolve_session(
    conn: sqlite3.Connection, session_id: str | None, *, last: bool
) -> str:
    """The session id asked for: ``session_id`` if it exists, else the newest one."""
    if session_id is not None:
        found = conn.execute(
            "SELECT id FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if found is None:
            raise RecordError(
                f"there is no session {session_id!r} in the record"
                " (`roomctl sessions` lists them)"
            )
        return session_id
    if not last:
        raise RecordError("name a session with --session ID, or use --last")
    newest = conn.execute(
        "SELECT id FROM sessions ORDER BY started_at DESC, id DESC LIMIT 1"
    ).fetchone()
    if newest is None:
        raise RecordError("the record has no sessions yet")
    return str(newest[0])


def load_session(conn: sqlite3.Connection, session_id: str) -> SessionHistory:
    """Every reading and event of one session, in time order."""
    row = conn.execute(f"{_SESSION_SQL} WHERE s.id = ?", (session_id,)).fetchone()
    if row is None:
        raise RecordError(f"there is no session {session_id!r} in the record")
    readings = tuple(
        RecordedReading(ts, device, metric, value, status)
        for ts, device, metric, value, status in conn.execute(
            "SELECT ts, device, metric, value, status FROM readings"
            " WHERE session_id = ? ORDER BY ts, id",
            (session_id,),
        )
    )
    events = tuple(
        RecordedEvent(ts, kind, code, by_role, json.loads(payload))
        for ts, kind, code, by_role, payload in conn.execute(
            "SELECT ts, type, code, by_role, payload FROM events"
            " WHERE session_id = ? ORDER BY ts, id",
            (session_id,),
        )
    )
    return SessionHistory(info=_info(row), readings=readings, events=events)

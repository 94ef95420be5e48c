"""Reading finished (or running) sessions back from the session record.

The one read-side view of the record for the report, the exports, ``roomctl sessions``
and retention. The daemon's writer is ``roomctl.recorder``; this module only reads
(the connection is opened read-only, so a report can run beside a live daemon).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from roomctl.errors import RecordError

if TYPE_CHECKING:
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
    " (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id)"
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
    )


def list_sessions(conn: sqlite3.Connection) -> list[SessionInfo]:
    """Every session in the record, oldest first."""
    rows = conn.execute(f"{_SESSION_SQL} ORDER BY s.started_at, s.id").fetchall()
    return [_info(row) for row in rows]


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

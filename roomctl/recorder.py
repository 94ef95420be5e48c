"""Recorder: the session record in SQLite (WAL), written off the event loop in batches.

Every reading, alarm transition, phase change, operator command, device link event and
note is written. Rows are queued from a bus subscription and written every
``flush_interval_s`` by a worker thread, so a reading is durable within 1 s of arrival
and the alarm path never waits on the disk. A failed write (disk full, file locked)
keeps the rows queued, reports the fault (``OutputFailed``, and a ``TechnicalNotice``
in words for the nurse), and retries once a second with a small batch until the disk
takes it, then writes the backlog and says so: nothing is dropped (up to
``MAX_PENDING_ROWS`` readings).

Schema files live in ``roomctl/schema``: ``v1.sql`` creates version 1 and each
``vN.sql`` migrates N-1 to N. ``PRAGMA user_version`` holds the version.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING

from roomctl.errors import RecordError, write_error_in_words
from roomctl.events import (
    Command,
    OutputFailed,
    PhaseChanged,
    ReadingReceived,
    StateSnapshot,
    TechnicalNotice,
)
from roomctl.eventstream import event_type, to_payload
from roomctl.readings import NibpReading

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from roomctl.bus import EventBus, Subscription
    from roomctl.clock import Clock
    from roomctl.events import Event, SessionOpened

_LOGGER = logging.getLogger(__name__)

#: Events that are derived state, not facts: not written.
_NOT_RECORDED = (StateSnapshot,)

#: Rows held in memory while the disk refuses writes, before the oldest readings go.
MAX_PENDING_ROWS = 2_000_000

#: While the disk refuses writes: seconds between tries, and how many of the oldest
#: readings (and events) each try offers before the rest (see ``Recorder.flush``).
RETRY_WHILE_FAILING_S = 1.0
PROBE_ROWS = 256

#: ``TechnicalNotice.component`` of the record's notices.
NOTICE_COMPONENT = "record"

_INSERT_SESSION = (
    "INSERT OR IGNORE INTO sessions"
    " (id, room, started_at, route, infusion_min, patient_ref)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)

#: What a write (or opening the file) raises when the disk refuses it.
WRITE_ERRORS = (sqlite3.Error, OSError)

#: How long shutdown may spend on the final flush.
FINAL_FLUSH_TIMEOUT_S = 1.5


def latest_schema_version() -> int:
    """The newest schema version shipped."""
    names = [p.name for p in resources.files("roomctl.schema").iterdir()]
    return max(int(n[1:-4]) for n in names if n.startswith("v") and n.endswith(".sql"))


def schema_script(version: int) -> str:
    """The SQL that creates (version 1) or migrates to ``version``."""
    return resources.files("roomctl.schema").joinpath(f"v{version}.sql").read_text()


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring the database to ``target`` (the latest by default); return the version."""
    goal = latest_schema_version() if target is None else target
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > goal:
        raise RecordError(
            f"the record has schema version {current}, newer than this roomctl "
            f"understands ({goal}); upgrade roomctl"
        )
    for version in range(current + 1, goal + 1):
        with conn:
            conn.executescript(
                f"BEGIN; {schema_script(version)}; "
                f"PRAGMA user_version = {version}; COMMIT;"
            )
        _LOGGER.info("session record migrated to schema version %d", version)
    return goal


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating, owner-only) and migrate the record; WAL, normal sync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    if fresh:
        # Health data: the file is readable by its owner only, from its first byte.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL survives a process crash (SIGKILL); only power loss may
        # lose the last transactions.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


# ---------------------------------------------------------------- crash resume


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSession:
    """A session row, and what crash resume needs to know of its events."""

    session_id: str
    room: str
    started_at: datetime
    ended_at: datetime | None
    route: str
    infusion_min: float
    patient_ref: str | None
    #: The phases it moved to, in order.
    phases: tuple[str, ...]
    #: Time of its last reading or event (epoch seconds); ``None``: nothing written.
    last_ts: float | None

    @property
    def phase(self) -> str:
        """The phase it was in last."""
        return self.phases[-1] if self.phases else "preparation"

    @property
    def dosed(self) -> bool:
        """Whether the dose was given (the session moved past preparation)."""
        return any(phase != "preparation" for phase in self.phases)


def _utc(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def newest_session(conn: sqlite3.Connection, room: str) -> StoredSession | None:
    """The room's most recently started session, or ``None``."""
    row = conn.execute(
        "SELECT id, started_at, ended_at, route, infusion_min, patient_ref"
        " FROM sessions WHERE room = ? ORDER BY started_at DESC, rowid DESC LIMIT 1",
        (room,),
    ).fetchone()
    if row is None:
        return None
    session_id, started_at, ended_at, route, infusion_min, patient_ref = row
    phases = tuple(
        str(phase)
        for (phase,) in conn.execute(
            "SELECT code FROM events WHERE session_id = ? AND type = 'phase'"
            " ORDER BY ts, id",
            (session_id,),
        )
    )
    last = [
        conn.execute(
            f"SELECT max(ts) FROM {table} WHERE session_id = ?",  # noqa: S608 (fixed names)
            (session_id,),
        ).fetchone()[0]
        for table in ("readings", "events")
    ]
    known = [float(ts) for ts in last if ts is not None]
    return StoredSession(
        session_id=str(session_id),
        room=room,
        started_at=_utc(str(started_at)),
        ended_at=None if ended_at is None else _utc(str(ended_at)),
        route=str(route),
        infusion_min=float(infusion_min),
        patient_ref=None if patient_ref is None else str(patient_ref),
        phases=phases,
        last_ts=max(known) if known else None,
    )


def reading_counts(conn: sqlite3.Connection, session_id: str) -> dict[str, int]:
    """Reading rows written for the session, by device."""
    return {
        str(device): int(count)
        for device, count in conn.execute(
            "SELECT device, count(*) FROM readings WHERE session_id = ?"
            " GROUP BY device",
            (session_id,),
        )
    }


def command_ids(conn: sqlite3.Connection, session_id: str) -> set[str]:
    """The ``command_id`` of every command written for the session."""
    return {
        str(command_id)
        for (command_id,) in conn.execute(
            "SELECT json_extract(payload, '$.command_id') FROM events"
            " WHERE session_id = ? AND type = 'command'",
            (session_id,),
        )
        if command_id
    }


def events_since(
    conn: sqlite3.Connection, session_id: str, types: Iterable[str], since_ts: float
) -> list[tuple[float, str, dict[str, object]]]:
    """``(ts, type, payload)`` of the session's ``types`` events from ``since_ts``."""
    wanted = list(types)
    marks = ", ".join("?" for _ in wanted)
    rows = conn.execute(
        "SELECT ts, type, payload FROM events"  # noqa: S608 (placeholders only)
        f" WHERE session_id = ? AND type IN ({marks}) AND ts >= ? ORDER BY ts, id",
        (session_id, *wanted, since_ts),
    )
    return [(float(ts), str(kind), json.loads(payload)) for ts, kind, payload in rows]


def session_tracks(conn: sqlite3.Connection, session_id: str) -> set[str]:
    """Track ids the music played in the session."""
    return {
        str(track)
        for (track,) in conn.execute(
            "SELECT json_extract(payload, '$.track_id') FROM events"
            " WHERE session_id = ? AND type = 'music'",
            (session_id,),
        )
        if track is not None
    }


def _role_of(event: Event) -> str | None:
    by = getattr(event, "by", None)
    return None if by is None else str(by)


def _code_of(event: Event) -> str | None:
    code = getattr(event, "code", None)
    if isinstance(code, str):
        return code
    if isinstance(event, Command):
        return event.verb.value
    if isinstance(event, PhaseChanged):
        return event.phase.value
    return None


class Recorder:
    """Writes the bus's events for one session into the record.

    Create it before the sources start (its subscription exists from construction),
    then run ``run()`` in the daemon's task group.
    """

    def __init__(
        self,
        *,
        path: Path,
        bus: EventBus,
        clock: Clock,
        flush_interval_s: float = 0.25,
        on_health: Callable[[str | None], None] | None = None,
    ) -> None:
        self._path = path
        #: Told on the loop when writes start failing (the reason in words) and when
        #: they succeed again (``None``): the daemon's ``tech.record`` alarm.
        self._on_health = on_health
        self._bus = bus
        self._clock = clock
        self._flush_interval_s = flush_interval_s
        self._subscription: Subscription = bus.open(name="recorder", maxlen=500_000)
        self._conn: sqlite3.Connection | None = None
        self._session_id: str | None = None
        self._pending_readings: list[tuple[object, ...]] = []
        self._pending_events: list[tuple[object, ...]] = []
        #: Statements that set the session row up (start, resume), run first in the
        #: next write's transaction: on a disk that refuses writes they wait, in order.
        self._setup: list[tuple[str, tuple[object, ...]]] = []
        self._failing = False
        #: While failing: the loop time of the next try, and readings dropped for
        #: want of memory (``MAX_PENDING_ROWS``).
        self._retry_at = 0.0
        self._discarded = 0
        # One worker thread: writes never overlap and keep their order.
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="recorder"
        )
        self._inflight: (
            tuple[
                concurrent.futures.Future[None],
                list[tuple[object, ...]],
                list[tuple[object, ...]],
            ]
            | None
        ) = None
        #: Rows written so far (readings, events).
        self.written = [0, 0]

    def open(self) -> None:
        """Open and migrate the record file (call before ``run``).

        A file that cannot be opened or created (a full or read-only disk) does not
        stop the room: the fault is reported as any failed write is, and the file is
        opened by the first write the disk takes.
        """
        try:
            self._conn = connect(self._path)
        except WRITE_ERRORS as exc:
            _LOGGER.error(
                "session record: cannot open %s (%s); the room runs and the record "
                "is opened as soon as the disk allows",
                self._path,
                exc,
            )
            self._report_failure(exc)

    def _connection(self) -> sqlite3.Connection:
        """The open record, opening it first if it could not be opened before."""
        if self._conn is None:
            self._conn = connect(self._path)
        return self._conn

    def start_session(
        self, opened: SessionOpened, room: str, patient_ref: str | None = None
    ) -> None:
        """Write the session row (at once: it is small and comes first)."""
        self._session_id = opened.session_id
        self._setup.append(
            (
                _INSERT_SESSION,
                (
                    opened.session_id,
                    room,
                    opened.occurred_at.isoformat(),
                    opened.route.value,
                    opened.infusion_min,
                    patient_ref,
                ),
            )
        )
        self.record_now([])

    def resume_session(self, opened: SessionOpened) -> None:
        """Take up an unfinished session again (crash resume): it is running again."""
        self._session_id = opened.session_id
        self._setup.append(
            (
                "UPDATE sessions SET ended_at = NULL WHERE id = ?",
                (opened.session_id,),
            )
        )
        self.record_now([])

    def heard_tracks(self, patient_ref: str | None) -> set[str]:
        """Track ids this patient heard in earlier sessions (empty without a ref)."""
        if patient_ref is None or self._conn is None:
            return set()
        rows = self._conn.execute(
            "SELECT DISTINCT json_extract(e.payload, '$.track_id') FROM events e"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE e.type = 'music' AND s.patient_ref = ? AND s.id != ?",
            (patient_ref, self._session_id or ""),
        )
        return {str(track) for (track,) in rows if track is not None}

    def _queue(self, event: Event) -> None:
        if isinstance(event, _NOT_RECORDED) or self._session_id is None:
            return
        self._rows(
            event, self._session_id, self._pending_readings, self._pending_events
        )

    @staticmethod
    def _rows(
        event: Event,
        session_id: str,
        readings: list[tuple[object, ...]],
        events: list[tuple[object, ...]],
    ) -> None:
        """Append the rows ``event`` is written as to ``readings`` and ``events``."""
        ts = event.occurred_at.timestamp()
        if isinstance(event, ReadingReceived):
            reading = event.reading
            rows = (
                reading.as_readings() if isinstance(reading, NibpReading) else [reading]
            )
            readings.extend(
                (
                    session_id,
                    r.received_at.timestamp(),
                    r.device,
                    r.metric.value,
                    r.value,
                    r.status.value,
                )
                for r in rows
            )
            if not isinstance(reading, NibpReading):
                return
        if isinstance(event, OutputFailed) and event.component == "recorder":
            return  # our own fault reports would feed back into a failing disk
        events.append(
            (
                session_id,
                ts,
                event_type(event),
                _code_of(event),
                json.dumps(to_payload(event)),
                _role_of(event),
            )
        )

    def record_now(self, events: Iterable[Event]) -> None:
        """Write ``events`` now, ahead of anything queued.

        Crash resume: what the record missed from before the crash. When the disk
        refuses, the rows are kept and written with the next flush.
        """
        if self._session_id is None:
            raise RecordError("no session is open in the record")
        readings: list[tuple[object, ...]] = []
        rows: list[tuple[object, ...]] = []
        for event in events:
            self._rows(event, self._session_id, readings, rows)
        if not readings and not rows and not self._setup:
            return
        try:
            self._write(readings, rows)
        except WRITE_ERRORS as exc:
            self._restore(readings, rows)
            self._report_failure(exc)
        else:
            self._written(readings, rows)

    def _write(
        self, readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        conn = self._connection()
        # One transaction for the whole batch. The connection is in autocommit mode
        # (``isolation_level=None``), where ``with conn`` alone opens none and every
        # row commits by itself: a batch cut short by a full disk then left its first
        # rows written, and the retry wrote them twice (tests/faults/test_disk_full).
        conn.execute("BEGIN")
        try:
            setup = list(self._setup)
            for statement, parameters in setup:
                conn.execute(statement, parameters)
            conn.executemany(
                "INSERT INTO readings (session_id, ts, device, metric, value, status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                readings,
            )
            conn.executemany(
                "INSERT INTO events (session_id, ts, type, code, payload, by_role)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                events,
            )
            conn.execute("COMMIT")
            del self._setup[: len(setup)]
        except Exception:
            # SQLite keeps the transaction open after a failed COMMIT (SQLITE_FULL):
            # roll it back so the batch is all or nothing.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _drain(self) -> None:
        while (event := self._subscription.get_nowait()) is not None:
            self._queue(event)
        excess = len(self._pending_readings) - MAX_PENDING_ROWS
        if excess > 0:
            # Only while the disk has refused writes for hours: keep the newest.
            del self._pending_readings[:excess]
            self._discarded += excess
            _LOGGER.error("session record: %d unwritten readings discarded", excess)

    def _take(self) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        taken = (self._pending_readings, self._pending_events)
        self._pending_readings, self._pending_events = [], []
        return taken

    def _restore(
        self, readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        self._pending_readings[:0] = readings
        self._pending_events[:0] = events

    def _take_oldest(
        self, limit: int
    ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        """The oldest ``limit`` readings and events (``_restore`` puts them back)."""
        readings = self._pending_readings[:limit]
        events = self._pending_events[:limit]
        del self._pending_readings[:limit], self._pending_events[:limit]
        return readings, events

    def _written(
        self, readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        self.written[0] += len(readings)
        self.written[1] += len(events)
        if self._failing:
            self._failing = False
            lost = self._discarded
            self._discarded = 0
            outcome = (
                "nothing was lost"
                if not lost
                else f"{lost} readings were lost (too many to keep)"
            )
            _LOGGER.warning("session record: writing again; %s", outcome)
            if self._on_health is not None:
                self._on_health(None)
            self._notice(
                "The session record is being written again: what was kept in memory "
                f"while the disk refused it is saved now; {outcome}."
            )

    async def flush(self) -> None:
        """Write everything queued so far, in the recorder's worker thread.

        While the disk refuses writes, a write is tried again only every
        ``RETRY_WHILE_FAILING_S`` and with the oldest ``PROBE_ROWS`` rows first: the
        backlog grows for as long as the fault lasts, and offering all of it to a
        full disk four times a second would keep the worker thread (and the GIL) busy
        for nothing. Once the probe is written, the rest follows at once.
        """
        self._drain()
        loop = asyncio.get_running_loop()
        if self._failing and loop.time() < self._retry_at:
            return
        probing = self._failing
        while self._pending_readings or self._pending_events or self._setup:
            readings, events = (
                self._take_oldest(PROBE_ROWS) if probing else self._take()
            )
            future = self._executor.submit(self._write, readings, events)
            self._inflight = (future, readings, events)
            try:
                # A write that has started runs to its end even if we are cancelled;
                # final_flush() waits for it.
                await asyncio.shield(asyncio.wrap_future(future))
            except WRITE_ERRORS as exc:
                self._inflight = None
                self._restore(readings, events)
                self._report_failure(exc)
                self._retry_at = loop.time() + RETRY_WHILE_FAILING_S
                return
            self._inflight = None
            self._written(readings, events)
            probing = False

    def _report_failure(self, exc: Exception) -> None:
        if not self._failing:
            self._failing = True
            _LOGGER.error(
                "session record: cannot write %s (%s); rows are kept in memory and "
                "retried",
                self._path,
                exc,
            )
            self._bus.publish(
                OutputFailed(
                    occurred_mono=self._clock.monotonic(),
                    occurred_at=self._clock.now_utc(),
                    component="recorder",
                    error=f"cannot write the session record: {exc}",
                )
            )
            reason = write_error_in_words(exc)
            self._notice(
                f"The session record cannot be written ({reason}). Readings "
                "and events are kept in memory and saved as soon as the disk takes "
                "them again. Alarms are not affected."
            )
            if self._on_health is not None:
                self._on_health(reason)

    def _notice(self, text: str) -> None:
        """Tell the nurse (MQTT ``events``, the console's log) and the record."""
        self._bus.publish(
            TechnicalNotice(
                occurred_mono=self._clock.monotonic(),
                occurred_at=self._clock.now_utc(),
                component=NOTICE_COMPONENT,
                text=text,
            )
        )

    def final_flush(self) -> None:
        """Settle the write in flight and write what is left (blocks; shutdown only)."""
        if self._inflight is not None:
            future, readings, events = self._inflight
            self._inflight = None
            try:
                future.result(timeout=FINAL_FLUSH_TIMEOUT_S)
                self._written(readings, events)
            except (*WRITE_ERRORS, concurrent.futures.TimeoutError):
                self._restore(readings, events)
        self._drain()
        if not self._pending_readings and not self._pending_events and not self._setup:
            return
        readings, events = self._take()
        try:
            self._executor.submit(self._write, readings, events).result(
                timeout=FINAL_FLUSH_TIMEOUT_S
            )
            self._written(readings, events)
        except (*WRITE_ERRORS, concurrent.futures.TimeoutError) as exc:
            self._restore(readings, events)
            _LOGGER.error(
                "session record: final write failed, %d readings and %d events "
                "unwritten: %s",
                len(readings),
                len(events),
                exc,
            )

    async def run(self) -> None:
        """Flush every ``flush_interval_s`` until cancelled, then flush once more."""
        try:
            while True:
                await asyncio.sleep(self._flush_interval_s)
                await self.flush()
        finally:
            self.final_flush()

    def close(self) -> None:
        """Finish the session row and close the file."""
        self._bus.unsubscribe(self._subscription)
        self._executor.shutdown(wait=True)
        if self._conn is None:
            return
        if self._session_id is not None:
            try:
                with self._conn:
                    self._conn.execute(
                        "UPDATE sessions SET ended_at = ? WHERE id = ?",
                        (self._clock.now_utc().isoformat(), self._session_id),
                    )
            except sqlite3.Error as exc:
                _LOGGER.error("session record: cannot close the session: %s", exc)
        self._conn.close()
        self._conn = None

"""Recorder: the session record in SQLite (WAL), written off the event loop in batches.

Every reading, alarm transition, phase change, operator command, device link event and
note is written. Rows are queued from a bus subscription and written every
``flush_interval_s`` by a worker thread, so a reading is durable within 1 s of arrival
and the alarm path never waits on the disk. A failed write (disk full, file locked)
keeps the rows queued, reports the fault, and retries: nothing is dropped.

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
from importlib import resources
from typing import TYPE_CHECKING

from roomctl.errors import RecordError
from roomctl.events import (
    Command,
    OutputFailed,
    PhaseChanged,
    ReadingReceived,
    StateSnapshot,
)
from roomctl.eventstream import event_type, to_payload
from roomctl.readings import NibpReading

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.bus import EventBus, Subscription
    from roomctl.clock import Clock
    from roomctl.events import Event, SessionOpened

_LOGGER = logging.getLogger(__name__)

#: Events that are derived state, not facts: not written.
_NOT_RECORDED = (StateSnapshot,)

#: Rows held in memory while the disk refuses writes, before the oldest readings go.
MAX_PENDING_ROWS = 2_000_000

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
    conn.execute("PRAGMA journal_mode = WAL")
    # In WAL mode NORMAL survives a process crash (SIGKILL); only power loss may lose
    # the last transactions.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn)
    return conn


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
    ) -> None:
        self._path = path
        self._bus = bus
        self._clock = clock
        self._flush_interval_s = flush_interval_s
        self._subscription: Subscription = bus.open(name="recorder", maxlen=500_000)
        self._conn: sqlite3.Connection | None = None
        self._session_id: str | None = None
        self._pending_readings: list[tuple[object, ...]] = []
        self._pending_events: list[tuple[object, ...]] = []
        self._failing = False
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
        """Open and migrate the record file (call before ``run``)."""
        try:
            self._conn = connect(self._path)
        except (sqlite3.Error, OSError) as exc:
            raise RecordError(
                f"cannot open the session record {self._path}: {exc}"
            ) from exc

    def start_session(
        self, opened: SessionOpened, room: str, patient_ref: str | None = None
    ) -> None:
        """Write the session row (synchronously: it is small and comes first)."""
        conn = self._require_conn()
        self._session_id = opened.session_id
        with conn:
            conn.execute(
                "INSERT OR IGNORE INTO sessions"
                " (id, room, started_at, route, infusion_min, patient_ref)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    opened.session_id,
                    room,
                    opened.occurred_at.isoformat(),
                    opened.route.value,
                    opened.infusion_min,
                    patient_ref,
                ),
            )

    def heard_tracks(self, patient_ref: str | None) -> set[str]:
        """Track ids this patient heard in earlier sessions (empty without a ref)."""
        if patient_ref is None:
            return set()
        rows = self._require_conn().execute(
            "SELECT DISTINCT json_extract(e.payload, '$.track_id') FROM events e"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE e.type = 'music' AND s.patient_ref = ? AND s.id != ?",
            (patient_ref, self._session_id or ""),
        )
        return {str(track) for (track,) in rows if track is not None}

    def _require_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RecordError("the session record is not open")
        return self._conn

    def _queue(self, event: Event) -> None:
        if isinstance(event, _NOT_RECORDED) or self._session_id is None:
            return
        ts = event.occurred_at.timestamp()
        if isinstance(event, ReadingReceived):
            reading = event.reading
            rows = (
                reading.as_readings() if isinstance(reading, NibpReading) else [reading]
            )
            for r in rows:
                self._pending_readings.append(
                    (
                        self._session_id,
                        r.received_at.timestamp(),
                        r.device,
                        r.metric.value,
                        r.value,
                        r.status.value,
                    )
                )
            if not isinstance(reading, NibpReading):
                return
        if isinstance(event, OutputFailed) and event.component == "recorder":
            return  # our own fault reports would feed back into a failing disk
        self._pending_events.append(
            (
                self._session_id,
                ts,
                event_type(event),
                _code_of(event),
                json.dumps(to_payload(event)),
                _role_of(event),
            )
        )

    def _write(
        self, readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        conn = self._require_conn()
        with conn:
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

    def _drain(self) -> None:
        while (event := self._subscription.get_nowait()) is not None:
            self._queue(event)
        excess = len(self._pending_readings) - MAX_PENDING_ROWS
        if excess > 0:
            # Only while the disk has refused writes for hours: keep the newest.
            del self._pending_readings[:excess]
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

    def _written(
        self, readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        self.written[0] += len(readings)
        self.written[1] += len(events)
        if self._failing:
            self._failing = False
            _LOGGER.warning("session record: writing again; nothing was lost")

    async def flush(self) -> None:
        """Write everything queued so far, in the recorder's worker thread."""
        self._drain()
        if not self._pending_readings and not self._pending_events:
            return
        readings, events = self._take()
        future = self._executor.submit(self._write, readings, events)
        self._inflight = (future, readings, events)
        try:
            # A write that has started runs to its end even if we are cancelled;
            # final_flush() waits for it.
            await asyncio.shield(asyncio.wrap_future(future))
        except sqlite3.Error as exc:
            self._inflight = None
            self._restore(readings, events)
            self._report_failure(exc)
            return
        self._inflight = None
        self._written(readings, events)

    def _report_failure(self, exc: sqlite3.Error) -> None:
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

    def final_flush(self) -> None:
        """Settle the write in flight and write what is left (blocks; shutdown only)."""
        if self._inflight is not None:
            future, readings, events = self._inflight
            self._inflight = None
            try:
                future.result(timeout=FINAL_FLUSH_TIMEOUT_S)
                self._written(readings, events)
            except (sqlite3.Error, concurrent.futures.TimeoutError):
                self._restore(readings, events)
        self._drain()
        if not self._pending_readings and not self._pending_events:
            return
        readings, events = self._take()
        try:
            self._executor.submit(self._write, readings, events).result(
                timeout=FINAL_FLUSH_TIMEOUT_S
            )
            self._written(readings, events)
        except (sqlite3.Error, concurrent.futures.TimeoutError) as exc:
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

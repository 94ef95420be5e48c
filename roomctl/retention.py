"""Retention: archive or delete old sessions from the record and the captures folder.

``roomctl sessions prune`` and the daemon's start (``record.retention_days``) use it.
A session is old when it finished more than the limit ago: it has ``ended_at``, or it
was never closed and is not its room's newest session (a daemon that died and started
a new one), in which case its last reading or event counts as its end. A running
session (no ``ended_at`` and the newest of its room) is never touched, however old.

Archiving writes one self-contained SQLite file per session (``<session id>.sqlite``,
the record's schema, the session's row and every reading and event of it) and moves
its capture file beside it (``<session id>.jsonl``); both are readable by their owner
only, and ``roomctl report --record ARCHIVE --last`` reads the archive. The archive is
written to a temporary name, checked (row counts), and renamed into place before
anything leaves the record, so a failure half-way loses nothing. Deleting removes the
rows (with SQLite's ``secure_delete``, so the freed pages are overwritten) and the
capture file. Capture files of no session in the record, older than the limit, are
archived or deleted the same way. The record file keeps its owner-only mode.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from roomctl.errors import RecordError
from roomctl.history import SessionInfo, list_sessions, running_sessions
from roomctl.recorder import connect, migrate

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.settings import RecordSettings

#: The tables that hold a session's rows, children first (deletion order).
_CHILD_TABLES = ("readings", "events")
#: Capture files are named after their session.
CAPTURE_SUFFIX = ".jsonl"
ARCHIVE_SUFFIX = ".sqlite"

Mode = Literal["archive", "delete"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pruned:
    """One session (or orphan capture) archived or deleted."""

    session_id: str
    room: str
    #: When it finished (``ended_at``, else its last data).
    finished_at: datetime
    readings: int
    events: int
    #: The archive file written; ``None`` when deleting or for an orphan capture.
    archive: Path | None = None
    #: The capture file: where it went (archiving) or the one deleted.
    capture: Path | None = None
    #: A capture file without a session in the record.
    orphan: bool = False


@dataclass(slots=True)
class PruneReport:
    """What ``prune`` did (or, in a dry run, would do)."""

    mode: Mode
    dry_run: bool
    older_than_days: float
    cutoff: datetime
    pruned: list[Pruned] = field(default_factory=list)
    #: Running sessions left alone.
    running: list[str] = field(default_factory=list)
    #: Finished sessions newer than the limit.
    kept: int = 0

    def lines(self) -> list[str]:
        """What was done, one line per session, then a summary."""
        verb = {"archive": "archived", "delete": "deleted"}[self.mode]
        if self.dry_run:
            verb = f"would be {verb}"
        out = []
        for item in self.pruned:
            finished = item.finished_at.strftime("%Y-%m-%d %H:%M UTC")
            if item.orphan:
                where = f" -> {item.capture}" if self.mode == "archive" else ""
                out.append(
                    f"{verb}: capture {item.session_id}{CAPTURE_SUFFIX} of no session "
                    f"in the record (last written {finished}){where}"
                )
                continue
            text = (
                f"{verb}: session {item.session_id} (room {item.room}, finished "
                f"{finished}): {item.readings} readings, {item.events} events"
            )
            if item.archive is not None:
                text += f" -> {item.archive}"
            if item.capture is not None:
                text += (
                    f"; capture moved to {item.capture}"
                    if self.mode == "archive"
                    else f"; capture {item.capture} deleted"
                )
            out.append(text)
        sessions = sum(1 for p in self.pruned if not p.orphan)
        summary = (
            f"{sessions} session{'s' if sessions != 1 else ''} {verb} (finished "
            f"before {self.cutoff:%Y-%m-%d %H:%M} UTC, {self.older_than_days:g} "
            f"days ago); {self.kept} newer kept"
        )
        if self.running:
            summary += f"; running, left alone: {', '.join(self.running)}"
        out.append(summary + ".")
        return out


def finished_at(info: SessionInfo) -> datetime:
    """When a session finished: its ``ended_at``, else its last reading or event."""
    return info.ended_at if info.ended_at is not None else info.last_activity


def _owner_only(path: Path) -> None:
    path.chmod(0o600)


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> str:
    rows = conn.execute(f"PRAGMA {schema}.table_info({table})").fetchall()
    return ", ".join(f'"{row[1]}"' for row in rows)


def _archive_rows(conn: sqlite3.Connection, info: SessionInfo, target: Path) -> None:
    """Write the session's rows to ``target`` (a new SQLite file) and check them."""
    temp = target.with_name(f".{target.name}.tmp")
    temp.unlink(missing_ok=True)
    # Health data: owner-only from its first byte.
    os.close(os.open(temp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    try:
        archive = sqlite3.connect(temp)
        try:
            migrate(archive)
        finally:
            archive.close()
        _copy_rows(conn, info, temp)
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)


def _copy_rows(conn: sqlite3.Connection, info: SessionInfo, temp: Path) -> None:
    conn.execute("ATTACH DATABASE ? AS archive", (str(temp),))
    try:
        with conn:
            conn.execute("BEGIN")
            for table, key in (
                ("sessions", "id"),
                *((t, "session_id") for t in _CHILD_TABLES),
            ):
                columns = _columns(conn, "main", table)
                conn.execute(
                    f"INSERT INTO archive.{table} ({columns})"  # noqa: S608 (names from the schema)
                    f" SELECT {columns} FROM main.{table} WHERE {key} = ?",
                    (info.id,),
                )
        for table in _CHILD_TABLES:
            source, copied = (
                conn.execute(
                    f"SELECT COUNT(*) FROM {schema}.{table} WHERE session_id = ?",  # noqa: S608
                    (info.id,),
                ).fetchone()[0]
                for schema in ("main", "archive")
            )
            if source != copied:
                raise RecordError(
                    f"archiving session {info.id}: {copied} of {source} {table} rows "
                    "were copied; nothing was removed from the record"
                )
    finally:
        conn.execute("DETACH DATABASE archive")


def _delete_rows(conn: sqlite3.Connection, session_id: str) -> None:
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for table in _CHILD_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))  # noqa: S608
        conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def _move(source: Path, target: Path) -> None:
    shutil.move(source, target)
    _owner_only(target)


def _prune_session(
    conn: sqlite3.Connection,
    info: SessionInfo,
    *,
    captures_dir: Path,
    archive_dir: Path | None,
    dry_run: bool,
) -> Pruned:
    capture = captures_dir / f"{info.id}{CAPTURE_SUFFIX}"
    has_capture = capture.is_file()
    archive = (
        None if archive_dir is None else archive_dir / f"{info.id}{ARCHIVE_SUFFIX}"
    )
    moved = None
    if archive_dir is not None and has_capture:
        moved = archive_dir / capture.name
    if not dry_run:
        if archive is not None:
            _archive_rows(conn, info, archive)
            if moved is not None:
                _move(capture, moved)
        _delete_rows(conn, info.id)
        if archive is None and has_capture:
            capture.unlink()
    return Pruned(
        session_id=info.id,
        room=info.room,
        finished_at=finished_at(info),
        readings=info.readings,
        events=info.events,
        archive=archive,
        capture=moved if archive is not None else (capture if has_capture else None),
    )


def _orphan_captures(
    captures_dir: Path, known: set[str], cutoff: datetime
) -> list[tuple[Path, datetime]]:
    if not captures_dir.is_dir():
        return []
    found = []
    for path in sorted(captures_dir.glob(f"*{CAPTURE_SUFFIX}")):
        session_id = path.name.removesuffix(CAPTURE_SUFFIX)
        if session_id in known or not path.is_file():
            continue
        written = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        if written < cutoff:
            found.append((path, written))
    return found


def prune(
    record: Path,
    *,
    captures_dir: Path,
    older_than_days: float,
    archive_dir: Path | None,
    now: datetime,
    dry_run: bool = False,
) -> PruneReport:
    """Archive (``archive_dir`` given) or delete sessions finished before the limit.

    Raises:
        RecordError: there is no record, or it cannot be read or changed (the
            message says which session and why; what was done before stays done).
    """
    if not record.is_file():
        raise RecordError(f"there is no session record at {record}")
    if older_than_days < 0:
        raise RecordError("the age limit must be 0 days or more")
    cutoff = now - timedelta(days=older_than_days)
    report = PruneReport(
        mode="delete" if archive_dir is None else "archive",
        dry_run=dry_run,
        older_than_days=older_than_days,
        cutoff=cutoff,
    )
    try:
        conn = connect(record)
    except (sqlite3.Error, OSError) as exc:
        raise RecordError(f"cannot open the session record {record}: {exc}") from exc
    try:
        # Deleted rows are overwritten, not left in free pages of the file.
        conn.execute("PRAGMA secure_delete = ON")
        sessions = list_sessions(conn)
        if archive_dir is not None and not dry_run:
            archive_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _prune_sessions(conn, sessions, report, captures_dir, archive_dir)
        _prune_orphans(
            {info.id for info in sessions}, report, captures_dir, archive_dir
        )
        if report.pruned and not dry_run:
            # Best effort: fold the WAL into the file so freed pages go now.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return report


def _prune_sessions(
    conn: sqlite3.Connection,
    sessions: list[SessionInfo],
    report: PruneReport,
    captures_dir: Path,
    archive_dir: Path | None,
) -> None:
    running = running_sessions(sessions)
    for info in sessions:
        if info.id in running:
            report.running.append(info.id)
        elif finished_at(info) >= report.cutoff:
            report.kept += 1
        else:
            try:
                pruned = _prune_session(
                    conn,
                    info,
                    captures_dir=captures_dir,
                    archive_dir=archive_dir,
                    dry_run=report.dry_run,
                )
            except (sqlite3.Error, OSError) as exc:
                raise RecordError(
                    f"session {info.id} could not be "
                    f"{'archived' if archive_dir is not None else 'deleted'}: {exc}"
                ) from exc
            report.pruned.append(pruned)


def _prune_orphans(
    known: set[str],
    report: PruneReport,
    captures_dir: Path,
    archive_dir: Path | None,
) -> None:
    for path, written in _orphan_captures(captures_dir, known, report.cutoff):
        target = None if archive_dir is None else archive_dir / path.name
        if not report.dry_run:
            try:
                if target is None:
                    path.unlink()
                else:
                    _move(path, target)
            except OSError as exc:
                raise RecordError(f"capture {path}: {exc}") from exc
        report.pruned.append(
            Pruned(
                session_id=path.name.removesuffix(CAPTURE_SUFFIX),
                room="",
                finished_at=written,
                readings=0,
                events=0,
                capture=target if target is not None else path,
                orphan=True,
            )
        )


def apply_retention(settings: RecordSettings, *, now: datetime) -> PruneReport | None:
    """The configured retention (``record.retention_days``); ``None`` when unset.

    Archives into ``record.archive_dir`` when it is set, else deletes. Meant for the
    daemon's start, off the event loop (``asyncio.to_thread``).

    Raises:
        RecordError: as ``prune``.
    """
    if settings.retention_days is None or not settings.path.is_file():
        return None
    return prune(
        settings.path,
        captures_dir=settings.effective_captures_dir,
        older_than_days=settings.retention_days,
        archive_dir=settings.archive_dir,
        now=now,
    )

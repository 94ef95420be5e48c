"""Retention: archiving and deleting old sessions from a real record and captures.

Four short simulated sessions are replayed into one record (``session_record``), each
with its capture file, as the daemon leaves them:

- ``old``: room-1, 2026-09-01, finished: older than 30 days;
- ``running``: room-1, 2026-10-01, no end, the room's newest: running, never touched;
- ``abandoned``: room-2, 2026-08-01, no end but room-2 has a newer session: finished;
- ``recent``: room-2, 2026-11-20, finished: newer than 30 days, kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from roomctl.app import Daemon
from roomctl.clock import VirtualClock
from roomctl.errors import RecordError
from roomctl.history import (
    list_sessions,
    load_session,
    open_record,
    running_sessions,
    session_rows,
)
from roomctl.report import build_report
from roomctl.retention import apply_retention, prune
from roomctl.settings import RecordSettings, parse_settings
from tests.unit.report.session_record import PATIENT_REF, build_record, plan

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass
class Room:
    record: Path
    captures: Path
    ids: dict[str, str]

    def sessions(self) -> dict[str, int]:
        conn = open_record(self.record)
        try:
            return {s.id: s.readings for s in list_sessions(conn)}
        finally:
            conn.close()


@pytest.fixture
def room(tmp_path: Path) -> Room:
    record = tmp_path / "lib" / "record.sqlite"
    captures = tmp_path / "lib" / "captures"
    ids = {}
    for name, room_name, started, close in (
        ("old", "room-1", datetime(2026, 9, 1, 9, 0, tzinfo=UTC), True),
        ("running", "room-1", datetime(2026, 10, 1, 9, 0, tzinfo=UTC), False),
        ("abandoned", "room-2", datetime(2026, 8, 1, 9, 0, tzinfo=UTC), False),
        ("recent", "room-2", datetime(2026, 11, 20, 9, 0, tzinfo=UTC), True),
    ):
        built = build_record(
            record,
            capture_plan=plan(-8, room=room_name, started_at=started),
            captures_dir=captures,
            close=close,
            patient_ref=f"{PATIENT_REF}-{name}",
        )
        ids[name] = built.session_id
    return Room(record, captures, ids)


def _old_orphans(room: Room) -> tuple[Path, Path]:
    """A capture of no session written in January, and one written an hour ago."""
    old = room.captures / "room-9-20260101T090000Z.jsonl"
    new = room.captures / "room-9-20261121T110000Z.jsonl"
    for path, when in (
        (old, datetime(2026, 1, 1, tzinfo=UTC)),
        (new, NOW - timedelta(hours=1)),
    ):
        path.write_text("{}\n")
        os.utime(path, (when.timestamp(), when.timestamp()))
    return old, new


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_running_sessions_are_the_unended_newest_of_their_room(room: Room) -> None:
    conn = open_record(room.record)
    sessions = list_sessions(conn)
    conn.close()
    assert running_sessions(sessions) == {room.ids["running"]}
    states = {row["id"]: row["state"] for row in session_rows(sessions)}
    assert states == {
        room.ids["old"]: "ended",
        room.ids["running"]: "running",
        room.ids["abandoned"]: "not closed",
        room.ids["recent"]: "ended",
    }


def test_prune_archives_old_sessions_with_their_captures(
    room: Room, tmp_path: Path
) -> None:
    before = room.sessions()
    orphan, fresh_orphan = _old_orphans(room)
    archive = tmp_path / "archive"
    report = prune(
        room.record,
        captures_dir=room.captures,
        older_than_days=30,
        archive_dir=archive,
        now=NOW,
    )
    gone = [room.ids["abandoned"], room.ids["old"]]  # oldest first
    assert [p.session_id for p in report.pruned if not p.orphan] == gone
    assert room.sessions() == {
        room.ids["running"]: before[room.ids["running"]],
        room.ids["recent"]: before[room.ids["recent"]],
    }
    for session_id in gone:
        archived = archive / f"{session_id}.sqlite"
        capture = archive / f"{session_id}.jsonl"
        assert _mode(archived) == _mode(capture) == 0o600
        assert not (room.captures / f"{session_id}.jsonl").exists()
        assert capture.read_text().startswith('{"roomctl_capture"')
        conn = open_record(archived)
        (info,) = list_sessions(conn)
        history = load_session(conn, session_id)
        conn.close()
        assert info.id == session_id
        assert info.readings == before[session_id] == len(history.readings) > 100
        # The archive is a record the report reads.
        assert build_report(history).session.id == session_id
    assert _mode(archive) == 0o700
    assert _mode(room.record) == 0o600
    assert (archive / orphan.name).exists()
    assert not orphan.exists()
    assert fresh_orphan.exists()
    assert report.running == [room.ids["running"]]
    assert report.kept == 1
    lines = report.lines()
    assert lines[1].startswith(f"archived: session {room.ids['old']} (room room-1, ")
    assert f"-> {archive / (room.ids['old'] + '.sqlite')}" in lines[1]
    assert "capture moved to" in lines[0]
    assert "of no session in the record" in lines[2]
    assert lines[-1] == (
        "2 sessions archived (finished before 2026-10-22 12:00 UTC, 30 days ago); "
        f"1 newer kept; running, left alone: {room.ids['running']}."
    )


def test_prune_deletes_and_leaves_no_trace_in_the_file(room: Room) -> None:
    report = prune(
        room.record,
        captures_dir=room.captures,
        older_than_days=30,
        archive_dir=None,
        now=NOW,
    )
    assert report.mode == "delete"
    assert len(report.pruned) == 2
    assert set(room.sessions()) == {room.ids["running"], room.ids["recent"]}
    assert not (room.captures / f"{room.ids['old']}.jsonl").exists()
    assert (room.captures / f"{room.ids['recent']}.jsonl").exists()
    # secure_delete and the checkpoint: the deleted patient codes are gone from disk.
    on_disk = b"".join(
        p.read_bytes() for p in room.record.parent.glob("record.sqlite*")
    )
    assert f"{PATIENT_REF}-old".encode() not in on_disk
    assert f"{PATIENT_REF}-recent".encode() in on_disk
    assert report.lines()[1].endswith(
        f"; capture {room.captures / (room.ids['old'] + '.jsonl')} deleted"
    )


def test_prune_dry_run_changes_nothing(room: Room, tmp_path: Path) -> None:
    digest = hashlib.sha256(room.record.read_bytes()).hexdigest()
    captures = sorted(p.name for p in room.captures.iterdir())
    report = prune(
        room.record,
        captures_dir=room.captures,
        older_than_days=30,
        archive_dir=tmp_path / "archive",
        now=NOW,
        dry_run=True,
    )
    assert len(report.pruned) == 2
    assert report.lines()[-1].startswith("2 sessions would be archived")
    assert hashlib.sha256(room.record.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in room.captures.iterdir()) == captures
    assert not (tmp_path / "archive").exists()


def test_configured_retention_at_start(room: Room, tmp_path: Path) -> None:
    unset = RecordSettings(path=room.record, captures_dir=room.captures)
    assert apply_retention(unset, now=NOW) is None
    settings = RecordSettings(
        path=room.record,
        captures_dir=room.captures,
        retention_days=90,
        archive_dir=tmp_path / "archive",
    )
    report = apply_retention(settings, now=NOW)
    assert report is not None
    # 90 days before NOW is 2026-08-23: only the August session goes.
    assert [p.session_id for p in report.pruned] == [room.ids["abandoned"]]
    assert (tmp_path / "archive" / f"{room.ids['abandoned']}.sqlite").exists()
    missing = RecordSettings(path=tmp_path / "none.sqlite", retention_days=1)
    assert apply_retention(missing, now=NOW) is None


def test_retention_is_at_least_a_day() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        RecordSettings(retention_days=0.5)
    assert RecordSettings(retention_days=30).retention_days == 30


def test_prune_failure_says_which_session_and_keeps_it(
    room: Room, tmp_path: Path
) -> None:
    blocked = tmp_path / "archive"
    blocked.mkdir()
    # The archive file's place is taken by a folder: the rename fails.
    (blocked / f"{room.ids['old']}.sqlite").mkdir()
    with pytest.raises(
        RecordError, match=rf"session {room.ids['old']} could not be archived"
    ):
        prune(
            room.record,
            captures_dir=room.captures,
            older_than_days=30,
            archive_dir=blocked,
            now=NOW,
        )
    # What came before the failure is done; the failed session is untouched.
    assert room.ids["abandoned"] not in room.sessions()
    assert room.ids["old"] in room.sessions()
    assert (room.captures / f"{room.ids['old']}.jsonl").exists()
    assert not list(blocked.glob(".*.tmp"))


def test_prune_without_a_record_or_with_a_negative_age(
    tmp_path: Path, room: Room
) -> None:
    with pytest.raises(RecordError, match="there is no session record at"):
        prune(
            tmp_path / "none.sqlite",
            captures_dir=tmp_path,
            older_than_days=1,
            archive_dir=None,
            now=NOW,
        )
    with pytest.raises(RecordError, match="0 days or more"):
        prune(
            room.record,
            captures_dir=tmp_path,
            older_than_days=-1,
            archive_dir=None,
            now=NOW,
        )


async def test_the_daemon_applies_the_configured_retention_at_start(
    room: Room, tmp_path: Path
) -> None:
    # The room's own session opens first and is never touched; the August session of
    # another room is older than 90 days and goes to the archive, off the loop.
    settings = parse_settings(
        f'[room]\nname = "room-3"\n[record]\npath = "{room.record}"\n'
        f'captures_dir = "{room.captures}"\nretention_days = 90\n'
        f'archive_dir = "{tmp_path / "archive"}"\n'
        "[mqtt]\nenabled = false\n[music]\nenabled = false\n"
    )
    clock = VirtualClock(start_at=NOW)
    daemon = Daemon(settings, clock=clock)
    task = asyncio.create_task(daemon.run())
    archived = tmp_path / "archive" / f"{room.ids['abandoned']}.sqlite"
    async with asyncio.timeout(20):
        while not archived.exists() or room.ids["abandoned"] in room.sessions():  # noqa: ASYNC110 (files, not an event)
            await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    kept = room.sessions()
    assert room.ids["old"] in kept
    assert room.ids["abandoned"] not in kept
    assert daemon.session_id in kept

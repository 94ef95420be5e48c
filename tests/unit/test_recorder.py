from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from typing import TYPE_CHECKING

import pytest

from roomctl.bus import EventBus
from roomctl.errors import RecordError
from roomctl.events import (
    AlarmChanged,
    AlarmKind,
    AlarmPriority,
    AlarmTransition,
    OutputFailed,
    Phase,
    PhaseChanged,
    ReadingReceived,
    Role,
    Route,
    SessionOpened,
)
from roomctl.readings import Metric, NibpReading, Reading, ReadingStatus
from roomctl.recorder import (
    Recorder,
    connect,
    latest_schema_version,
    migrate,
    schema_script,
)

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.clock import VirtualClock


def opened(clock: VirtualClock) -> SessionOpened:
    return SessionOpened(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        session_id="room-1-20261121T090000Z",
        route=Route.IV,
        infusion_min=40,
    )


def spo2(clock: VirtualClock, value: float | None) -> ReadingReceived:
    status = ReadingStatus.OK if value is not None else ReadingStatus.SENSOR_OFF
    return ReadingReceived(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        reading=Reading(
            device="oximeter",
            metric=Metric.SPO2_PERCENT,
            value=value,
            status=status,
            received_mono=clock.monotonic(),
            received_at=clock.now_utc(),
        ),
    )


def make_recorder(tmp_path: Path, clock: VirtualClock) -> tuple[EventBus, Recorder]:
    bus = EventBus()
    recorder = Recorder(path=tmp_path / "rec" / "record.sqlite", bus=bus, clock=clock)
    recorder.open()
    recorder.start_session(opened(clock), "room-1")
    return bus, recorder


async def test_recorder_writes_readings_and_events(
    tmp_path: Path, clock: VirtualClock
) -> None:
    bus, recorder = make_recorder(tmp_path, clock)
    bus.publish(spo2(clock, 97))
    clock.advance(1)
    bus.publish(spo2(clock, None))
    bus.publish(
        PhaseChanged(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            phase=Phase.DOSING,
            previous=Phase.PREPARATION,
            by=Role.THERAPIST,
        )
    )
    bus.publish(
        AlarmChanged(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            transition=AlarmTransition.RAISED,
            code="bp.high",
            priority=AlarmPriority.LOW,
            kind=AlarmKind.PHYSIOLOGICAL,
            value="184/112",
            limit="180/110",
        )
    )
    bus.publish(
        ReadingReceived(
            occurred_mono=clock.monotonic(),
            occurred_at=clock.now_utc(),
            reading=NibpReading(
                device="nibp",
                systolic_mmhg=None,
                diastolic_mmhg=None,
                map_mmhg=None,
                pulse_rate_bpm=None,
                status=ReadingStatus.DEVICE_ERROR,
                error_code=87,
                error_text="inflate timeout, air leak or loose cuff",
                received_mono=clock.monotonic(),
                received_at=clock.now_utc(),
            ),
        )
    )
    await recorder.flush()
    recorder.close()

    conn = sqlite3.connect(tmp_path / "rec" / "record.sqlite")
    rows = conn.execute(
        "SELECT device, metric, value, status FROM readings ORDER BY id"
    ).fetchall()
    assert rows[:2] == [
        ("oximeter", "spo2_percent", 97.0, "ok"),
        ("oximeter", "spo2_percent", None, "sensor_off"),
    ]
    assert ("nibp", "systolic_mmhg", None, "device_error") in rows
    events = conn.execute(
        "SELECT type, code, by_role, payload FROM events ORDER BY id"
    ).fetchall()
    assert [(t, c, b) for t, c, b, _ in events] == [
        ("phase", "dosing", "therapist"),
        ("alarm", "bp.high", None),
        ("reading", None, None),
    ]
    assert json.loads(events[1][3])["value"] == "184/112"
    assert json.loads(events[2][3])["reading"]["error_code"] == 87
    (ended,) = conn.execute("SELECT ended_at FROM sessions").fetchone()
    assert ended is not None


def test_recorder_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "record.sqlite"
    connect(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_recorder_migrates_a_version_1_record_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO sessions VALUES"
        " ('s1', 'room-1', '2026-01-01T00:00:00+00:00', NULL, 'iv', 40)"
    )
    conn.execute(
        "INSERT INTO events (session_id, ts, type, code, payload)"
        " VALUES ('s1', 1.0, 'note', NULL, '{}')"
    )
    conn.close()

    conn = connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_schema_version()
    assert conn.execute("SELECT id, type, by_role FROM events").fetchall() == [
        (1, "note", None)
    ]
    indexes = {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
    }
    assert "readings_by_session_time" in indexes
    conn.close()


def test_recorder_refuses_a_record_from_a_newer_roomctl(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_schema_version() + 1}")
    conn.close()
    with pytest.raises(RecordError, match="newer than this roomctl"):
        connect(path)


def test_schema_files_run_in_order_from_an_empty_database() -> None:
    conn = sqlite3.connect(":memory:")
    for version in range(1, latest_schema_version() + 1):
        conn.executescript(schema_script(version))


async def test_recorder_keeps_rows_while_writes_fail_and_loses_none(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus, recorder = make_recorder(tmp_path, clock)
    failures = bus.open(OutputFailed, name="test")
    real_write = recorder._write
    calls = {"n": 0}

    def failing_write(
        readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sqlite3.OperationalError("database or disk is full")
        real_write(readings, events)

    monkeypatch.setattr(recorder, "_write", failing_write)
    # Retry at every flush (the daemon waits RETRY_WHILE_FAILING_S between tries).
    monkeypatch.setattr("roomctl.recorder.RETRY_WHILE_FAILING_S", 0.0)
    for i in range(5):
        bus.publish(spo2(clock, 90 + i))
        await recorder.flush()
    recorder.close()
    assert len(failures) == 1  # reported once, not once per retry
    conn = sqlite3.connect(tmp_path / "rec" / "record.sqlite")
    values = [v for (v,) in conn.execute("SELECT value FROM readings ORDER BY id")]
    assert values == [90, 91, 92, 93, 94]


async def test_recorder_run_flushes_on_cancel(
    tmp_path: Path, clock: VirtualClock
) -> None:
    bus, recorder = make_recorder(tmp_path, clock)
    task = asyncio.create_task(recorder.run())
    await asyncio.sleep(0)
    bus.publish(spo2(clock, 99))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    recorder.close()
    conn = sqlite3.connect(tmp_path / "rec" / "record.sqlite")
    assert conn.execute("SELECT value FROM readings").fetchall() == [(99.0,)]

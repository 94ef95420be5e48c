"""The record's failure path, without root: SQLite's own ``SQLITE_FULL``.

``PRAGMA max_page_count`` caps the database file's size; a write that needs one page
more fails with "database or disk is full", the same error a full disk gives. (The
system test with a really full filesystem is ``test_disk_full.py``; it needs root.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING

import pytest

from roomctl.bus import EventBus
from roomctl.events import (
    OutputFailed,
    ReadingReceived,
    Route,
    SessionOpened,
    TechnicalNotice,
)
from roomctl.readings import Metric, Reading, ReadingStatus
from roomctl.recorder import PROBE_ROWS, Recorder

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from roomctl.clock import VirtualClock


def reading(clock: VirtualClock, n: int) -> ReadingReceived:
    clock.advance(1.0 / 3)
    return ReadingReceived(
        occurred_mono=clock.monotonic(),
        occurred_at=clock.now_utc(),
        reading=Reading(
            device="oximeter",
            metric=Metric.SPO2_PERCENT,
            value=float(90 + n % 10),
            status=ReadingStatus.OK,
            received_mono=clock.monotonic(),
            received_at=clock.now_utc(),
        ),
    )


def make(
    tmp_path: Path,
    clock: VirtualClock,
    on_health: Callable[[str | None], None] | None = None,
) -> tuple[EventBus, Recorder]:
    bus = EventBus()
    recorder = Recorder(
        path=tmp_path / "record.sqlite", bus=bus, clock=clock, on_health=on_health
    )
    recorder.open()
    recorder.start_session(
        SessionOpened(
            occurred_mono=0.0,
            occurred_at=clock.now_utc(),
            session_id="faults-1",
            route=Route.IV,
            infusion_min=40,
        ),
        "faults",
    )
    return bus, recorder


def cap_size(recorder: Recorder, extra_pages: int) -> None:
    """Let the database grow by ``extra_pages`` pages at most."""
    conn = recorder._connection()
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {int(pages) + extra_pages}")


def count(tmp_path: Path) -> int:
    conn = sqlite3.connect(tmp_path / "record.sqlite")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
    finally:
        conn.close()


def test_a_batch_the_disk_cuts_short_leaves_nothing_behind(
    tmp_path: Path, clock: VirtualClock
) -> None:
    bus, recorder = make(tmp_path, clock)
    cap_size(recorder, 2)
    rows: list[tuple[object, ...]] = [
        ("faults-1", float(i), "oximeter", "spo2_percent", 98.0, "ok")
        for i in range(5000)
    ]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        recorder._write(rows, [])
    # All or nothing: the retry must not write the first rows twice.
    assert count(tmp_path) == 0
    cap_size(recorder, 10_000)
    recorder._write(rows, [])
    assert count(tmp_path) == 5000
    recorder.close()
    del bus


async def test_a_full_record_is_told_retried_once_a_second_and_loses_nothing(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    health: list[str | None] = []
    bus, recorder = make(tmp_path, clock, health.append)
    told = bus.open(OutputFailed, TechnicalNotice, name="test")
    tries: list[int] = []
    real_write = recorder._write

    def counting_write(
        readings: list[tuple[object, ...]], events: list[tuple[object, ...]]
    ) -> None:
        tries.append(len(readings))
        real_write(readings, events)

    monkeypatch.setattr(recorder, "_write", counting_write)
    monkeypatch.setattr("roomctl.recorder.RETRY_WHILE_FAILING_S", 0.2)
    for n in range(10):
        bus.publish(reading(clock, n))
    await recorder.flush()
    assert count(tmp_path) == 10
    cap_size(recorder, 0)  # the disk is full from now on
    for n in range(3000):
        bus.publish(reading(clock, n))
    await recorder.flush()  # fails: everything offered once
    assert tries[-1] == 3000
    for _ in range(10):  # the daemon's 0.25 s flushes, faster: no new tries
        await recorder.flush()
    assert len(tries) == 2
    await asyncio.sleep(0.25)
    await recorder.flush()  # due again: a small probe, not the backlog
    assert tries[-1] == PROBE_ROWS
    assert len(tries) == 3
    # The alarm engine is told once that writes fail (tech.record), not per try.
    assert health == ["the disk is full"]
    cap_size(recorder, 10_000)  # space is back
    await asyncio.sleep(0.25)
    await recorder.flush()
    assert tries[-2:] == [PROBE_ROWS, 3000 - PROBE_ROWS]
    assert count(tmp_path) == 3010
    assert health == ["the disk is full", None]
    recorder.close()
    said = []
    while (event := told.get_nowait()) is not None:
        said.append(event)
    assert [type(e).__name__ for e in said] == [
        "OutputFailed",
        "TechnicalNotice",
        "TechnicalNotice",
    ]
    failed, notice, back = said
    assert isinstance(notice, TechnicalNotice)
    assert isinstance(back, TechnicalNotice)
    assert notice.component == back.component == "record"
    assert "cannot be written (the disk is full)" in notice.text
    assert "Alarms are not affected" in notice.text
    assert "nothing was lost" in back.text
    assert isinstance(failed, OutputFailed)
    assert failed.component == "recorder"


async def test_readings_dropped_for_want_of_memory_are_told(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus, recorder = make(tmp_path, clock)
    told = bus.open(TechnicalNotice, name="test")
    monkeypatch.setattr("roomctl.recorder.MAX_PENDING_ROWS", 100)
    monkeypatch.setattr("roomctl.recorder.RETRY_WHILE_FAILING_S", 0.0)
    cap_size(recorder, 0)
    for n in range(150):
        bus.publish(reading(clock, n))
    await recorder.flush()
    cap_size(recorder, 10_000)
    await recorder.flush()
    recorder.close()
    assert count(tmp_path) == 100
    texts = []
    while (event := told.get_nowait()) is not None:
        assert isinstance(event, TechnicalNotice)
        texts.append(event.text)
    assert "50 readings were lost" in texts[-1]


async def test_a_record_that_cannot_be_opened_at_start_is_opened_by_a_later_flush(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its folder cannot be made (a file stands in its place), as on a full disk at
    # start: the room must run anyway, tell it, and create the record later.
    monkeypatch.setattr("roomctl.recorder.RETRY_WHILE_FAILING_S", 0.0)
    blocker = tmp_path / "records"
    blocker.write_text("not a folder")
    bus = EventBus()
    health: list[str | None] = []
    told = bus.open(TechnicalNotice, name="test")
    recorder = Recorder(
        path=blocker / "record.sqlite", bus=bus, clock=clock, on_health=health.append
    )
    recorder.open()  # does not raise
    recorder.start_session(
        SessionOpened(
            occurred_mono=0.0,
            occurred_at=clock.now_utc(),
            session_id="late-1",
            route=Route.IV,
            infusion_min=40,
        ),
        "faults",
    )
    assert recorder.heard_tracks("ref-1") == set()
    for n in range(5):
        bus.publish(reading(clock, n))
    await recorder.flush()
    assert len(health) == 1
    assert health[0] is not None
    blocker.unlink()
    await recorder.flush()
    assert health[1:] == [None]
    recorder.close()
    conn = sqlite3.connect(blocker / "record.sqlite")
    try:
        sessions = conn.execute("SELECT id, room, ended_at FROM sessions").fetchall()
        (readings,) = conn.execute("SELECT COUNT(*) FROM readings").fetchone()
    finally:
        conn.close()
    assert [(sid, room) for sid, room, _end in sessions] == [("late-1", "faults")]
    assert sessions[0][2] is not None  # closed cleanly
    assert readings == 5
    texts = []
    while (event := told.get_nowait()) is not None:
        assert isinstance(event, TechnicalNotice)
        texts.append(event.text)
    assert "cannot be written" in texts[0]
    assert "nothing was lost" in texts[-1]

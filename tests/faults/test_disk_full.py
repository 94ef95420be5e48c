"""The session record's disk fills up mid-session, then space comes back.

A real filesystem, really full: an 8 MB tmpfs is mounted for the record (and the
capture, which lives beside it), and once the room is running another file fills it
to the last byte, so SQLite's writes fail with ``SQLITE_FULL`` ("database or disk is
full") as they would on a full disk. Mounting needs root; without it the test is
skipped and says so.

The real daemon (in-process) reads a simulated Nonin DF2 oximeter over a pty on a
scaled clock (``SPEED`` times real time, SpO2 dipping below 90 % every 70 s of session
time, so ``spo2.low`` comes and goes) and publishes to a real mosquitto. The test
checks, with counts of what was lost (all zero):

- the fault is told to the nurse in words on the room's MQTT ``events`` topic, and
  again when the record is written again;
- alarm transitions reach an MQTT subscriber as fast while the disk is full as before;
- once the filler file is deleted the record catches up by itself, and in the end it
  holds every reading and every alarm transition the daemon published, once each, in
  order; the capture file is complete and readable by ``roomctl replay``'s reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from roomctl.capture import BytesRecord, read_capture
from roomctl.events import AlarmChanged, OutputFailed, TechnicalNotice
from roomctl.readings import ProtocolId
from simulators.nonin_df2 import NoninDf2Model
from tests.faults.room import (
    SimPort,
    describe,
    report,
    running_room,
    scaled,
    wait_until,
)
from tests.faults.test_broker_kill import dips

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.broker import Broker
    from tests.faults.room import Room

SPEED = 40.0
#: The record's filesystem.
DISK_BYTES = 8 * 1024 * 1024
#: How long the disk stays full (real seconds; ~13 min of session time).
FULL_FOR_S = 20.0

pytestmark = [pytest.mark.broker, pytest.mark.pty, pytest.mark.timeout(120)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("filling a real filesystem needs root to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(disk)],
        check=True,
        capture_output=True,
    )
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the filesystem has no byte left; return it."""
    ballast = disk / "ballast"
    block = b"\0" * 65536
    with ballast.open("wb", buffering=0) as out:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    out.write(block[:size])
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return ballast


@dataclass
class Watcher:
    """An MQTT subscriber to the room: alarm lines and notices, with arrival times."""

    port: int
    alarms: list[tuple[float, dict[str, object]]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with aiomqtt.Client(
            "127.0.0.1",
            self.port,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        ) as client:
            await client.subscribe("roomctl/faults/alarms", qos=1)
            await client.subscribe("roomctl/faults/events", qos=1)
            self.ready.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                doc = json.loads(message.payload)
                if message.topic.value.endswith("/alarms"):
                    self.alarms.append((time.monotonic(), doc))
                else:
                    self.events.append(doc)

    def notices(self) -> list[str]:
        return [str(d.get("text")) for d in self.events if d.get("type") == "notice"]


def _latencies(room: Room, watcher: Watcher, start: float, end: float) -> list[float]:
    """Bus publish to MQTT arrival, for alarms published in ``[start, end)``."""
    published = room.tap.of(AlarmChanged)
    out = []
    for arrived, doc in watcher.alarms:
        seq = doc["seq"]
        assert isinstance(seq, int)
        at = published[seq - 1].at
        if start <= at < end:
            out.append(arrived - at)
    return out


def _recorded(record: Path) -> tuple[int, list[tuple[str, str, str]]]:
    conn = sqlite3.connect(record)
    try:
        (readings,) = conn.execute("SELECT COUNT(*) FROM readings").fetchone()
        alarms = [
            (d["code"], d["transition"], d["occurred_at"])
            for d in (
                json.loads(p)
                for (p,) in conn.execute(
                    "SELECT payload FROM events WHERE type = 'alarm' ORDER BY id"
                )
            )
        ]
    finally:
        conn.close()
    return int(readings), alarms


@dataclass
class Outcome:
    """What one run measured (real times from ``time.monotonic()``)."""

    full_at: float = 0.0
    failed_at: float = 0.0
    freed_at: float = 0.0
    recovered_at: float = 0.0
    alarms_while_full: int = 0
    codes_while_full: list[tuple[str, str]] = field(default_factory=list)
    published_readings: int = 0
    published_alarms: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    before: list[float] = field(default_factory=list)
    while_full: list[float] = field(default_factory=list)
    bytes_in: int = 0
    alive: bool = False


async def _fill_and_free(room: Room, watcher: Watcher, disk: Path) -> Outcome:
    out = Outcome()
    recorder = room.daemon.recorder
    await wait_until(
        "rows in the record and two alarm transitions",
        lambda: recorder.written[0] > 0 and len(room.tap.alarms()) >= 2,
        30,
    )
    healthy_from = time.monotonic()
    await asyncio.sleep(3.0)
    ballast = fill(disk)
    out.full_at = time.monotonic()
    await wait_until("the record to fail", lambda: bool(room.tap.of(OutputFailed)))
    out.failed_at = room.tap.of(OutputFailed)[0].at
    alarms_before = len(room.tap.alarms())
    await asyncio.sleep(FULL_FOR_S)
    out.alarms_while_full = len(room.tap.alarms()) - alarms_before
    out.codes_while_full = [
        (a.code, a.transition.value) for a in room.tap.alarms()[alarms_before:]
    ]
    ballast.unlink()
    out.freed_at = time.monotonic()
    written = recorder.written[0]
    await wait_until(
        "the record to be written again", lambda: recorder.written[0] > written
    )
    out.recovered_at = time.monotonic()
    await asyncio.sleep(3.0)
    await wait_until(
        "the last alarms on MQTT",
        lambda: len(watcher.alarms) >= len(room.tap.alarms()),
    )
    out.published_readings = sum(room.tap.readings.values())
    out.published_alarms = [(a.code, a.transition.value) for a in room.tap.alarms()]
    out.notices = [
        s.event.text
        for s in room.tap.of(TechnicalNotice)
        if isinstance(s.event, TechnicalNotice)
    ]
    out.before = _latencies(room, watcher, healthy_from, out.full_at)
    out.while_full = _latencies(room, watcher, out.failed_at, out.freed_at)
    out.bytes_in = room.daemon.supervisors[0].stats.bytes_in
    out.alive = room.alive()
    return out


async def test_a_full_disk_is_told_alarms_go_on_and_nothing_is_lost(
    tmp_path: Path,
    small_disk: Path,
    broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = scaled(SPEED, monkeypatch)
    port = SimPort(
        NoninDf2Model(dips(hours=4), seed=5), link_path=tmp_path / "ox", speed=SPEED
    )
    watcher = Watcher(broker.port)
    watching = asyncio.create_task(watcher.run())
    await asyncio.wait_for(watcher.ready.wait(), 10)
    try:
        async with running_room(
            tmp_path,
            {"oximeter": (ProtocolId.NONIN_DF2.value, port)},
            clock=clock,
            mqtt_url=broker.url,
            record_dir=small_disk,
        ) as room:
            out = await _fill_and_free(room, watcher, small_disk)
        await asyncio.sleep(0.5)  # the last events on MQTT
        mqtt_notices = watcher.notices()
        mqtt_alarms = list(watcher.alarms)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await watching
    readings, alarms = _recorded(small_disk / "record.sqlite")
    (capture_file,) = (small_disk / "captures").glob("*.jsonl")
    with capture_file.open(encoding="utf-8") as stream:
        _header, records = read_capture(stream, str(capture_file))
        rx = sum(
            len(r.data) for r in records if isinstance(r, BytesRecord) and r.received
        )
    report(
        "disk-full",
        full_for_s=round(out.freed_at - out.full_at, 1),
        detected_after_s=round(out.failed_at - out.full_at, 2),
        resumed_after_s=round(out.recovered_at - out.freed_at, 2),
        alarm_transitions_while_full=out.alarms_while_full,
        alarm_codes_while_full=sorted({c for c, _t in out.codes_while_full}),
        mqtt_latency_before=describe(out.before),
        mqtt_latency_while_full=describe(out.while_full),
        readings_published=out.published_readings,
        readings_recorded=readings,
        readings_lost=out.published_readings - readings,
        alarms_published=len(out.published_alarms),
        alarms_recorded=len(alarms),
        capture_rx_bytes=rx,
        bytes_read=out.bytes_in,
        notices=out.notices,
        notices_on_mqtt=mqtt_notices,
    )
    assert out.alive
    assert len(out.while_full) >= 3
    assert max(out.while_full) <= 1.0
    assert readings == out.published_readings
    assert [(c, t) for c, t, _at in alarms] == out.published_alarms
    assert rx == out.bytes_in
    # A clear technical alarm while the disk is full, gone once it is written again.
    record_alarm = [
        (d["transition"], d["priority"], d.get("text"))
        for _at, d in mqtt_alarms
        if d["code"] == "tech.record"
    ]
    # (Unacknowledged for 2 min of session time, it also gets louder: "reminded".)
    transitions = [t for t, _p, _x in record_alarm if t != "reminded"]
    assert transitions == ["raised", "cleared"], record_alarm
    assert record_alarm[0][1] == "medium"
    assert "not saved: the disk is full" in str(record_alarm[0][2])
    # ... and the physiological alarms kept coming while it was.
    assert any(c == "spo2.low" for c, _t in out.codes_while_full)
    said = [n for n in mqtt_notices if "session record" in n]
    assert len(said) == 2, mqtt_notices
    assert "cannot be written (the disk is full)" in said[0]
    assert "Alarms are not affected" in said[0]
    assert "written again" in said[1]
    assert "nothing was lost" in said[1]


#: How long the disk stays full from the start (real seconds; ~5 min of session time).
FULL_AT_START_S = 8.0


async def test_a_room_started_on_a_full_disk_runs_alarms_and_records_once_freed(
    tmp_path: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The record file does not exist yet and cannot be created: the daemon must
    # start anyway (alarms first), raise tech.record, and create the record, with
    # its session row and every reading, once the disk takes writes again.
    clock = scaled(SPEED, monkeypatch)
    port = SimPort(
        NoninDf2Model(dips(hours=4), seed=7), link_path=tmp_path / "ox", speed=SPEED
    )
    ballast = fill(small_disk)
    async with running_room(
        tmp_path,
        {"oximeter": (ProtocolId.NONIN_DF2.value, port)},
        clock=clock,
        record_dir=small_disk,
    ) as room:
        await wait_until(
            "tech.record raised",
            lambda: (
                ("tech.record", "raised")
                in [(a.code, a.transition.value) for a in room.tap.alarms()]
            ),
            15,
        )
        await asyncio.sleep(FULL_AT_START_S)
        while_full = [(a.code, a.transition.value) for a in room.tap.alarms()]
        assert room.daemon.recorder.written == [0, 0]
        ballast.unlink()
        await wait_until(
            "tech.record cleared",
            lambda: (
                ("tech.record", "cleared")
                in [(a.code, a.transition.value) for a in room.tap.alarms()]
            ),
            15,
        )
        await asyncio.sleep(2.0)
        published_readings = sum(room.tap.readings.values())
        published = [(a.code, a.transition.value) for a in room.tap.alarms()]
        session_id = room.daemon.session_id
        alive = room.alive()
    readings, alarms = _recorded(small_disk / "record.sqlite")
    conn = sqlite3.connect(small_disk / "record.sqlite")
    try:
        sessions = [sid for (sid,) in conn.execute("SELECT id FROM sessions")]
    finally:
        conn.close()
    report(
        "disk-full-at-start",
        alarm_transitions_while_full=len(while_full),
        alarm_codes_while_full=sorted({c for c, _t in while_full}),
        readings_published=published_readings,
        readings_recorded=readings,
        alarms_published=len(published),
        alarms_recorded=len(alarms),
    )
    assert alive
    assert any(c == "spo2.low" for c, _t in while_full), while_full
    assert sessions == [session_id]
    assert readings == published_readings
    assert [(c, t) for c, t, _at in alarms] == published
    (capture_file,) = (small_disk / "captures").glob("*.jsonl")
    with capture_file.open(encoding="utf-8") as stream:
        header, records = read_capture(stream, str(capture_file))
        assert header.room == "faults"
        assert any(isinstance(r, BytesRecord) for r in records)

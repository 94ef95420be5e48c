from __future__ import annotations

import csv
import json
import sqlite3
import stat
from typing import TYPE_CHECKING

from roomctl.events import AlarmChanged, AlarmKind, AlarmPriority, AlarmTransition
from roomctl.export import export_session
from roomctl.export.csv_export import COLUMNS, safe_text
from tests.unit.export.records import (
    ALARM_TEXT,
    DOSE_AT_S,
    LINK_DOWN_S,
    NOTE_TEXT,
    PATIENT_REF,
    SAMPLES_S,
    SENSOR_OFF_S,
    SESSION_ID,
    START_AT,
    SessionBuilder,
    spo2_at,
)

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.history import SessionHistory


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_holds_every_reading_and_event_in_time_order(
    record: Path, history: SessionHistory, tmp_path: Path
) -> None:
    out = tmp_path / "session.csv"
    said = export_session(record, SESSION_ID, out=out, mllp=None)
    rows = read_rows(out)
    with out.open(encoding="utf-8", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == COLUMNS
    readings = [r for r in rows if r["kind"] == "reading"]
    events = [r for r in rows if r["kind"] == "event"]
    assert len(readings) == len(history.readings) > 0
    assert len(events) == len(history.events) > 0
    assert len(rows) == len(readings) + len(events)
    times = [r["time_utc"] for r in rows]
    assert times == sorted(times)
    assert said == (
        f"wrote {len(history.readings)} readings and {len(history.events)} events "
        f"of session {SESSION_ID} to {out}"
    )


def test_csv_readings_carry_value_status_and_time_from_dose(
    record: Path, tmp_path: Path
) -> None:
    out = tmp_path / "session.csv"
    export_session(record, SESSION_ID, out=out, mllp=None)
    spo2 = [
        r
        for r in read_rows(out)
        if r["kind"] == "reading" and r["name"] == "spo2_percent"
    ]
    samples = [s for s in SAMPLES_S if s not in LINK_DOWN_S]
    assert len(spo2) == len(samples)
    first = spo2[0]
    assert first["time_utc"] == "2026-11-21T09:00:00.000Z"
    assert first["t_from_dose_s"] == f"{-DOSE_AT_S:g}"
    assert (first["device"], first["value"], first["status"]) == (
        "oximeter",
        f"{spo2_at(0):g}",
        "ok",
    )
    off = [r for r in spo2 if r["status"] == "sensor_off"]
    assert [r["value"] for r in off] == [""] * len(SENSOR_OFF_S)
    at_dose = next(r for r in spo2 if r["t_from_dose_s"] == "0")
    assert at_dose["time_utc"] == "2026-11-21T09:01:00.000Z"


def test_csv_events_carry_their_fields_and_whole_payload(
    record: Path, history: SessionHistory, tmp_path: Path
) -> None:
    out = tmp_path / "session.csv"
    export_session(record, SESSION_ID, out=out, mllp=None)
    events = [r for r in read_rows(out) if r["kind"] == "event"]
    by_name: dict[str, list[dict[str, str]]] = {}
    for row in events:
        by_name.setdefault(row["name"], []).append(row)

    (alarm,) = by_name["alarm"]
    assert (alarm["code"], alarm["priority"], alarm["status"], alarm["value"]) == (
        "bp.high",
        "medium",
        "raised",
        "184/112",
    )
    assert alarm["text"] == ALARM_TEXT
    recorded = next(e for e in history.events if e.type == "alarm")
    assert json.loads(alarm["details"]) == recorded.payload

    links = [(r["device"], r["status"], r["text"]) for r in by_name["link"]]
    assert links == [
        ("oximeter", "stale", ""),
        ("oximeter", "lost", "cable unplugged"),
        ("oximeter", "up", ""),
    ]
    (phase,) = by_name["phase"]
    assert (phase["status"], phase["code"], phase["by"]) == (
        "dosing",
        "dosing",
        "nurse",
    )
    (command,) = by_name["command"]
    assert (command["code"], command["by"]) == ("acknowledge", "nurse")
    (result,) = by_name["command_result"]
    assert result["status"] == "done"
    nibp = by_name["reading"]
    assert [(r["device"], r["status"]) for r in nibp] == [
        ("nibp", "ok"),
        ("nibp", "device_error"),
    ]
    assert nibp[1]["text"] == "inflate timeout, air leak or loose cuff"
    assert json.loads(nibp[1]["details"])["reading"]["error_code"] == 87


def test_csv_keeps_note_text_exact_but_inert_for_spreadsheets(
    record: Path, tmp_path: Path
) -> None:
    out = tmp_path / "session.csv"
    export_session(record, SESSION_ID, out=out, mllp=None)
    (note,) = [r for r in read_rows(out) if r["name"] == "note"]
    assert NOTE_TEXT.startswith("=")
    assert note["text"] == "'" + NOTE_TEXT
    assert json.loads(note["details"])["text"] == NOTE_TEXT
    raw = out.read_bytes()
    assert "Café".encode() in raw
    assert b'""calm""' in raw  # RFC 4180: quotes doubled inside a quoted field
    assert raw.count(b"\r\n") >= len(read_rows(out)) + 1


def test_csv_is_readable_by_its_owner_only_and_names_no_patient(
    record: Path, tmp_path: Path
) -> None:
    out = tmp_path / "session.csv"
    export_session(record, SESSION_ID, out=out, mllp=None)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert PATIENT_REF.encode() not in out.read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))


async def test_csv_leaves_time_from_dose_empty_without_a_dose(tmp_path: Path) -> None:
    record = tmp_path / "record.sqlite"
    session = SessionBuilder(path=record)
    session.oximetry(0)
    session.oximetry(1)
    await session.finish()
    out = tmp_path / "pre.CSV"
    export_session(record, SESSION_ID, out=out, mllp=None)
    rows = read_rows(out)
    assert len(rows) == 6
    assert {r["t_from_dose_s"] for r in rows} == {""}


def test_csv_safe_text_changes_only_formula_starts() -> None:
    assert [safe_text(t) for t in ("+1", "-x", "@a", "\tq", "a=b", "")] == [
        "'+1",
        "'-x",
        "'@a",
        "'\tq",
        "a=b",
        "",
    ]


async def test_csv_writes_numeric_alarm_values_and_blanks_a_corrupt_reading(
    tmp_path: Path,
) -> None:
    record = tmp_path / "record.sqlite"
    session = SessionBuilder(path=record)
    session.publish(
        5.0,
        AlarmChanged,
        transition=AlarmTransition.RAISED,
        code="spo2.low",
        priority=AlarmPriority.HIGH,
        kind=AlarmKind.PHYSIOLOGICAL,
        value=88.0,
        limit=90.0,
    )
    await session.finish()
    conn = sqlite3.connect(record)
    with conn:
        conn.execute(
            "INSERT INTO readings (session_id, ts, device, metric, value, status)"
            " VALUES (?, ?, 'oximeter', 'spo2_percent', NULL, 'ok')",
            (SESSION_ID, START_AT.timestamp() + 6),
        )
    conn.close()
    out = tmp_path / "x.csv"
    export_session(record, SESSION_ID, out=out, mllp=None)
    alarm, reading = read_rows(out)
    assert (alarm["name"], alarm["value"], alarm["priority"]) == ("alarm", "88", "high")
    assert (reading["value"], reading["status"]) == ("", "ok")

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.export.hl7 import build_messages, escape, hl7_time
from roomctl.history import load_session, open_record
from tests.unit.export.hl7_checker import (
    field,
    parse_timestamp,
    problems,
    split_messages,
    unescape,
)
from tests.unit.export.records import (
    ALARM_TEXT,
    DOSE_AT_S,
    LINK_DOWN_S,
    NIBP_FAILED_AT_S,
    NIBP_OK_AT_S,
    PATIENT_REF,
    ROOM,
    SAMPLES_S,
    SENSOR_OFF_S,
    SESSION_ID,
    START_AT,
    build_full_session,
    pulse_at,
    spo2_at,
)

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.export.hl7 import Hl7Message
    from roomctl.history import SessionHistory

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SPO2, PULSE = 150456, 149530
SYS, DIA, MEAN, NIBP_PULSE = 150021, 150022, 150023, 149546


def build(history: SessionHistory) -> list[Hl7Message]:
    return build_messages(history, control_prefix="TEST", now=NOW)


def observations(messages: list[Hl7Message]) -> list[tuple[int, str, str, str, str]]:
    """(code, value, OBX-8, OBX-11, OBX-14) of every metric OBX, in order."""
    found = []
    for message in messages:
        for segment in message.text.split("\r"):
            if segment.startswith("OBX|") and field(segment, 2) == "NM":
                code = int(field(segment, 3).split("^")[0])
                found.append(
                    (
                        code,
                        field(segment, 5),
                        field(segment, 8),
                        field(segment, 11),
                        field(segment, 14),
                    )
                )
    return found


def stamp(second: float) -> str:
    return hl7_time(START_AT.timestamp() + second)


def test_hl7_export_of_a_session_passes_the_structural_check(
    history: SessionHistory,
) -> None:
    messages = build(history)
    text = "".join(m.text for m in messages)
    assert problems(text) == []
    # three minutes of oximetry and two NIBP determinations
    assert len(messages) == 5
    assert [m.control_id for m in messages] == [f"TEST{n:06d}" for n in range(1, 6)]


def test_hl7_messages_follow_time_and_batch_oximetry_per_minute(
    history: SessionHistory,
) -> None:
    messages = build(history)
    firsts = []
    for message in messages:
        obr = [s for s in message.text.split("\r") if s.startswith("OBR|")]
        firsts.append((len(obr), field(obr[0], 7)))
    samples_minute_2 = len([s for s in SAMPLES_S if s >= 120 and s not in LINK_DOWN_S])
    assert firsts == [
        (60, stamp(0)),  # minute 0: one OBR per sample time
        (60, stamp(60)),
        (1, stamp(NIBP_OK_AT_S)),
        (1, stamp(NIBP_FAILED_AT_S)),
        (samples_minute_2, stamp(125)),
    ]


def test_hl7_reports_every_valid_reading_with_its_value_and_time(
    history: SessionHistory,
) -> None:
    found = observations(build(history))
    valid = [(c, v, t) for c, v, flag, status, t in found if status == "R"]
    expected_oximetry = []
    for second in SAMPLES_S:
        if second in SENSOR_OFF_S or second in LINK_DOWN_S:
            continue
        expected_oximetry += [
            (SPO2, f"{spo2_at(second):g}", stamp(second)),
            (PULSE, f"{pulse_at(second):g}", stamp(second)),
        ]
    nibp = [(code, value) for code, value, _ in valid if code in {SYS, DIA, MEAN}]
    assert [v for v in valid if v[0] in {SPO2, PULSE}] == expected_oximetry
    assert nibp == [(SYS, "128"), (DIA, "82"), (MEAN, "97")]
    assert (NIBP_PULSE, "74", stamp(NIBP_OK_AT_S)) in valid
    # perfusion index has no verified MDC code: never exported
    assert len(found) == len(expected_oximetry) + 2 * 3 + 8


def test_hl7_marks_invalid_readings_as_not_obtained_with_no_value(
    history: SessionHistory,
) -> None:
    found = observations(build(history))
    invalid = [(c, v, flag, t) for c, v, flag, status, t in found if status == "X"]
    expected = [(SPO2, "", "NAV", stamp(s)) for s in SENSOR_OFF_S]
    expected += [(PULSE, "", "NAV", stamp(s)) for s in SENSOR_OFF_S]
    expected += [
        (code, "", "NAV", stamp(NIBP_FAILED_AT_S))
        for code in (SYS, DIA, MEAN, NIBP_PULSE)
    ]
    assert sorted(invalid) == sorted(expected)


async def test_hl7_marks_a_value_without_a_reason_as_no_information(
    tmp_path: Path,
) -> None:
    path = tmp_path / "record.sqlite"
    await build_full_session(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO readings (session_id, ts, device, metric, value, status)"
            " VALUES (?, ?, 'oximeter', 'spo2_percent', ?, ?)",
            [
                (SESSION_ID, START_AT.timestamp() + 200, None, "unavailable"),
                (SESSION_ID, START_AT.timestamp() + 201, None, "ok"),  # corrupt row
                (SESSION_ID, START_AT.timestamp() + 202, 99.0, "artifact"),  # corrupt
            ],
        )
    conn.close()
    conn = open_record(path)
    history = load_session(conn, SESSION_ID)
    conn.close()
    messages = build(history)
    last = observations(messages[-1:])
    assert last == [
        (SPO2, "", "NI", "X", stamp(200)),
        (SPO2, "", "NI", "X", stamp(201)),
        (SPO2, "", "NAV", "X", stamp(202)),
    ]
    assert problems(messages[-1].text) == []


def test_hl7_identifies_the_session_and_room_and_no_patient(
    history: SessionHistory,
) -> None:
    messages = build(history)
    text = "".join(m.text for m in messages)
    assert PATIENT_REF not in text
    for segments in split_messages(text):
        pid = segments[1]
        pv1 = segments[2]
        assert field(pid, 3) == f"{SESSION_ID}^^^ROOMCTL^ANON"
        assert field(pid, 5) == ""
        assert field(pv1, 3) == f"^{ROOM}"
        assert field(pv1, 19) == f"{SESSION_ID}^^^ROOMCTL^VN"


def test_hl7_uses_flat_containment_with_fixed_metric_positions(
    history: SessionHistory,
) -> None:
    messages = build(history)
    positions: dict[int, set[str]] = {}
    for segment in "".join(m.text for m in messages).split("\r"):
        if segment.startswith("OBX|"):
            code = int(field(segment, 3).split("^")[0])
            positions.setdefault(code, set()).add(field(segment, 4))
    assert positions == {
        69965: {"1.0.0.0"},
        SPO2: {"1.0.0.1"},
        PULSE: {"1.0.0.2"},
        SYS: {"1.0.0.3"},
        DIA: {"1.0.0.4"},
        MEAN: {"1.0.0.5"},
        NIBP_PULSE: {"1.0.0.6"},
    }


async def test_hl7_escapes_the_room_and_device_names(tmp_path: Path) -> None:
    room = "Room 3|B^C&D~E\\F"
    path = tmp_path / "record.sqlite"
    await build_full_session(path, room=room)
    conn = open_record(path)
    history = load_session(conn, SESSION_ID)
    conn.close()
    messages = build(history)
    text = "".join(m.text for m in messages)
    assert problems(text) == []
    pv1 = split_messages(text)[0][2]
    assert unescape(field(pv1, 3).split("^")[1]) == room
    header_obx = next(s for s in text.split("\r") if s.startswith("OBX|1|"))
    assert unescape(field(header_obx, 18).split("^")[0]) == room


def test_hl7_times_are_utc_with_milliseconds() -> None:
    at = START_AT.timestamp() + 0.25
    assert hl7_time(at) == "20261121090000.250+0000"
    assert parse_timestamp(hl7_time(at)) == datetime.fromtimestamp(at, UTC)
    assert hl7_time(START_AT.timestamp() + 59.9996) == "20261121090100+0000"


def test_hl7_refuses_a_bad_control_id_prefix(history: SessionHistory) -> None:
    with pytest.raises(ValueError, match="control id prefix"):
        build_messages(history, control_prefix="A|B", now=NOW)
    with pytest.raises(ValueError, match="control id prefix"):
        build_messages(history, control_prefix="X" * 15, now=NOW)


def test_hl7_alarm_text_round_trips_through_escaping() -> None:
    escaped = escape(ALARM_TEXT)
    assert not set("|^&~") & set(escaped)
    assert unescape(escaped) == ALARM_TEXT


@given(st.text())
def test_hl7_escaping_round_trips_any_text(text: str) -> None:
    escaped = escape(text)
    assert not set("|^&~\r\n") & set(escaped)
    assert unescape(escaped) == text


def test_hl7_dose_start_is_inside_the_session(history: SessionHistory) -> None:
    # guards the record builder the other tests rely on
    assert history.dose_start_ts == START_AT.timestamp() + DOSE_AT_S


# ------------------------------------------------------------------ the checker


def _valid_text(history: SessionHistory) -> str:
    return build(history)[2].text  # the NIBP message: short and complete


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "150021^MDC_PRESS_BLD_NONINV_SYS",
            "150017^MDC_PRESS_BLD_NONINV_SYS",
            "150017",
        ),
        (
            "150021^MDC_PRESS_BLD_NONINV_SYS",
            "150021^MDC_PRESS_BLD_NONINV_DIA",
            "150021",
        ),
        (
            "149546^MDC_PULS_RATE_NON_INV^MDC|1.0.0.6|74|264864",
            "x|1.0.0.6|74|264864",
            "",
        ),
        ("|82|266016^MDC_DIM_MMHG", "|82|262688^MDC_DIM_PERCENT", "unit 262688"),
        ("|128|", "|1.2e2|", "NM"),
        ("|128|", "||", "OBX-11"),
        ("|P|2.6|", "|P|2.5|", "MSH-12"),
        ("ORU^R01^ORU_R01", "ORU^R01", "MSH-9"),
        ("+0000", "+00", "timestamp"),
        ("20261121", "20261321", "timestamp"),
        ("|1.0.0.4|", "|1.0.0.3|", "repeated"),
        ("PID|||", "PID|||x\\Q\\", "escape"),
        ("^^^ROOMCTL^ANON", "^^^ROOMCTL^ANON||Doe^Jane", "PID-5"),
    ],
)
def test_checker_finds_a_broken_message(
    history: SessionHistory, old: str, new: str, problem: str
) -> None:
    text = _valid_text(history)
    assert old in text
    found = problems(text.replace(old, new, 1))
    assert found
    assert any(problem in p for p in found), found


def test_checker_finds_segments_out_of_order(history: SessionHistory) -> None:
    segments = _valid_text(history).split("\r")
    segments[1], segments[2] = segments[2], segments[1]
    assert any("segment order" in p for p in problems("\r".join(segments)))


def test_checker_finds_lf_segment_ends_and_repeated_control_ids(
    history: SessionHistory,
) -> None:
    text = _valid_text(history)
    assert any("LF" in p for p in problems(text.replace("\r", "\r\n")))
    assert any("MSH-10 repeated" in p for p in problems(text + text))

"""The report's words and the PDF page layout (pure: no matplotlib)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from roomctl import SAFETY_NOTICE
from roomctl.report.pdf import (
    COLUMN_GAP,
    LINE_CHARS,
    Line,
    column_widths,
    layout,
    table_lines,
)
from roomctl.report.tables import (
    Table,
    alarm_table,
    baseline_table,
    command_table,
    discharge_table,
    duration,
    gap_table,
    music_table,
    note_table,
    phase_table,
    session_table,
    summary_lines,
    tables,
    title,
)
from tests.unit.report.session_record import NOTE_TEXT, SESSION_ID

if TYPE_CHECKING:
    from roomctl.report import ReportModel


def rows_of(table: Table) -> dict[str, str]:
    return dict(table.rows)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (40.4, "40 s"),
        (60, "1 min"),
        (725, "12 min 5 s"),
        (7500, "2 h 05 min"),
    ],
)
def test_duration_in_words(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_session_and_title(model: ReportModel) -> None:
    kv = rows_of(session_table(model))
    assert kv["Session"] == SESSION_ID
    assert kv["Route"] == "IM"
    assert kv["Started"] == "2026-11-21 09:00:00"
    assert kv["Ended"] == "2026-11-21 09:50:00"
    assert kv["Duration"] == "50 min"
    assert kv["Minutes counted from"] == "dose start at 09:10:00"
    assert kv["Clock times in"] == "UTC"
    assert kv["Report made"] == "2026-11-22 08:00"
    assert title(model) == f"Session report {SESSION_ID}: room room-3, 2026-11-21"


def test_clock_times_follow_the_report_zone(model: ReportModel) -> None:
    vienna = dataclasses.replace(model, tz=timezone(timedelta(hours=1), "CET"))
    kv = rows_of(session_table(vienna))
    assert kv["Started"] == "2026-11-21 10:00:00"
    assert kv["Clock times in"] == "CET"


def test_alarm_table_says_who_acknowledged_and_when_it_ended(
    model: ReportModel,
) -> None:
    table = alarm_table(model)
    assert table.columns[:2] == ("Raised", "Code")
    rows = {row[1]: row for row in table.rows}
    assert rows["bp.high"] == (
        "09:30:00 (+20:00)",
        "bp.high",
        "low > medium",
        "BP 184/112 >= 180/110 (1 reminder)",
        "nurse 09:34:00 (+24:00)",
        "cleared 09:39:00 (+29:00)",
        "9 min",
    )
    assert rows["tech.link.oximeter"][4] == "-"
    assert rows["tech.link.oximeter"][5] == "cleared 09:18:50 (+8:50)"


def test_gap_phase_note_command_music_tables(model: ReportModel) -> None:
    assert gap_table(model).rows == (
        (
            "oximeter",
            "lost (link lost)",
            "09:18:00 (+8:00)",
            "09:18:40 (+8:40)",
            "40 s",
        ),
    )
    assert phase_table(model).rows[0] == (
        "preparation",
        "09:00:00 (-10:00)",
        "session opened",
        "10 min",
    )
    assert phase_table(model).rows[-1] == (
        "integration",
        "09:46:00 (+36:00)",
        "nurse",
        "4 min",
    )
    assert note_table(model).rows == (("09:28:00 (+18:00)", "therapist", NOTE_TEXT),)
    outcomes = {row[1]: row[5] for row in command_table(model).rows}
    assert outcomes["acknowledge"] == "done"
    assert outcomes["reset"].startswith("refused: bp.high does not latch")
    assert [row[2] for row in music_table(model).rows] == [
        "Slow Pads I",
        "Drone in D",
        "Deep Field",
        "Return Light",
    ]


def test_discharge_and_baseline_tables(model: ReportModel) -> None:
    discharge = discharge_table(model).rows
    assert ("Discharge-ready", "no") in discharge
    assert (
        "Not ready because",
        "Minimum monitoring runs until +120 min (80 min to go).",
    ) in discharge
    assert ("Minimum monitoring until", "11:10:00 (+120:00)") in discharge
    base = rows_of(baseline_table(model))
    assert base["Blood pressure"] == "124/78 mmHg"
    assert base["Status"] == "confirmed by nurse at 09:09:00 (-1:00)"
    assert base["Recomputed with"] == "the default alarm policy"
    assert "Note" not in base
    differing = rows_of(baseline_table(dataclasses.replace(model, differences=3)))
    assert differing["Note"].startswith("3 alarm transitions")


def test_empty_tables_say_so(model: ReportModel) -> None:
    empty = dataclasses.replace(model, alarms=(), notes=(), gaps=(), music=())
    assert alarm_table(empty).rows == ()
    assert alarm_table(empty).empty == "No alarm was raised."
    assert gap_table(empty).empty == "Every device link stayed up."


def test_summary_lines(model: ReportModel) -> None:
    lines = summary_lines(model)
    assert lines[0] == (
        "Route IM; 09:00:00 to 09:50:00, 50 min; minutes from dose start."
    )
    assert lines[1].startswith("Discharge-ready: no - Minimum monitoring runs")
    assert lines[2] == "Baseline (confirmed): BP 124/78 mmHg, HR 78 bpm, SpO2 98 %."
    assert lines[3].startswith("Alarms: 0 high, 3 medium, 0 low. Rise episodes: 1.")
    assert lines[-1] == SAFETY_NOTICE


# ------------------------------------------------------------------ PDF layout


def _table(rows: int, cell: str = "x", columns: int = 3) -> Table:
    return Table(
        title="T",
        columns=tuple(f"column {i}" for i in range(columns)),
        rows=tuple(tuple(cell for _ in range(columns)) for _ in range(rows)),
    )


def test_columns_fit_the_line_and_wide_cells_wrap() -> None:
    wide = _table(3, cell="word " * 60, columns=4)
    widths = column_widths(wide)
    assert sum(widths) + COLUMN_GAP * 3 <= LINE_CHARS
    head, rows = table_lines(wide)
    assert len(head) == 1
    assert all(len(line.text) <= LINE_CHARS for row in rows for line in row)
    assert len(rows[0]) > 1  # wrapped
    assert " ".join(rows[0][0].text.split()).startswith("word word")


def test_layout_continues_a_long_table_with_its_header() -> None:
    pages = layout([_table(100)], lines=40)
    assert len(pages) == 3
    assert all(len(page) <= 40 for page in pages)
    assert pages[1][0] == Line("title", "T (continued)")
    assert pages[1][1].kind == "header"
    rows = [line for page in pages for line in page if line.kind == "row"]
    assert len(rows) == 100


def test_layout_keeps_a_title_with_its_first_row_and_rows_whole() -> None:
    tall_row = Table(title="Tall", columns=("a", "b"), rows=(("x\n", "y " * 400),))
    pages = layout([_table(36), tall_row], lines=40)
    # 1 title + 1 header + 36 rows = 38 lines: the next title would be alone.
    assert [line.kind for line in pages[1][:2]] == ["title", "header"]
    assert pages[1][0].text == "Tall"
    (row_lines,) = table_lines(tall_row)[1]
    assert len(pages[1]) == 2 + len(row_lines)


def test_layout_splits_a_row_longer_than_a_page() -> None:
    huge = Table(title="Notes", columns=("a", "b"), rows=(("x", "word " * 3000),))
    pages = layout([huge], lines=40)
    lines = [line for page in pages for line in page if line.kind == "row"]
    assert len(pages) > 2
    assert len(lines) == len(table_lines(huge)[1][0])
    assert all(len(page) <= 40 for page in pages)


def test_layout_of_the_session(model: ReportModel) -> None:
    pages = layout(tables(model))
    titles = [line.text for page in pages for line in page if line.kind == "title"]
    assert titles[:4] == ["Session", "Discharge", "Baseline", "Alarms"]
    assert "Music played" in titles
    texts = [line.text for page in pages for line in page]
    assert any("nurse 09:34:00 (+24:00)" in text for text in texts)

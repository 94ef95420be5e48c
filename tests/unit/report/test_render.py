"""The report's files: self-contained HTML, a searchable PDF, a PNG of the right size.

Rendered with the real matplotlib (Agg and its PDF backend) from the real record;
the images are decoded with Pillow and the PDF's text is read back from its content
streams.
"""

from __future__ import annotations

import base64
import io
import math
import re
import stat
import zlib
from typing import TYPE_CHECKING

import numpy as np
import pytest
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure
from PIL import Image

from roomctl import SAFETY_NOTICE
from roomctl.events import AlarmPriority
from roomctl.report.chart import PRIORITY_COLOURS, SPO2_COLOUR, broken, draw_chart
from roomctl.report.pdf import page_count
from roomctl.report.render import PNG_DPI, PNG_SIZE_IN, html_report, write_report
from tests.unit.report.session_record import PATIENT_REF, SESSION_ID

if TYPE_CHECKING:
    from pathlib import Path

    from roomctl.report import ReportModel

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_TEXT_OBJECT = re.compile(rb"BT(.*?)ET", re.DOTALL)
_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.DOTALL)


_ESCAPES = {
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"f": b"\f",
    b"(": b"(",
    b")": b")",
    b"\\": b"\\",
}


def _unescape(raw: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        return _ESCAPES[code] if code in _ESCAPES else bytes([int(code, 8) & 0xFF])

    return re.sub(rb"\\([nrtbf()\\]|[0-7]{1,3})", one, raw)


def pdf_text(data: bytes) -> str:
    """The text matplotlib wrote, one text object a line.

    With ``pdf.fonttype`` 42 the strings are two bytes a character (UTF-16).
    """
    lines = []
    for match in _STREAM.finditer(data):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        for text_object in _TEXT_OBJECT.finditer(content):
            raw = b"".join(_unescape(s) for s in _STRING.findall(text_object.group(1)))
            lines.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(lines)


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


@pytest.fixture(scope="module")
def html(model: ReportModel) -> str:
    return html_report(model)


def test_html_is_one_self_contained_file(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    sources = re.findall(r'src="([^"]*)"', html)
    markup = re.sub(r'src="data:image/png;base64,[A-Za-z0-9+/=]*"', "", html)
    assert "src=" not in markup
    external = r"https?:|//\w|<link|<script|@import|url\("
    assert not re.search(external, markup, re.IGNORECASE)
    assert len(sources) == 1
    assert sources[0].startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(sources[0].split(",", 1)[1])))
    image.load()
    assert image.format == "PNG"
    assert image.size == (1430, 935)


def test_html_holds_the_tables_and_the_notice(html: str) -> None:
    for heading in (
        "Session",
        "Discharge",
        "Baseline",
        "Alarms",
        "Rise episodes",
        "Phases",
        "Notes",
        "Operator commands",
        "Device link gaps",
        "Music played",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert html.count(SAFETY_NOTICE.replace("'", "&#x27;")) == 2
    assert "<td>nurse 09:34:00 (+24:00)</td>" in html
    assert (
        '<span class="low">low</span> &gt; <span class="medium">medium</span>' in html
    )
    assert "Discharge-ready: no" in html
    assert SESSION_ID in html


def test_no_report_names_the_patient(
    model: ReportModel, html: str, tmp_path: Path
) -> None:
    assert PATIENT_REF not in html
    for suffix in (".png", ".pdf"):
        out = tmp_path / f"report{suffix}"
        write_report(model, out)
        data = out.read_bytes()
        assert PATIENT_REF.encode() not in data
        if suffix == ".pdf":
            assert PATIENT_REF not in pdf_text(data)


def test_pdf_pages_and_searchable_text(model: ReportModel, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    message = write_report(model, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert pdf_pages(data) == page_count(model) == 3
    assert "3 pages" in message
    text = pdf_text(data)
    for expected in (
        "Discharge-ready: no",
        "Minimum monitoring runs until +120 min",
        "Operator commands",
        "bp.high",
        "nurse 09:34:00 (+24:00)",
        "Device link gaps",
        "Return Light",
        "page 3 of 3",
        "Minutes from dose start",
    ):
        assert expected in text, expected
    assert text.count(SAFETY_NOTICE) == 3  # on every page
    assert SESSION_ID.encode() in data  # the document's title


def test_png_report_size_and_no_software_chunk(
    model: ReportModel, tmp_path: Path
) -> None:
    out = tmp_path / "report.png"
    write_report(model, out)
    image = Image.open(out)
    image.load()
    assert image.format == "PNG"
    assert image.size == (
        round(PNG_SIZE_IN[0] * PNG_DPI),
        round(PNG_SIZE_IN[1] * PNG_DPI),
    )
    assert b"matplotlib" not in out.read_bytes().lower()


def test_report_files_are_owner_only_and_written_whole(
    model: ReportModel, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    message = write_report(model, out)
    assert message == f"wrote the HTML report of session {SESSION_ID} to {out}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(ValueError, match=r"\.pdf, \.html or \.png, not \.docx"):
        write_report(model, tmp_path / "report.docx")
    with pytest.raises(FileNotFoundError):
        write_report(model, tmp_path / "missing" / "report.png")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# ------------------------------------------------------------------ the chart


def test_chart_draws_phases_alarm_lanes_and_gaps(model: ReportModel) -> None:
    fig = Figure(figsize=(12, 9))
    draw_chart(fig, model, (0.08, 0.07, 0.92, 0.98))
    phases, alarms, spo2, pulse, bp = fig.axes
    assert [t.get_text() for t in phases.texts] == [
        "preparation",
        "dosing",
        "peak",
        "return",
        "integration",
    ]
    # The alarm lanes: bars in the priority colours, triangles where raised/escalated.
    lane_colours = {
        tuple(np.round(to_rgba_array(collection.get_edgecolor())[0], 3))
        for collection in alarms.collections
    }
    for priority in (AlarmPriority.LOW, AlarmPriority.MEDIUM):
        rgba = tuple(np.round(to_rgba_array(PRIORITY_COLOURS[priority])[0], 3))
        assert rgba in lane_colours
    assert len(alarms.lines) == len(model.marks)
    assert {t.get_text() for t in alarms.texts} >= {"bp.high", "tech.link.oximeter"}
    # The SpO2 line breaks in the pulled-cable gap instead of bridging it.
    (line,) = [ln for ln in spo2.lines if ln.get_color() == SPO2_COLOUR]
    xs = np.asarray(line.get_xdata(), dtype=float)
    ys = np.asarray(line.get_ydata(), dtype=float)
    inside = ys[(xs > 8.05) & (xs < 8.6)]
    assert inside.size > 0
    assert np.isnan(inside).all()
    legend_box = bp.get_legend()
    assert legend_box is not None
    legend = [t.get_text() for t in legend_box.get_texts()]
    assert legend == ["systolic", "diastolic", "MAP", "link gap"]
    assert "Minutes from dose start" in bp.get_xlabel()
    assert pulse.get_ylabel() == "Pulse rate\nbpm"


def test_broken_series_has_gaps_only_where_data_is_missing(model: ReportModel) -> None:
    xs, ys = broken(model.pulse)
    gaps = [x for x, y in zip(xs, ys, strict=True) if math.isnan(y)]
    assert len(gaps) == 1
    assert 8.0 < gaps[0] < 8.7
    assert len(xs) == len(model.pulse.t_min) + 1

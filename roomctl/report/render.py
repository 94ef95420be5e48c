"""Writing a report: HTML (one self-contained file), PDF, or PNG, by the file's suffix.

- HTML: the chart as an embedded base64 PNG, the CSS inline, every table; no external
  reference of any kind, so the file can be mailed, archived or opened offline.
- PDF: ``roomctl.report.pdf``.
- PNG: the chart with the title, the safety notice and the summary lines.

A report is written to a temporary file beside the target and renamed into place, so
a failed run never leaves half a report; it is created readable by its owner only, as
the record is (it holds health data, though no patient identifier).
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl import SAFETY_NOTICE, __version__
from roomctl.report.chart import PRIORITY_COLOURS, draw_chart
from roomctl.report.pdf import write_pdf
from roomctl.report.tables import summary_lines, tables, title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from roomctl.report.model import ReportModel
    from roomctl.report.tables import Table

_PRIORITIES = frozenset(p.value for p in PRIORITY_COLOURS)

#: The report formats, by file suffix.
REPORT_SUFFIXES = (".pdf", ".html", ".png")

#: The PNG report's size: inches at ``PNG_DPI`` (1400 x 1100 pixels).
PNG_SIZE_IN = (14.0, 11.0)
PNG_DPI = 100
#: The chart embedded in the HTML report.
HTML_CHART_IN = (13.0, 8.5)
HTML_DPI = 110

_CSS = """
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 14px;
       color: #111; margin: 1.5em auto; max-width: 1500px; padding: 0 1em; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.4em; border-bottom: 1px solid #bbb; }
.notice { background: #fff4d6; border-left: 5px solid #b8860b; padding: 0.5em 0.8em;
          font-weight: bold; }
.summary p { margin: 0.25em 0; }
.ready-no { color: #8b0000; font-weight: bold; }
.ready-yes { color: #1b5e20; font-weight: bold; }
figure { margin: 1em 0; }
figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #444; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #eee; }
tr:nth-child(even) td { background: #f7f7f7; }
table.kv th { width: 22em; background: #f3f3f3; font-weight: normal; }
.empty { font-style: italic; color: #555; }
.high { color: #b71c1c; font-weight: bold; }
.medium { color: #8a6d00; font-weight: bold; }
.low { color: #00707c; font-weight: bold; }
footer { margin-top: 2em; font-size: 0.85em; color: #444; }
@media print { body { max-width: none; } h2 { break-after: avoid; } }
"""


def _new_figure(size_in: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 (matplotlib only for output)

    return Figure(figsize=size_in)


def _png_bytes(fig: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    # No "Software" text chunk: the file names nothing outside roomctl.
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def chart_png(model: ReportModel, size_in: tuple[float, float], dpi: int) -> bytes:
    """The chart alone as PNG bytes."""
    fig = _new_figure(size_in)
    draw_chart(fig, model, (0.08, 0.07, 0.94, 0.98))
    return _png_bytes(fig, dpi)


def png_report(model: ReportModel) -> bytes:
    """The PNG report: title, notice, chart and summary."""
    fig = _new_figure(PNG_SIZE_IN)
    fig.text(0.03, 0.985, title(model), fontsize=13, weight="bold", va="top")
    fig.text(0.03, 0.958, SAFETY_NOTICE, fontsize=9.5, color="#8b0000", va="top")
    draw_chart(fig, model, (0.08, 0.2, 0.94, 0.93))
    lines = summary_lines(model)[:-1]
    y = 0.145
    for index, text in enumerate(lines):
        for part in textwrap.wrap(text, 170) or [""]:
            fig.text(
                0.03,
                y,
                part,
                fontsize=9,
                va="top",
                weight="bold" if index == 1 else "normal",
            )
            y -= 0.021
    return _png_bytes(fig, PNG_DPI)


def _cell(text: str) -> str:
    """A table cell; priority words in their colour."""
    words = text.split(" > ")
    if all(word in _PRIORITIES for word in words):
        return " &gt; ".join(f'<span class="{word}">{word}</span>' for word in words)
    return html.escape(text)


def _html_table(table: Table) -> str:
    out = [f"<section><h2>{html.escape(table.title)}</h2>"]
    if not table.rows:
        out.append(f'<p class="empty">{html.escape(table.empty)}</p></section>')
        return "".join(out)
    if not table.header:
        out.append('<table class="kv">')
        for key, value in table.rows:
            out.append(
                f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
            )
        out.append("</table></section>")
        return "".join(out)
    out.append("<table><thead><tr>")
    out.extend(f"<th>{html.escape(c)}</th>" for c in table.columns)
    out.append("</tr></thead><tbody>")
    out.extend(
        "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>"
        for row in table.rows
    )
    out.append("</tbody></table></section>")
    return "".join(out)


def html_report(model: ReportModel) -> str:
    """The HTML report: one file, the chart embedded, nothing fetched from anywhere."""
    chart = base64.b64encode(chart_png(model, HTML_CHART_IN, HTML_DPI)).decode("ascii")
    lines = summary_lines(model)[:-1]
    ready = "ready-yes" if model.discharge.ready else "ready-no"
    summary = "".join(
        f'<p class="{ready}">{html.escape(text)}</p>'
        if index == 1
        else f"<p>{html.escape(text)}</p>"
        for index, text in enumerate(lines)
    )
    caption = (
        "Phases on top; alarm lanes (red high, yellow medium, cyan low; a bar while "
        "on, a triangle where raised or escalated); SpO2, pulse rate and NIBP "
        "(systolic \u25bc, diastolic \u25b2, MAP \u25cb) with the baseline dashed; "
        "rise episodes bracketed; hatched: a device link gap."
    )
    body = "".join(_html_table(t) for t in tables(model))
    heading = html.escape(title(model))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{heading}</title>"
        f'<meta name="generator" content="roomctl {__version__}">'
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>{heading}</h1>"
        f'<p class="notice">{html.escape(SAFETY_NOTICE)}</p></header>'
        f'<section class="summary">{summary}</section>'
        f'<figure><img alt="Chart of SpO2, pulse rate and NIBP for session '
        f'{html.escape(model.session.id)}" src="data:image/png;base64,{chart}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        f"{body}"
        f"<footer><p>{html.escape(SAFETY_NOTICE)}</p>"
        f"<p>roomctl {__version__}</p></footer>"
        "</body></html>\n"
    )


def _owner_only_temp(path: Path) -> Path:
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )  # mkstemp creates the file 0600
    os.close(fd)
    return Path(name)


def write_report(model: ReportModel, path: Path) -> str:
    """Write the report in the format of ``path``'s suffix; say what was written.

    Raises:
        ValueError: the suffix is not one of ``REPORT_SUFFIXES``.
        OSError: the file cannot be written.
    """
    suffix = path.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueError(
            f"{path}: a report is written as .pdf, .html or .png, "
            f"not {suffix or 'a file without a suffix'}"
        )
    temp = _owner_only_temp(path)
    try:
        if suffix == ".pdf":
            pages = write_pdf(model, temp)
            what = f"PDF, {pages} pages"
        elif suffix == ".html":
            temp.write_text(html_report(model), encoding="utf-8")
            what = "HTML"
        else:
            temp.write_bytes(png_report(model))
            what = "PNG"
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)
    state = " (in progress)" if model.in_progress else ""
    return f"wrote the {what} report of session {model.session.id}{state} to {path}"

"""The PDF report: the chart page, then the tables laid out on A4 landscape pages.

``layout`` is pure: it wraps each table's cells to column widths in characters of a
monospaced font and breaks the rows into pages (a table that runs over continues on
the next page with its title and header again; a title is never left alone at the
foot of a page). ``write_pdf`` draws the pages with matplotlib's PDF backend
(``PdfPages``), fonts embedded as TrueType (``pdf.fonttype`` 42), so the text can be
searched and copied.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl import SAFETY_NOTICE, __version__
from roomctl.report.chart import draw_chart
from roomctl.report.tables import summary_lines, tables, title

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from roomctl.report.model import ReportModel
    from roomctl.report.tables import Table

#: A4 landscape, inches.
PAGE_W_IN, PAGE_H_IN = 11.69, 8.27
#: Table text: DejaVu Sans Mono at this size, whose advance is 0.602 em.
TABLE_FONT = "DejaVu Sans Mono"
TABLE_PT = 7.5
#: Characters that fit across the page between the margins (0.5 in each side).
LINE_CHARS = int((PAGE_W_IN - 1.0) * 72 / (TABLE_PT * 0.602)) - 2
#: Lines of table text per page, between the page header and footer.
PAGE_LINES = 48
#: Blank characters between columns.
COLUMN_GAP = 2
#: The narrowest a column gets when the table is too wide.
MIN_COLUMN = 8


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a table page.

    ``kind``: ``title`` (a table's title), ``header`` (column names), ``row`` (a line
    of a row; ``first`` on a row's first line), ``text`` (a sentence), ``space``.
    """

    kind: str
    text: str
    #: The line belongs to an odd-numbered row (shaded).
    shaded: bool = False


def column_widths(table: Table, chars: int = LINE_CHARS) -> list[int]:
    """Widths (characters) that fit ``chars``: the widest columns give way first."""
    count = len(table.columns)
    natural = [
        max(
            [len(table.columns[i]) if table.header else 1]
            + [len(row[i]) for row in table.rows]
        )
        for i in range(count)
    ]
    budget = chars - COLUMN_GAP * (count - 1)
    widths = list(natural)
    while sum(widths) > budget:
        widest = max(range(count), key=lambda i: widths[i])
        if widths[widest] <= MIN_COLUMN:
            break
        widths[widest] -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True) or [""]


def _join(cells: list[list[str]], widths: list[int], index: int) -> str:
    parts = [
        (lines[index] if index < len(lines) else "").ljust(width)
        for lines, width in zip(cells, widths, strict=True)
    ]
    return (" " * COLUMN_GAP).join(parts).rstrip()


def table_lines(
    table: Table, chars: int = LINE_CHARS
) -> tuple[list[Line], list[list[Line]]]:
    """The table's header lines and its rows, each row as its wrapped lines."""
    widths = column_widths(table, chars)
    head: list[Line] = []
    if table.header:
        cells = [_wrap(c, w) for c, w in zip(table.columns, widths, strict=True)]
        height = max(len(c) for c in cells)
        head = [Line("header", _join(cells, widths, i)) for i in range(height)]
    rows = []
    for number, row in enumerate(table.rows):
        cells = [_wrap(c, w) for c, w in zip(row, widths, strict=True)]
        height = max(len(c) for c in cells)
        rows.append(
            [
                Line("row", _join(cells, widths, i), shaded=number % 2 == 1)
                for i in range(height)
            ]
        )
    return head, rows


class _Pager:
    """Fills pages of at most ``lines`` lines."""

    def __init__(self, lines: int) -> None:
        self.lines = lines
        self.pages: list[list[Line]] = []
        self.page: list[Line] = []

    def room(self) -> int:
        return self.lines - len(self.page)

    def new_page(self) -> None:
        if self.page:
            self.pages.append(self.page)
        self.page = []

    def start(self, table: Table, head: list[Line], first: list[Line]) -> None:
        """A table's title and header, with its first row on the same page."""
        if self.room() < 2 + len(head) + min(len(first), self.lines // 2):
            self.new_page()
        if self.page:
            self.page.append(Line("space", ""))
        self.page.append(Line("title", table.title))
        self.page.extend(head)

    def add(self, table: Table, head: list[Line], row: list[Line]) -> None:
        """A row: whole on the next page if it fits a fresh page, else split."""

        def continued() -> None:
            self.new_page()
            self.page.append(Line("title", f"{table.title} (continued)"))
            self.page.extend(head)

        if self.room() < len(row) <= self.lines - 1 - len(head):
            continued()
        pending = row
        while pending:
            if self.room() <= 0:
                continued()
            taken = pending[: self.room()]
            self.page.extend(taken)
            pending = pending[len(taken) :]


def layout(
    all_tables: list[Table], *, chars: int = LINE_CHARS, lines: int = PAGE_LINES
) -> list[list[Line]]:
    """The tables broken into pages of at most ``lines`` lines."""
    pager = _Pager(lines)
    for table in all_tables:
        head, rows = table_lines(table, chars)
        if not rows:
            rows = [[Line("text", table.empty)]]
        pager.start(table, head, rows[0])
        for row in rows:
            pager.add(table, head, row)
    pager.new_page()
    return pager.pages


def _page_frame(fig: Figure, model: ReportModel, number: int, total: int) -> None:
    fig.text(0.04, 0.965, title(model), fontsize=10, weight="bold", va="top")
    fig.text(0.96, 0.965, f"page {number} of {total}", fontsize=8, ha="right", va="top")
    fig.text(
        0.5,
        0.02,
        SAFETY_NOTICE,
        fontsize=8,
        ha="center",
        va="bottom",
        color="#8b0000",
    )


def _chart_page(model: ReportModel, total: int) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415 (matplotlib only for output)

    fig = Figure(figsize=(PAGE_W_IN, PAGE_H_IN))
    _page_frame(fig, model, 1, total)
    for index, text in enumerate(summary_lines(model)[:-1]):
        fig.text(
            0.04,
            0.93 - index * 0.022,
            textwrap.shorten(text, 190, placeholder=" ..."),
            fontsize=8,
            va="top",
            weight="bold" if index == 1 else "normal",
        )
    draw_chart(fig, model, (0.1, 0.11, 0.93, 0.82))
    return fig


def _table_page(
    model: ReportModel, lines: list[Line], number: int, total: int
) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    fig = Figure(figsize=(PAGE_W_IN, PAGE_H_IN))
    _page_frame(fig, model, number, total)
    top_pt, step_pt = 0.65 * 72, TABLE_PT * 1.45
    height_pt = PAGE_H_IN * 72
    left = 0.5 / PAGE_W_IN
    for index, line in enumerate(lines):
        y = 1 - (top_pt + index * step_pt) / height_pt
        if line.shaded:
            fig.patches.append(
                Rectangle(
                    (left - 0.003, y - step_pt * 0.3 / height_pt),
                    1 - 2 * left + 0.006,
                    step_pt / height_pt,
                    transform=fig.transFigure,
                    facecolor="#f0f0f0",
                    edgecolor="none",
                    zorder=0,
                )
            )
        if line.kind == "title":
            fig.text(left, y, line.text, fontsize=10, weight="bold", va="baseline")
        elif line.kind in ("header", "row"):
            fig.text(
                left,
                y,
                line.text,
                family=TABLE_FONT,
                fontsize=TABLE_PT,
                weight="bold" if line.kind == "header" else "normal",
                va="baseline",
            )
        elif line.kind == "text":
            fig.text(left, y, line.text, fontsize=8, style="italic", va="baseline")
    return fig


def page_count(model: ReportModel) -> int:
    """How many pages ``write_pdf`` makes: the chart page and the table pages."""
    return 1 + len(layout(tables(model)))


def write_pdf(model: ReportModel, path: Path) -> int:
    """Write the PDF report; return its page count."""
    import matplotlib as mpl  # noqa: PLC0415
    from matplotlib.backends.backend_pdf import PdfPages  # noqa: PLC0415

    pages = layout(tables(model))
    total = 1 + len(pages)
    metadata = {
        "Title": title(model),
        "Subject": SAFETY_NOTICE,
        "Creator": f"roomctl {__version__}",
    }
    with mpl.rc_context({"pdf.fonttype": 42}), PdfPages(path, metadata=metadata) as pdf:
        pdf.savefig(_chart_page(model, total))
        for number, lines in enumerate(pages, start=2):
            pdf.savefig(_table_page(model, lines, number, total))
    return total

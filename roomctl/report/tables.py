"""The report's words: its tables and summary lines, from the model.

Pure module. Every renderer (HTML, PDF, PNG) shows these same rows, so what a report
says does not depend on its format. Times are clock times in the report's zone with
the minutes from the reference (``09:34:00 (+24:00)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomctl import SAFETY_NOTICE

if TYPE_CHECKING:
    from roomctl.report.model import AlarmRow, EpisodeRow, LinkGap, ReportModel

#: Shown in a cell with nothing to say.
NONE = "-"


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A titled table of text cells."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Said instead of an empty table.
    empty: str = ""
    #: Whether the column names are shown (key/value tables have none).
    header: bool = True


def offset(model: ReportModel, ts: float) -> str:
    """Minutes and seconds from the reference: ``+24:00``, ``-9:00``."""
    seconds = round(ts - model.reference_ts)
    sign = "+" if seconds >= 0 else "-"
    minutes, rest = divmod(abs(seconds), 60)
    return f"{sign}{minutes}:{rest:02d}"


def when(model: ReportModel, ts: float) -> str:
    """Clock time and offset: ``09:34:00 (+24:00)``."""
    return f"{model.clock(ts)} ({offset(model, ts)})"


def duration(seconds: float) -> str:
    """A duration in words.

    >>> duration(40.2), duration(725), duration(7500)
    ('40 s', '12 min 5 s', '2 h 05 min')
    """
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, rest = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _number(value: float | None, unit: str) -> str:
    return "not known" if value is None else f"{value:g} {unit}"


def _by(by: str | None) -> str:
    return by or "system"


def session_table(model: ReportModel) -> Table:
    """What session this is and when it ran."""
    info = model.session
    start = info.started_at.timestamp()
    route = info.route.upper()
    if info.route == "iv":
        route += f", infusion {info.infusion_min:g} min"
    if model.in_progress:
        ended = f"in progress (last data {model.clock(model.end_ts)})"
    else:
        ended = model.clock(model.end_ts, "%Y-%m-%d %H:%M:%S")
    zone = model.clock(start, "%Z") or model.clock(start, "UTC%z")
    reference = f"{model.reference} at {model.clock(model.reference_ts)}"
    rows = [
        ("Session", info.id),
        ("Room", info.room),
        ("Route", route),
        ("Started", model.clock(start, "%Y-%m-%d %H:%M:%S")),
        ("Ended", ended),
        ("Duration", duration(model.duration_s)),
        ("Minutes counted from", reference),
        ("Clock times in", zone),
    ]
    if model.generated_ts is not None:
        rows.append(("Report made", model.clock(model.generated_ts, "%Y-%m-%d %H:%M")))
    return Table(title="Session", columns=("", ""), rows=tuple(rows), header=False)


def discharge_table(model: ReportModel) -> Table:
    """Discharge-ready and why not."""
    discharge = model.discharge
    judged = "when the session was closed" if discharge.at_close else "at the last data"
    rows = [
        ("Discharge-ready", "yes" if discharge.ready else "no"),
        ("Judged", f"{judged}, {when(model, discharge.judged_ts)}"),
    ]
    if discharge.earliest_ts is not None:
        rows.append(("Minimum monitoring until", when(model, discharge.earliest_ts)))
    rows.extend(("Not ready because", reason) for reason in discharge.reasons)
    if discharge.closed_reason:
        rows.append(("Closed before ready, reason", discharge.closed_reason))
    return Table(title="Discharge", columns=("", ""), rows=tuple(rows), header=False)


def baseline_table(model: ReportModel) -> Table:
    """The baseline in force and how it came about."""
    base = model.baseline
    bp = (
        "not known"
        if base.sbp is None or base.dbp is None
        else f"{base.sbp:g}/{base.dbp:g} mmHg"
    )
    status = base.status
    if base.confirmed_ts is not None:
        status += f" by {_by(base.confirmed_by)} at {when(model, base.confirmed_ts)}"
    rows = [
        ("Blood pressure", bp),
        ("Heart rate", _number(base.hr, "bpm")),
        ("SpO2", _number(base.spo2, "%")),
        ("Status", status),
    ]
    if base.overridden:
        rows.append(("Entered by hand", ", ".join(base.overridden)))
        rows.append(("Reason", base.override_reason or NONE))
    if base.missing:
        rows.append(("Missing (its relative rules were off)", ", ".join(base.missing)))
    rows.append(("Recomputed with", model.policy_source))
    if model.differences:
        note = (
            f"{model.differences} alarm transitions of this recomputation differ "
            "from the record (another policy or a restart); the alarm table "
            "shows the record"
        )
        rows.append(("Note", note))
    return Table(title="Baseline", columns=("", ""), rows=tuple(rows), header=False)


def _priority(row: AlarmRow) -> str:
    if not row.changes:
        return row.priority.value
    steps = [row.raised_priority.value, *(c.priority.value for c in row.changes)]
    return " > ".join(steps)


def _ended(model: ReportModel, row: AlarmRow) -> str:
    if row.ended is None:
        return "still on at the end"
    how = row.ended_how or "cleared"
    by = f" by {row.ended.by}" if row.ended.by else ""
    return f"{how}{by} {when(model, row.ended.ts)}"


def _lasted(model: ReportModel, row: AlarmRow) -> str:
    if row.raised_ts is None:
        return NONE
    end = model.end_ts if row.ended is None else row.ended.ts
    return duration(end - row.raised_ts)


def alarm_table(model: ReportModel) -> Table:
    """Every alarm: raised, acknowledged by whom and when, cleared."""
    rows = []
    for row in model.alarms:
        raised = (
            "before the record" if row.raised_ts is None else when(model, row.raised_ts)
        )
        text = row.text
        if row.reminders:
            text += f" ({row.reminders} reminder{'s' if row.reminders > 1 else ''})"
        acks = "; ".join(f"{_by(a.by)} {when(model, a.ts)}" for a in row.acknowledged)
        rows.append(
            (
                raised,
                row.code,
                _priority(row),
                text,
                acks or NONE,
                _ended(model, row),
                _lasted(model, row),
            )
        )
    return Table(
        title="Alarms",
        columns=(
            "Raised",
            "Code",
            "Priority",
            "Alarm",
            "Acknowledged",
            "Ended",
            "Lasted",
        ),
        rows=tuple(rows),
        empty="No alarm was raised.",
    )


def _peak(model: ReportModel, episode: EpisodeRow) -> str:
    peak = episode.peak
    if "sbp" in peak and "dbp" in peak:
        value = f"{peak['sbp']:g}/{peak['dbp']:g} mmHg"
    elif "hr" in peak:
        value = f"{peak['hr']:g} bpm"
    else:
        value = ", ".join(f"{k} {v:g}" for k, v in peak.items()) or NONE
    if episode.peak_t is None or model.reference != "dose start":
        return value
    # ``peak_t`` counts from the dose start, the reference here.
    return f"{value} at {offset(model, model.reference_ts + episode.peak_t)}"


def episode_table(model: ReportModel) -> Table:
    """The transient BP and HR rise episodes."""
    rows = tuple(
        (
            when(model, e.opened_ts),
            e.signal.upper(),
            _peak(model, e),
            NONE if e.closed_ts is None else when(model, e.closed_ts),
            e.text,
        )
        for e in model.episodes
    )
    return Table(
        title="Rise episodes",
        columns=("Opened", "Signal", "Peak", "Closed", "Summary"),
        rows=rows,
        empty="No BP or HR rise episode.",
    )


def phase_table(model: ReportModel) -> Table:
    """The phases: who moved the session on, and when."""
    rows = tuple(
        (
            band.phase.value,
            when(model, band.start_ts),
            "session opened" if band.by is None else band.by,
            duration(band.end_ts - band.start_ts),
        )
        for band in model.phases
    )
    return Table(title="Phases", columns=("Phase", "From", "By", "Lasted"), rows=rows)


def note_table(model: ReportModel) -> Table:
    """The notes."""
    rows = tuple((when(model, n.ts), _by(n.by), n.text) for n in model.notes)
    return Table(
        title="Notes", columns=("When", "By", "Note"), rows=rows, empty="No notes."
    )


def command_table(model: ReportModel) -> Table:
    """Every operator command and its outcome."""
    rows = []
    for c in model.commands:
        if c.ok is None:
            outcome = "no outcome recorded"
        elif c.ok:
            outcome = "done"
        else:
            outcome = f"refused: {c.error}" if c.error else "refused"
        rows.append(
            (
                when(model, c.ts),
                c.verb,
                c.details or NONE,
                _by(c.by),
                c.source or NONE,
                outcome,
            )
        )
    return Table(
        title="Operator commands",
        columns=("When", "Command", "Details", "By", "From", "Outcome"),
        rows=tuple(rows),
        empty="No operator commands.",
    )


def _gap_states(gap: LinkGap) -> str:
    text = ", then ".join(gap.states)
    return f"{text} ({gap.reason})" if gap.reason else text


def gap_table(model: ReportModel) -> Table:
    """Device link gaps: lost or stale until up, with durations."""
    rows = tuple(
        (
            gap.device,
            _gap_states(gap),
            when(model, gap.start_ts),
            "not back by the end" if gap.end_ts is None else when(model, gap.end_ts),
            duration(gap.duration_s(model.end_ts)),
        )
        for gap in model.gaps
    )
    return Table(
        title="Device link gaps",
        columns=("Device", "What happened", "From", "Back", "Lasted"),
        rows=rows,
        empty="Every device link stayed up.",
    )


def music_table(model: ReportModel) -> Table:
    """The music played."""
    rows = tuple(
        (
            when(model, m.ts),
            m.phase,
            m.title,
            "heard before (everything had been heard)" if m.repeat else NONE,
        )
        for m in model.music
    )
    return Table(
        title="Music played",
        columns=("When", "Phase", "Track", "Note"),
        rows=rows,
        empty="No music was played.",
    )


def tables(model: ReportModel) -> list[Table]:
    """Every table of the report, in reading order."""
    return [
        session_table(model),
        discharge_table(model),
        baseline_table(model),
        alarm_table(model),
        episode_table(model),
        phase_table(model),
        note_table(model),
        command_table(model),
        gap_table(model),
        music_table(model),
    ]


def title(model: ReportModel) -> str:
    """The report's title."""
    info = model.session
    day = model.clock(info.started_at.timestamp(), "%Y-%m-%d")
    state = " (in progress)" if model.in_progress else ""
    return f"Session report {info.id}: room {info.room}, {day}{state}"


def summary_lines(model: ReportModel) -> list[str]:
    """A few lines that say the most (the PNG's text, the top of every format)."""
    info = model.session
    start = info.started_at.timestamp()
    end = model.clock(model.end_ts)
    if model.in_progress:
        end += " (the last data; in progress)"
    span = f"{model.clock(start)} to {end}, {duration(model.duration_s)}"
    discharge = model.discharge
    ready = "Discharge-ready: yes" if discharge.ready else "Discharge-ready: no"
    if discharge.reasons:
        ready += " - " + " ".join(discharge.reasons)
    base = model.baseline
    bp = (
        "not known"
        if base.sbp is None or base.dbp is None
        else f"{base.sbp:g}/{base.dbp:g} mmHg"
    )
    counts = dict.fromkeys(("high", "medium", "low"), 0)
    for row in model.alarms:
        counts[row.priority.value] += 1
    alarms = ", ".join(f"{n} {p}" for p, n in counts.items())
    still = sum(1 for row in model.alarms if row.ended is None)
    baseline = (
        f"Baseline ({base.status}): BP {bp}, HR {_number(base.hr, 'bpm')}, "
        f"SpO2 {_number(base.spo2, '%')}."
    )
    counted = (
        f"Alarms: {alarms}"
        + (f"; {still} still on at the end." if still else ".")
        + f" Rise episodes: {len(model.episodes)}. Link gaps: {len(model.gaps)}."
        + f" Notes: {len(model.notes)}. Tracks played: {len(model.music)}."
    )
    return [
        f"Route {info.route.upper()}; {span}; minutes from {model.reference}.",
        ready,
        baseline,
        counted,
        SAFETY_NOTICE,
    ]

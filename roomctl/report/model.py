"""The session report as data: series, bands, alarm rows, gaps, tables' contents.

Pure module: ``build_report`` turns a recorded session (``roomctl.history``) into a
``ReportModel`` of frozen values; the renderers (``roomctl.report.render``) only lay
it out. Times are kept as epoch seconds (``*_ts``) and as minutes from the report's
reference (``t_min``): the dose start, or the session start when there was no dose.

Alarm rows follow each alarm code through its transitions: ``raised`` opens a row;
every later transition of the same code (escalated, acknowledged, reminded, cleared,
reset) belongs to the latest row of that code, so an acknowledgement that comes after
a BP card cleared still lands on its row. A link gap runs from a device's ``lost`` or
``stale`` to its next ``up``; a daemon restart (a resumed session) is a gap of the
whole room. The baseline and discharge-ready come from the engine run again over the
record (``roomctl.report.recompute``).

The report never carries a patient identifier: nothing here reads one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from roomctl.events import AlarmPriority, Phase
from roomctl.readings import LinkState, Metric
from roomctl.report.recompute import link_state_of, nibp_of, recompute

if TYPE_CHECKING:
    from collections.abc import Mapping

    from roomctl.alarms import AlarmPolicy
    from roomctl.history import RecordedEvent, SessionHistory, SessionInfo

#: The device name of a gap in the whole record (the daemon was not running).
DAEMON = "roomctl"


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _priority(value: object) -> AlarmPriority:
    try:
        return AlarmPriority(str(value))
    except ValueError:
        return AlarmPriority.LOW


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One continuous signal: its samples, ``None`` where it was not valid."""

    label: str
    unit: str
    t_min: tuple[float, ...]
    values: tuple[float | None, ...]

    @property
    def valid(self) -> list[float]:
        """The valid values."""
        return [v for v in self.values if v is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class NibpPoint:
    """One NIBP determination."""

    ts: float
    t_min: float
    sbp: float | None
    dbp: float | None
    map: float | None
    #: ``ok``, or why there are no numbers (``device_error`` ...).
    status: str
    error_text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseBand:
    """A phase and how long it lasted."""

    phase: Phase
    start_ts: float
    end_ts: float
    #: Who moved the session into it; ``None`` for the opening phase.
    by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamp:
    """Something that happened at a time, by someone (``None``: by the system)."""

    ts: float
    by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorityChange:
    """An escalation or de-escalation of an alarm."""

    ts: float
    priority: AlarmPriority
    transition: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmRow:
    """One occurrence of an alarm, from raised to cleared or reset."""

    code: str
    kind: str
    #: The priority it was raised at.
    raised_priority: AlarmPriority
    #: The highest priority it reached.
    priority: AlarmPriority
    #: ``None``: its ``raised`` is not in the record (raised before a restart).
    raised_ts: float | None
    #: The text, value and limit when raised (or first seen).
    text: str
    value: str
    limit: str
    changes: tuple[PriorityChange, ...] = ()
    acknowledged: tuple[Stamp, ...] = ()
    reminders: int = 0
    #: When it ended, and how (``cleared`` or ``reset``); ``None``: still on at the end.
    ended: Stamp | None = None
    ended_how: str | None = None

    def segments(self, end_ts: float) -> list[tuple[float, float, AlarmPriority]]:
        """``(start_ts, end_ts, priority)`` pieces, for the chart's alarm lanes."""
        start = self.raised_ts
        if start is None:
            start = self.changes[0].ts if self.changes else end_ts
        stop = end_ts if self.ended is None else self.ended.ts
        pieces = []
        priority = self.raised_priority
        for change in self.changes:
            pieces.append((start, change.ts, priority))
            start, priority = change.ts, change.priority
        pieces.append((start, stop, priority))
        # A change at the raise (or a raise before the record) leaves an empty piece.
        lasting = [(a, b, p) for a, b, p in pieces if b > a]
        return lasting or pieces[-1:]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlarmMark:
    """A point on the chart where an alarm was raised or escalated."""

    ts: float
    code: str
    priority: AlarmPriority
    kind: str
    transition: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeRow:
    """A transient BP or HR rise episode."""

    episode_id: int
    signal: str
    opened_ts: float
    closed_ts: float | None
    baseline: Mapping[str, float]
    peak: Mapping[str, float]
    #: Seconds from dose start to the peak.
    peak_t: float | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteRow:
    """A note written into the session."""

    ts: float
    by: str | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRow:
    """An operator command and what came of it."""

    ts: float
    verb: str
    #: The command's fields in words (``phase=peak``).
    details: str
    by: str | None
    source: str
    #: ``None``: no outcome in the record.
    ok: bool | None
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkGap:
    """A device without a live link, from ``lost`` or ``stale`` to ``up``."""

    device: str
    start_ts: float
    #: ``None``: not back by the end of the record.
    end_ts: float | None
    #: The states seen in the gap, in order (``lost``, ``stale``).
    states: tuple[str, ...]
    reason: str = ""

    def duration_s(self, record_end_ts: float) -> float:
        """The gap's length (to the end of the record when it never closed)."""
        end = self.end_ts if self.end_ts is not None else record_end_ts
        return max(0.0, end - self.start_ts)


@dataclass(frozen=True, slots=True, kw_only=True)
class MusicRow:
    """A track that became audible."""

    ts: float
    title: str
    phase: str
    #: Played although this patient heard it before (everything had been heard).
    repeat: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """The session baseline in force, as the engine has it at the end."""

    sbp: float | None
    dbp: float | None
    hr: float | None
    spo2: float | None
    #: ``unconfirmed``, ``confirmed`` or ``overridden``.
    status: str
    confirmed_by: str | None
    confirmed_ts: float | None
    overridden: tuple[str, ...]
    override_reason: str | None
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Discharge:
    """Discharge-ready, with the reasons it is not."""

    ready: bool
    reasons: tuple[str, ...]
    #: When it was judged: at the close, or at the last data.
    judged_ts: float
    at_close: bool
    #: Earliest discharge the minimum monitoring allows; ``None`` before the dose.
    earliest_ts: float | None
    #: The reason given when the session was closed before it was ready.
    closed_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportModel:
    """Everything one session's report shows."""

    session: SessionInfo
    #: The session has no end yet (it may still be running).
    in_progress: bool
    #: The time the report's charts and tables end at.
    end_ts: float
    #: t = 0 of ``t_min``: ``dose start`` or ``session start``.
    reference: str
    reference_ts: float
    spo2: Series
    pulse: Series
    nibp: tuple[NibpPoint, ...]
    phases: tuple[PhaseBand, ...]
    alarms: tuple[AlarmRow, ...]
    marks: tuple[AlarmMark, ...]
    episodes: tuple[EpisodeRow, ...]
    notes: tuple[NoteRow, ...]
    commands: tuple[CommandRow, ...]
    gaps: tuple[LinkGap, ...]
    music: tuple[MusicRow, ...]
    baseline: Baseline
    discharge: Discharge
    #: Which alarm policy judged the baseline and discharge, in words.
    policy_source: str
    #: Alarm transitions where the engine's run differs from the record.
    differences: int
    #: Time zone for clock times.
    tz: tzinfo = UTC
    #: When the report was made; ``None``: not shown.
    generated_ts: float | None = None

    @property
    def duration_s(self) -> float:
        """From the session's start to its end (or its last data)."""
        return max(0.0, self.end_ts - self.session.started_at.timestamp())

    def t_min(self, ts: float) -> float:
        """Minutes from the reference."""
        return (ts - self.reference_ts) / 60.0

    def clock(self, ts: float, fmt: str = "%H:%M:%S") -> str:
        """A clock time in the report's zone."""
        return _dt(ts).astimezone(self.tz).strftime(fmt)


# ------------------------------------------------------------------ building


def _series(
    history: SessionHistory, metric: Metric, reference_ts: float, label: str, unit: str
) -> Series:
    rows = [r for r in history.readings if r.metric == metric.value]
    return Series(
        label=label,
        unit=unit,
        t_min=tuple((r.ts - reference_ts) / 60.0 for r in rows),
        values=tuple(r.value if r.status == "ok" else None for r in rows),
    )


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _nibp(history: SessionHistory, reference_ts: float) -> tuple[NibpPoint, ...]:
    points = []
    for event in history.events_of("reading"):
        fields = nibp_of(event)
        if fields is None:
            continue
        points.append(
            NibpPoint(
                ts=event.ts,
                t_min=(event.ts - reference_ts) / 60.0,
                sbp=_float(fields.get("systolic_mmhg")),
                dbp=_float(fields.get("diastolic_mmhg")),
                map=_float(fields.get("map_mmhg")),
                status=_text(fields.get("status")),
                error_text=_text(fields.get("error_text")),
            )
        )
    return tuple(points)


def _phases(history: SessionHistory, end_ts: float) -> tuple[PhaseBand, ...]:
    starts: list[tuple[Phase, float, str | None]] = [
        (Phase.PREPARATION, history.info.started_at.timestamp(), None)
    ]
    for event in history.events_of("phase"):
        try:
            phase = Phase(str(event.payload.get("phase")))
        except ValueError:
            continue
        starts.append((phase, event.ts, event.by_role))
    bands = []
    for index, (phase, start, by) in enumerate(starts):
        stop = starts[index + 1][1] if index + 1 < len(starts) else end_ts
        bands.append(PhaseBand(phase=phase, start_ts=start, end_ts=stop, by=by))
    return tuple(bands)


@dataclass(slots=True)
class _OpenAlarm:
    code: str
    kind: str
    raised_priority: AlarmPriority
    priority: AlarmPriority
    raised_ts: float | None
    text: str
    value: str
    limit: str
    changes: list[PriorityChange] = field(default_factory=list)
    acknowledged: list[Stamp] = field(default_factory=list)
    reminders: int = 0
    ended: Stamp | None = None
    ended_how: str | None = None

    def row(self) -> AlarmRow:
        return AlarmRow(
            code=self.code,
            kind=self.kind,
            raised_priority=self.raised_priority,
            priority=self.priority,
            raised_ts=self.raised_ts,
            text=self.text,
            value=self.value,
            limit=self.limit,
            changes=tuple(self.changes),
            acknowledged=tuple(self.acknowledged),
            reminders=self.reminders,
            ended=self.ended,
            ended_how=self.ended_how,
        )


def _follow(row: _OpenAlarm, event: RecordedEvent, priority: AlarmPriority) -> None:
    transition = str(event.payload.get("transition"))
    if transition in ("escalated", "deescalated"):
        row.changes.append(
            PriorityChange(ts=event.ts, priority=priority, transition=transition)
        )
        if priority.rank > row.priority.rank:
            row.priority = priority
    elif transition == "acknowledged":
        row.acknowledged.append(Stamp(ts=event.ts, by=event.by_role))
    elif transition == "reminded":
        row.reminders += 1
    elif transition in ("cleared", "reset"):
        row.ended = Stamp(ts=event.ts, by=event.by_role)
        row.ended_how = transition


def _alarms(
    history: SessionHistory,
) -> tuple[tuple[AlarmRow, ...], tuple[AlarmMark, ...]]:
    rows: list[_OpenAlarm] = []
    latest: dict[str, _OpenAlarm] = {}
    marks: list[AlarmMark] = []
    for event in history.events_of("alarm"):
        payload = event.payload
        code = _text(payload.get("code") or event.code)
        transition = _text(payload.get("transition"))
        priority = _priority(payload.get("priority"))
        kind = _text(payload.get("kind"))
        row = latest.get(code)
        if transition == "raised" or row is None:
            row = _OpenAlarm(
                code=code,
                kind=kind,
                raised_priority=priority,
                priority=priority,
                raised_ts=event.ts if transition == "raised" else None,
                text=_text(payload.get("text")),
                value=_text(payload.get("value")),
                limit=_text(payload.get("limit")),
            )
            rows.append(row)
            latest[code] = row
        if transition in ("raised", "escalated"):
            marks.append(
                AlarmMark(
                    ts=event.ts,
                    code=code,
                    priority=priority,
                    kind=kind,
                    transition=transition,
                )
            )
        if transition != "raised":
            _follow(row, event, priority)
    return tuple(r.row() for r in rows), tuple(marks)


def _mapping(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if _float(v) is not None}


def _episodes(history: SessionHistory) -> tuple[EpisodeRow, ...]:
    found: dict[int, EpisodeRow] = {}
    for event in history.events_of("episode"):
        payload = event.payload
        raw_id = payload.get("episode_id")
        episode_id = raw_id if isinstance(raw_id, int) else len(found) + 1
        known = found.get(episode_id)
        transition = payload.get("transition")
        found[episode_id] = EpisodeRow(
            episode_id=episode_id,
            signal=_text(payload.get("signal")),
            opened_ts=event.ts if known is None else known.opened_ts,
            closed_ts=event.ts if transition == "closed" else None,
            baseline=_mapping(payload.get("baseline")),
            peak=_mapping(payload.get("peak")),
            peak_t=_float(payload.get("peak_t")),
            text=_text(payload.get("text")),
        )
    return tuple(found.values())


def _details(args: object) -> str:
    if not isinstance(args, dict) or not args:
        return ""
    return ", ".join(f"{k}={v}" for k, v in args.items())


def _commands(history: SessionHistory) -> tuple[CommandRow, ...]:
    outcomes: dict[str, RecordedEvent] = {}
    unnamed: list[RecordedEvent] = []
    for event in history.events_of("command_result"):
        command_id = _text(event.payload.get("command_id"))
        if command_id:
            outcomes.setdefault(command_id, event)
        else:
            unnamed.append(event)
    rows = []
    for event in history.events_of("command"):
        payload = event.payload
        verb = _text(payload.get("verb") or event.code)
        command_id = _text(payload.get("command_id"))
        outcome = outcomes.pop(command_id, None) if command_id else None
        if outcome is None and not command_id:
            # No id to match by: the first unmatched outcome of the verb after it.
            outcome = next(
                (
                    e
                    for e in unnamed
                    if e.ts >= event.ts and e.payload.get("verb") == verb
                ),
                None,
            )
            if outcome is not None:
                unnamed.remove(outcome)
        ok = None if outcome is None else bool(outcome.payload.get("ok"))
        rows.append(
            CommandRow(
                ts=event.ts,
                verb=verb,
                details=_details(payload.get("args")),
                by=event.by_role,
                source=_text(payload.get("source")),
                ok=ok,
                error="" if outcome is None else _text(outcome.payload.get("error")),
            )
        )
    return tuple(rows)


def _row_times(history: SessionHistory) -> list[float]:
    return sorted([r.ts for r in history.readings] + [e.ts for e in history.events])


def _gaps(history: SessionHistory) -> tuple[LinkGap, ...]:
    gaps: list[LinkGap] = []
    open_gaps: dict[str, LinkGap] = {}
    times: list[float] | None = None
    for event in history.events:
        if event.type == "session" and event.payload.get("resumed") is True:
            if times is None:
                times = _row_times(history)
            before = bisect.bisect_left(times, event.ts)
            start = times[before - 1] if before > 0 else event.ts
            gaps.append(
                LinkGap(
                    device=DAEMON,
                    start_ts=start,
                    end_ts=event.ts,
                    states=("not running",),
                    reason="roomctl was not running; the session resumed",
                )
            )
            continue
        if event.type != "link":
            continue
        device = _text(event.payload.get("device"))
        state = link_state_of(event.payload)
        gap = open_gaps.get(device)
        if state is LinkState.UP:
            if gap is not None:
                gaps.append(_closed(gap, event.ts))
                del open_gaps[device]
            continue
        reason = _text(event.payload.get("reason"))
        if gap is None:
            open_gaps[device] = LinkGap(
                device=device,
                start_ts=event.ts,
                end_ts=None,
                states=(state.value,),
                reason=reason,
            )
        elif gap.states[-1] != state.value:
            open_gaps[device] = LinkGap(
                device=device,
                start_ts=gap.start_ts,
                end_ts=None,
                states=(*gap.states, state.value),
                reason=gap.reason or reason,
            )
    gaps.extend(open_gaps.values())
    return tuple(sorted(gaps, key=lambda g: (g.start_ts, g.device)))


def _closed(gap: LinkGap, end_ts: float) -> LinkGap:
    return LinkGap(
        device=gap.device,
        start_ts=gap.start_ts,
        end_ts=end_ts,
        states=gap.states,
        reason=gap.reason,
    )


def _closed_reason(
    commands: tuple[CommandRow, ...], history: SessionHistory
) -> str | None:
    for event in history.events_of("command"):
        args = event.payload.get("args")
        if (
            isinstance(args, dict)
            and args.get("phase") == Phase.CLOSED.value
            and args.get("reason")
        ):
            accepted = any(
                c.ts == event.ts and c.verb == "phase" and c.ok for c in commands
            )
            if accepted:
                return str(args["reason"])
    return None


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def build_report(
    history: SessionHistory,
    *,
    policy: AlarmPolicy | None = None,
    policy_source: str = "the default alarm policy",
    devices: Mapping[str, str] | None = None,
    tz: tzinfo = UTC,
    generated_at: datetime | None = None,
) -> ReportModel:
    """The report of one recorded session.

    Args:
        history: the session, from ``roomctl.history.load_session``.
        policy: the alarm policy to recompute the baseline and discharge with.
        policy_source: that policy in words, for the report.
        devices: device name -> category (``oximeter``, ``nibp``); worked out from
            the record when ``None``.
        tz: the zone clock times are shown in.
        generated_at: when the report is made (shown on it).
    """
    info = history.info
    started_ts = info.started_at.timestamp()
    times = [r.ts for r in history.readings[-1:]] + [e.ts for e in history.events[-1:]]
    last_ts = max([started_ts, *times])
    in_progress = info.ended_at is None
    end_ts = (
        last_ts if info.ended_at is None else max(last_ts, info.ended_at.timestamp())
    )
    dose_ts = history.dose_start_ts
    reference_ts = started_ts if dose_ts is None else dose_ts
    rerun = recompute(history, policy=policy, devices=devices)
    state = rerun.state
    epoch = started_ts
    alarms, marks = _alarms(history)
    commands = _commands(history)
    base = state.baseline
    return ReportModel(
        session=info,
        in_progress=in_progress,
        end_ts=end_ts,
        reference="session start" if dose_ts is None else "dose start",
        reference_ts=reference_ts,
        spo2=_series(history, Metric.SPO2_PERCENT, reference_ts, "SpO2", "%"),
        pulse=_series(
            history, Metric.PULSE_RATE_BPM, reference_ts, "Pulse rate", "bpm"
        ),
        nibp=_nibp(history, reference_ts),
        phases=_phases(history, end_ts),
        alarms=alarms,
        marks=marks,
        episodes=_episodes(history),
        notes=tuple(
            NoteRow(ts=e.ts, by=e.by_role, text=_text(e.payload.get("text")))
            for e in history.events_of("note")
        ),
        commands=commands,
        gaps=_gaps(history),
        music=tuple(
            MusicRow(
                ts=e.ts,
                title=_text(e.payload.get("title")),
                phase=_text(e.payload.get("phase")),
                repeat=e.payload.get("repeat") is True,
            )
            for e in history.events_of("music")
        ),
        baseline=Baseline(
            sbp=base.values.sbp_mmhg,
            dbp=base.values.dbp_mmhg,
            hr=base.values.hr_bpm,
            spo2=base.values.spo2_percent,
            status=base.status.value,
            confirmed_by=None if base.confirmed_by is None else base.confirmed_by.value,
            confirmed_ts=_ts(base.confirmed_at),
            overridden=base.overridden,
            override_reason=base.override_reason,
            missing=base.missing,
        ),
        discharge=Discharge(
            ready=state.discharge.ready,
            reasons=state.discharge.reasons,
            judged_ts=epoch + state.now_mono,
            at_close=rerun.at_close,
            earliest_ts=_ts(state.discharge.earliest_at),
            closed_reason=_closed_reason(commands, history),
        ),
        policy_source=policy_source,
        differences=rerun.differences,
        tz=tz,
        generated_ts=_ts(generated_at),
    )
